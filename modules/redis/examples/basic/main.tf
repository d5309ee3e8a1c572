# Redis of environment "dev" on that environment's data and dash networks.
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

variable "passwords" {
  description = "Password of each Redis user (admin, api, worker, monitor), 32 to 128 letters or digits."
  type        = object({ admin = string, api = string, worker = string, monitor = string })
  sensitive   = true
}

module "network" {
  source = "../../../network"

  environment = "dev"
  app_subnet  = "10.231.1.0/24"
}

module "redis" {
  source = "../.."

  common           = { environment = "dev", networks = { data = module.network.data, dash = module.network.dash } }
  image            = "redis:7.4.10-bookworm"
  user             = "999:999"
  passwords        = var.passwords
  monitor_readonly = true
  redis            = { memory_mb = 256, maxmemory_mb = 192, cpus = 0.25, appendonly = true, appendfsync = "everysec" }
}

output "address" {
  description = "host:port of Redis on the data network."
  value       = module.redis.address
}
