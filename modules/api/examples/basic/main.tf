# Three API servers of environment "dev" on that environment's app and data
# networks, talking to the environment's Redis (modules/redis/examples/basic).
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

variable "redis_password" {
  description = "Password of the Redis user api (modules/redis/examples/basic's passwords.api)."
  type        = string
  sensitive   = true
}

module "network" {
  source = "../../../network"

  environment = "dev"
  app_subnet  = "10.231.1.0/24"
}

module "api" {
  source = "../.."

  app = {
    environment = "dev"
    image       = "calcgrid-app:dev"
    redis       = { address = "calcgrid-dev-redis-1:6379", username = "api", password = var.redis_password }
    networks    = { app = module.network.app, data = module.network.data }
    diagnostics = false
  }
  api        = { replicas = 3, memory_mb = 128, cpus = 0.25, queue_max_pending = 10000 }
  workers    = { memory_mb = 384, cpus = 0.5, concurrency = 2 }
  app_subnet = module.network.app_subnet
}

output "upstreams" {
  description = "Each replica's name and pinned address:port, for modules/loadbalancer."
  value       = module.api.upstreams
}
