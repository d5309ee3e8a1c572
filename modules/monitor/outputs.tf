output "name" {
  description = "Monitor container name."
  value       = module.container.names[0]
}

output "url" {
  description = "Dashboard URL on the host."
  value       = "http://${var.app.bind_ip}:${var.monitor.port}/"
}

output "metrics_targets" {
  description = "Each container's /metrics as host:port on the dash network, for Prometheus."
  value       = [for n in module.container.names : "${n}:${local.port}"]
}
