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
  description = "How a client reaches the primary, by the client's network (data or dash), as modules/container's app.redis takes it (add username, password and sentinel_password): address, or sentinels (host:port), master (its name there) and hosts (the instances' and Sentinels' names => addresses on that network, for /etc/hosts)."
  value = { for net in ["data", "dash"] : net => local.ha ? {
    address   = null
    sentinels = [for n in flatten(module.sentinel[*].names) : "${n}:${local.sentinel_port}"]
    master    = local.master
    hosts     = local.hosts[net]
    } : {
    address   = "${local.host}:6379"
    sentinels = []
    master    = null
    hosts     = {}
  } }
}

output "sentinel_password" {
  description = "The Sentinels' password, which clients log in to them with (null without HA)."
  value       = local.ha ? var.passwords.sentinels : null
  sensitive   = true
}

output "service" {
  description = "The Redis Swarm service (target swarm), else null."
  value       = module.container.service
}

output "volume" {
  description = "Name of the first instance's data volume (kept by `make down`)."
  value       = docker_volume.data[0].name
}

output "volumes" {
  description = "Names of every instance's data volume (kept by `make down`)."
  value       = docker_volume.data[*].name
}
