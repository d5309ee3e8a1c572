output "names" {
  description = "API container names, replica 1 first."
  value       = module.container.names
}

output "upstreams" {
  description = "Each replica's name and pinned address:port on the app network, for the load balancer."
  value       = [for i, n in module.container.names : { name = n, address = "${local.addresses[i]}:${local.port}" }]
}

output "metrics_targets" {
  description = "Each container's /metrics for Prometheus: instance (name:port) => its pinned address:port on the app network, the only one the API listens on."
  value       = { for i, n in module.container.names : "${n}:${local.port}" => "${local.addresses[i]}:${local.port}" }
}
