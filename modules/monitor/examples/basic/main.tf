# The dashboard of environment "dev" on 127.0.0.1:15555, reading the
# environment's Redis (modules/redis/examples/basic).
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

variable "redis_password" {
  description = "Password of the Redis user monitor (modules/redis/examples/basic's passwords.monitor)."
  type        = string
  sensitive   = true
}

variable "password" {
  description = "Basic-auth password of the dashboard (user admin)."
  type        = string
  sensitive   = true
}

module "network" {
  source = "../../../network"

  environment = "dev"
  app_subnet  = "10.231.1.0/24"
}

module "monitor" {
  source = "../.."

  app = {
    environment = "dev"
    image       = "calcgrid-app:dev"
    redis       = { address = "calcgrid-dev-redis-1:6379", username = "monitor", password = var.redis_password }
    networks    = { dash = module.network.dash, edge = module.network.edge }
    bind_ip     = "127.0.0.1"
  }
  monitor = { memory_mb = 64, cpus = 0.1, readonly = true, user = "admin", password = var.password, port = 15555 }
}

output "url" {
  description = "Dashboard URL."
  value       = module.monitor.url
}
