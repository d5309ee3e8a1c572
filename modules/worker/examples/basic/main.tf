# Three workers of environment "dev" on that environment's data network,
# taking tasks from its Redis (modules/redis/examples/basic).
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

variable "redis_password" {
  description = "Password of the Redis user worker (modules/redis/examples/basic's passwords.worker)."
  type        = string
  sensitive   = true
}

module "network" {
  source = "../../../network"

  environment = "dev"
  app_subnet  = "10.231.1.0/24"
}

module "worker" {
  source = "../.."

  app = {
    environment = "dev"
    image       = "calcgrid-app:dev"
    redis       = { address = "calcgrid-dev-redis-1:6379", username = "worker", password = var.redis_password }
    networks    = { data = module.network.data }
    diagnostics = false
  }
  worker = { replicas = 3, memory_mb = 384, cpus = 0.5, concurrency = 2, shutdown_timeout = 30 }
}

output "names" {
  description = "Worker container names."
  value       = module.worker.names
}
