# One hardened container: Redis without persistence on an internal network,
# with the module's limits, health check, labels and log rotation.
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

resource "docker_network" "demo" {
  name     = "calcgrid-demo-data"
  internal = true
}

module "container" {
  source = "../.."

  common      = { environment = "demo" }
  role        = "redis"
  image       = "redis:7.4.10-bookworm"
  user        = "999:999"
  command     = ["redis-server", "--save", "", "--appendonly", "no"]
  networks    = [{ name = docker_network.demo.name, aliases = ["redis"] }]
  limits      = { memory_mb = 64, cpus = 0.25 }
  healthcheck = { test = ["CMD", "redis-cli", "ping"] }
}

output "names" {
  description = "Container names."
  value       = module.container.names
}
