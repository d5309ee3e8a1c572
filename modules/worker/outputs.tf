output "names" {
  description = "Worker container names, replica 1 first."
  value       = module.container.names
}

output "metrics_targets" {
  description = "Each container's /metrics as host:port on the data network, for Prometheus."
  value       = [for n in module.container.names : "${n}:${local.port}"]
}
