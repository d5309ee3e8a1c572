output "name" {
  description = "Redis container name."
  value       = module.container.names[0]
}

output "address" {
  description = "host:port clients use on the data network."
  value       = "${module.container.names[0]}:6379"
}

output "volume" {
  description = "Name of the data volume (kept by `make down`)."
  value       = docker_volume.data.name
}
