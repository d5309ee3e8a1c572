locals {
  port = 9090
}

module "container" {
  source = "../container"

  common           = var.app
  role             = "worker"
  replicas         = var.worker.replicas
  image            = var.app.image
  user             = var.app.user
  entrypoint       = [var.app.binary]
  command          = ["worker"]
  instance_env_var = "CALCGRID_INSTANCE"
  env = {
    CALCGRID_LISTEN             = ":${local.port}"
    CALCGRID_REDIS_ADDR         = var.app.redis.address
    CALCGRID_REDIS_PASSWORD     = var.app.redis.password
    CALCGRID_DIAGNOSTICS        = var.app.diagnostics ? "1" : "0"
    CALCGRID_WORKER_CONCURRENCY = tostring(var.worker.concurrency)
    # Running tasks are requeued a few seconds before Docker's SIGKILL.
    CALCGRID_SHUTDOWN_TIMEOUT = "${max(1, var.worker.shutdown_timeout - 5)}s"
  }
  # Data network only: workers reach Redis and nothing else.
  networks     = [{ name = var.app.networks.data }]
  limits       = { memory_mb = var.worker.memory_mb, cpus = var.worker.cpus }
  tmpfs        = { "/tmp" = "rw,noexec,nosuid,size=64m,mode=1777" }
  healthcheck  = { test = ["CMD", var.app.binary, "probe", "http://127.0.0.1:${local.port}/healthz"] }
  stop_timeout = var.worker.shutdown_timeout
}
