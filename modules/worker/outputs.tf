output "names" {
  description = "Worker container names, replica 1 first."
  value       = module.container.names
}

output "metrics_targets" {
  description = "Each container's /metrics on the data network, for Prometheus: instance (name:port) => address (the same)."
  value       = { for n in module.container.names : "${n}:${local.port}" => "${n}:${local.port}" }
}
