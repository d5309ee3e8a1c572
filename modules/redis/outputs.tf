output "name" {
  description = "Container name of the first Redis instance (alone, the one; with HA, the primary of a new environment); on swarm, the Redis service's name."
  value       = local.host
}

output "names" {
  description = "Container names of the Redis instances."
  value       = module.container.names
}

output "sentinel_names" {
  description = "Container names of the Sentinels (empty without HA)."
  value       = flatten(module.sentinel[*].names)
}

output "address" {
  description = "host:port clients use on the data network (null with HA: clients ask the Sentinels, see connection)."
  value       = local.ha ? null : "${local.host}:6379"
}

output "connection" {
  description = "How a client reaches the primary, as modules/container's app.redis takes it (add username and password): address, or sentinels (host:port), master (its name there) and sentinel_password."
  value = local.ha ? {
    address           = null
    sentinels         = [for n in flatten(module.sentinel[*].names) : "${n}:${local.sentinel_port}"]
    master            = local.master
    sentinel_password = var.passwords.sentinels
    } : {
    address           = "${local.host}:6379"
    sentinels         = []
    master            = null
    sentinel_password = null
  }
  sensitive = true
}

output "service" {
  description = "The Redis Swarm service (target swarm), else null."
  value       = module.container.service
}

output "volume" {
  description = "Name of the first instance's data volume (kept by `make down`)."
  value       = docker_volume.data.name
}

output "volumes" {
  description = "Names of every instance's data volume (kept by `make down`)."
  value       = concat([docker_volume.data.name], docker_volume.replica_data[*].name)
}
