output "name" {
  description = "Monitor container name."
  value       = module.container.names[0]
}

output "url" {
  description = "Dashboard URL on the host."
  value       = "http://${var.app.bind_ip}:${var.monitor.port}/"
}
