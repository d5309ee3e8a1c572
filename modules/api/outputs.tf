output "names" {
  description = "API container names, replica 1 first."
  value       = module.container.names
}

output "upstreams" {
  description = "Each replica's name and pinned address:port on the app network, for the load balancer."
  value       = [for i, n in module.container.names : { name = n, address = "${local.addresses[i]}:${local.port}" }]
}

output "metrics_targets" {
  description = "Each container's /metrics as host:port on the data network, for Prometheus."
  value       = [for n in module.container.names : "${n}:${local.port}"]
}
