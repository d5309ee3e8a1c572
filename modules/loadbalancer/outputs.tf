output "name" {
  description = "nginx container name."
  value       = module.container.names[0]
}

output "endpoint" {
  description = "URL clients use on the host."
  value       = "http://${var.common.bind_ip}:${var.loadbalancer.port}"
}

output "config" {
  description = "The rendered nginx.conf (for review and tests)."
  value       = local.config
}
