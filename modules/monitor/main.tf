locals {
  port = 5555
}

module "container" {
  source = "../container"

  environment      = var.environment
  role             = "monitor"
  image            = var.image
  user             = var.user
  entrypoint       = [var.binary]
  command          = ["monitor"]
  instance_env_var = "CALCGRID_INSTANCE"
  env = {
    CALCGRID_LISTEN           = ":${local.port}"
    CALCGRID_REDIS_ADDR       = var.redis_addr
    CALCGRID_REDIS_PASSWORD   = var.redis_password
    CALCGRID_MONITOR_READONLY = var.readonly ? "1" : "0"
    CALCGRID_MONITOR_USER     = var.basic_auth_user
    CALCGRID_MONITOR_PASSWORD = var.basic_auth_password
  }
  networks    = [{ name = var.data_network }, { name = var.edge_network }]
  ports       = [{ internal = local.port, external = var.published_port, ip = var.bind_ip }]
  memory_mb   = var.memory_mb
  cpus        = var.cpus
  pids_limit  = var.pids_limit
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  healthcheck = { test = ["CMD", var.binary, "probe", "http://127.0.0.1:${local.port}/healthz"] }

  log_max_size = var.log_max_size
  log_max_file = var.log_max_file
}
