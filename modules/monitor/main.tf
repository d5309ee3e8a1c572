locals {
  port = 5555
}

module "container" {
  source = "../container"

  common           = var.app
  role             = "monitor"
  image            = var.app.image
  user             = var.app.user
  entrypoint       = [var.app.binary]
  command          = ["monitor"]
  instance_env_var = "CALCGRID_INSTANCE"
  env = {
    CALCGRID_LISTEN           = ":${local.port}"
    CALCGRID_REDIS_ADDR       = var.app.redis.address
    CALCGRID_REDIS_PASSWORD   = var.app.redis.password
    CALCGRID_MONITOR_READONLY = var.monitor.readonly ? "1" : "0"
    CALCGRID_MONITOR_USER     = var.monitor.user
    CALCGRID_MONITOR_PASSWORD = var.monitor.password
  }
  networks    = [{ name = var.app.networks.data }, { name = var.app.networks.edge }]
  ports       = [{ internal = local.port, external = var.monitor.port, ip = var.app.bind_ip }]
  limits      = { memory_mb = var.monitor.memory_mb, cpus = var.monitor.cpus }
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  healthcheck = { test = ["CMD", var.app.binary, "probe", "http://127.0.0.1:${local.port}/healthz"] }
}
