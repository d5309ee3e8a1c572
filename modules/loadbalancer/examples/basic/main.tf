# nginx of environment "dev" on 127.0.0.1:18080 in front of the three API
# servers that modules/api pins in the app subnet (modules/api/examples/basic).
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

module "network" {
  source = "../../../network"

  environment = "dev"
  app_subnet  = "10.231.1.0/24"
}

module "loadbalancer" {
  source = "../.."

  common = {
    environment = "dev"
    networks    = { edge = module.network.edge, app = module.network.app }
    bind_ip     = "127.0.0.1"
  }
  image     = "nginx:1.27.4-bookworm"
  user      = "101:101"
  upstreams = [for n in [1, 2, 3] : { name = "calcgrid-dev-api-${n}", address = "${cidrhost(module.network.app_subnet, 10 + n)}:8080" }]
  loadbalancer = {
    memory_mb                = 64
    cpus                     = 0.25
    rate_limit_rps           = 10
    rate_limit_burst         = 20
    client_max_body_size     = "256k"
    submission_max_body_size = "2m"
    keepalive                = 32
    port                     = 18080
  }
}

output "endpoint" {
  description = "URL clients use."
  value       = module.loadbalancer.endpoint
}
