# The three networks of environment "dev".
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

module "network" {
  source = "../.."

  environment = "dev"
  app_subnet  = "10.231.1.0/24"
}

output "networks" {
  description = "Network names by purpose, and the internal networks' subnets."
  value       = module.network
}
