output "names" {
  description = "API container names, replica 1 first."
  value       = module.container.names
}

output "upstreams" {
  description = "Each replica's name and pinned address:port on the app network, for the load balancer; on swarm one entry, the service's name and name:port (its tasks' addresses by DNS round robin)."
  value = [for i, n in(local.swarm ? [module.container.service] : module.container.names) :
    { name = n, address = "${local.swarm ? n : local.addresses[i]}:${local.port}" }
  ]
}

output "service" {
  description = "The API's Swarm service (target swarm), else null."
  value       = module.container.service
}

output "metrics_dns" {
  description = "On swarm, the DNS name:port of every API task's /metrics (tasks.<service>), for Prometheus's DNS discovery; else null."
  value       = local.swarm ? "tasks.${module.container.service}:${local.port}" : null
}

output "metrics_targets" {
  description = "Each container's /metrics for Prometheus: instance (name:port) => its pinned address:port on the app network, the only one the API listens on."
  value       = { for i, n in module.container.names : "${n}:${local.port}" => "${local.addresses[i]}:${local.port}" }
}
