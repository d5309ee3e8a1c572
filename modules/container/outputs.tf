output "names" {
  description = "Container names, replica 1 first (none for a Swarm service: see service)."
  value       = docker_container.this[*].name
}

output "ids" {
  description = "Container IDs, replica 1 first."
  value       = docker_container.this[*].id
}

output "env" {
  description = "Each container's environment as configured: container name => sorted list of NAME=value; for a Swarm service, its name => its tasks' (sensitive: it carries passwords)."
  value = merge({ for c in docker_container.this : c.name => sort(c.env) },
  { for s in docker_service.this : s.name => sort([for k, v in(s.task_spec[0].container_spec[0].env == null ? tomap({}) : s.task_spec[0].container_spec[0].env) : "${k}=${v}"]) })
  sensitive = true
}

output "service" {
  description = "Name of the Swarm service that runs the role (target swarm, roles api, worker, redis, sentinel); null for containers."
  value       = one(docker_service.this[*].name)
}

output "networks" {
  description = "Networks each container joins as configured: container name => network name => { aliases, ipv4_address } (null address: Docker assigns one)."
  value = { for c in docker_container.this : c.name => {
    for n in c.networks_advanced : n.name => { aliases = sort(n.aliases), ipv4_address = n.ipv4_address }
  } }
}

output "hostnames" {
  description = "The names the containers will have, known at plan time: a container that must reach these by name (e.g. the dashboard asking Prometheus for its charts) can be configured without waiting for them, so two containers may name each other."
  value       = local.names
}

output "secrets" {
  description = "Each container's secret files as configured: container name => path => mode (root's files; the content stays in the state only)."
  value = { for n in local.names : n => {
    for k in local.secret_names : "${local.secrets_dir}/${k}" => local.secret_modes[k]
  } }
}
