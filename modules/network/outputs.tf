output "edge" {
  description = "Name of the edge network (published side of nginx and the monitor)."
  value       = docker_network.this["edge"].name
}

output "app" {
  description = "Name of the internal app network (nginx <-> API)."
  value       = docker_network.this["app"].name
}

output "data" {
  description = "Name of the internal data network (API, worker, monitor <-> Redis)."
  value       = docker_network.this["data"].name
}

output "app_subnet" {
  description = "Subnet of the app network, for pinning API addresses."
  value       = var.app_subnet
}
