output "environment" {
  description = "Environment (= workspace) this state describes."
  value       = var.environment
}

output "endpoint" {
  description = "nginx URL clients send requests to."
  value       = module.loadbalancer.endpoint
}

output "monitor_url" {
  description = "Dashboard URL (basic auth: monitor_user / monitor_password)."
  value       = module.monitor.url
}

output "prometheus_url" {
  description = "Prometheus UI and API (alerts at /alerts, targets at /targets)."
  value       = module.prometheus.url
}

output "monitor_user" {
  description = "Dashboard basic-auth user."
  value       = var.monitor.user
}

output "monitor_password" {
  description = "Dashboard basic-auth password (terraform output -raw monitor_password)."
  value       = local.monitor_password
  sensitive   = true
}

output "redis_password" {
  description = "Password of this environment's Redis admin user (redis-cli --user admin; /run/secrets/redis-admin in the Redis container). The app roles' users have their own, in their containers only."
  value       = local.redis_passwords.admin
  sensitive   = true
}

output "admin_token" {
  description = "Bootstrap admin token of this environment's API (scope admin; null with auth off): Authorization: Bearer <token> on /v1/admin, and the token terraform/control applies keys with. Generated per workspace, kept only in its state."
  value       = var.auth == "required" ? terraform_data.generated_auth_secrets.output.admin_token : null
  sensitive   = true
}

output "app_image" {
  description = "ID of the app image the API, worker and monitor containers run (input to `make promote`)."
  value       = local.app_image
}

output "containers" {
  description = "Container names by role."
  value = {
    api          = module.api.names
    worker       = module.worker.names
    redis        = module.redis.names
    sentinel     = module.redis.sentinel_names
    loadbalancer = [module.loadbalancer.name]
    monitor      = [module.monitor.name]
    prometheus   = [module.prometheus.name]
  }
}

output "services" {
  description = "Swarm service names by role (target swarm: api, worker, redis); empty with target docker. Their tasks' containers are not in containers."
  value       = { for role, name in { api = module.api.service, worker = module.worker.service, redis = module.redis.service } : role => name if name != null }
}

output "target" {
  description = "What runs the stack: docker or swarm."
  value       = var.target
}

output "networks" {
  description = "Network names by purpose (edge, app, data)."
  value       = local.common.networks
}

output "redis_volume" {
  description = "The first Redis instance's data volume (survives `make down`; `make destroy-data` deletes it and, with Redis HA, the other instances')."
  value       = module.redis.volume
}
