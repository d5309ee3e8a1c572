# Prometheus of environment "dev" on 127.0.0.1:19090, scraping the API,
# worker and dashboard containers of modules/*/examples/basic and loading
# calcgrid's alerting rules.
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = ">= 4.0.0, < 5.0.0" }
  }
}

variable "monitor_password" {
  description = "Basic-auth password of the dashboard, whose /metrics is scraped (user admin)."
  type        = string
  sensitive   = true
}

module "network" {
  source = "../../../network"

  environment = "dev"
  app_subnet  = "10.231.1.0/24"
}

module "prometheus" {
  source = "../.."

  common = {
    environment = "dev"
    networks    = { app = module.network.app, data = module.network.data, dash = module.network.dash, edge = module.network.edge }
    bind_ip     = "127.0.0.1"
  }
  image      = "prom/prometheus:v2.53.4"
  prometheus = { memory_mb = 256, cpus = 0.25, scrape_interval_s = 15, retention_hours = 24, storage_mb = 128, port = 19090 }
  targets = {
    api    = { "calcgrid-dev-api-1:8080" = "10.231.1.11:8080" }
    worker = { "calcgrid-dev-worker-1:9090" = "calcgrid-dev-worker-1:9090" }
    queues = { targets = ["calcgrid-dev-monitor-1:5555"], user = "admin", password = var.monitor_password }
  }
  rules = { "calcgrid.rules.yml" = file("${path.module}/../../../../monitoring/rules/calcgrid.rules.yml") }
}

output "url" {
  description = "Prometheus UI."
  value       = module.prometheus.url
}
