locals {
  port = 5555
}

module "container" {
  source = "../container"

  common = var.app
  role   = "monitor"
  app    = merge(var.app, { port = local.port })
  env = {
    CALCGRID_MONITOR_READONLY      = var.monitor.readonly ? "1" : "0"
    CALCGRID_MONITOR_USER          = var.monitor.user
    CALCGRID_MONITOR_PASSWORD_FILE = "/run/secrets/monitor-password"
    # asynqmon's charts ask Prometheus for the asynq_* series this
    # dashboard's /metrics exports; empty hides them.
    CALCGRID_MONITOR_PROMETHEUS_URL = var.monitor.prometheus_url
  }
  # Its own network to Redis: the API and the workers (on the data network)
  # cannot reach it, nor it them.
  secrets  = { "monitor-password" = { content = var.monitor.password } }
  networks = [{ name = var.app.networks.dash }, { name = var.app.networks.edge }]
  ports    = [{ internal = local.port, external = var.monitor.port, ip = var.app.bind_ip }]
  limits   = { memory_mb = var.monitor.memory_mb, cpus = var.monitor.cpus }
  tmpfs    = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
}
