output "name" {
  description = "Prometheus container name."
  value       = module.container.names[0]
}

output "url" {
  description = "Prometheus UI and API on the host."
  value       = "http://${var.common.bind_ip}:${var.prometheus.port}"
}

output "internal_url" {
  description = "Prometheus on the dash network, for the dashboard's charts."
  value       = "http://${module.container.hostnames[0]}:${local.port}"
}
