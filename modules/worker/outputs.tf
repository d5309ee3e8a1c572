output "names" {
  description = "Worker container names, replica 1 first."
  value       = module.container.names
}

output "service" {
  description = "The workers' Swarm service (target swarm), else null."
  value       = module.container.service
}

output "metrics_dns" {
  description = "On swarm, the DNS name:port of every worker task's /metrics (tasks.<service>), for Prometheus's DNS discovery; else null."
  value       = module.container.service == null ? null : "tasks.${module.container.service}:${local.port}"
}

output "metrics_targets" {
  description = "Each container's /metrics on the data network, for Prometheus: instance (name:port) => address (the same)."
  value       = { for n in module.container.names : "${n}:${local.port}" => "${n}:${local.port}" }
}
