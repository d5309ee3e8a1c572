output "edge" {
  description = "Name of the edge network (published side of nginx and the monitor)."
  value       = docker_network.this["edge"].name
}

output "app" {
  description = "Name of the internal app network (nginx <-> API)."
  value       = docker_network.this["app"].name
}

output "data" {
  description = "Name of the internal data network (API, worker <-> Redis; Prometheus scrapes them there)."
  value       = docker_network.this["data"].name
}

output "dash" {
  description = "Name of the internal dashboard network (the dashboard <-> Redis; Prometheus scrapes the dashboard there)."
  value       = docker_network.this["dash"].name
}

output "ids" {
  description = "Network IDs by name: a Swarm service names its networks by ID (the provider reads them back so)."
  value       = { for n in docker_network.this : n.name => n.id }
}

output "overlay" {
  description = "Whether the internal networks are Swarm overlays (target swarm)."
  value       = local.swarm
}

output "app_subnet" {
  description = "Subnet of the app network, for pinning API addresses."
  value       = local.subnets.app
}

output "subnets" {
  description = "Subnet of each internal network (app, data, dash), for pinning addresses."
  value       = local.subnets
}
