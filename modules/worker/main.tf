locals {
  port = 9090
}

module "container" {
  source = "../container"

  environment      = var.environment
  role             = "worker"
  replicas         = var.replicas
  image            = var.image
  user             = var.user
  entrypoint       = [var.binary]
  command          = ["worker"]
  instance_env_var = "CALCGRID_INSTANCE"
  env = {
    CALCGRID_LISTEN             = ":${local.port}"
    CALCGRID_REDIS_ADDR         = var.redis_addr
    CALCGRID_REDIS_PASSWORD     = var.redis_password
    CALCGRID_DIAGNOSTICS        = var.diagnostics ? "1" : "0"
    CALCGRID_WORKER_CONCURRENCY = tostring(var.concurrency)
    # Running tasks are requeued a few seconds before Docker's SIGKILL.
    CALCGRID_SHUTDOWN_TIMEOUT = "${max(1, var.shutdown_timeout - 5)}s"
  }
  # Data network only: workers reach Redis and nothing else.
  networks     = [{ name = var.data_network }]
  memory_mb    = var.memory_mb
  cpus         = var.cpus
  pids_limit   = var.pids_limit
  tmpfs        = { "/tmp" = "rw,noexec,nosuid,size=64m,mode=1777" }
  healthcheck  = { test = ["CMD", var.binary, "probe", "http://127.0.0.1:${local.port}/healthz"] }
  stop_timeout = var.shutdown_timeout

  log_max_size = var.log_max_size
  log_max_file = var.log_max_file
}
