locals {
  port = 9090
}

module "container" {
  source = "../container"

  common   = var.app
  role     = "worker"
  app      = merge(var.app, { port = local.port })
  replicas = var.worker.replicas
  env = {
    CALCGRID_DIAGNOSTICS = var.app.diagnostics ? "1" : "0"
    # Running tasks are requeued a few seconds before Docker's SIGKILL.
    CALCGRID_SHUTDOWN_TIMEOUT = "${max(1, var.worker.shutdown_timeout - 5)}s"
  }
  # Its concurrency, and the budgets each task is checked against before it runs.
  task_budget = var.worker
  # Data network only: workers reach Redis and nothing else.
  networks     = [{ name = var.app.networks.data }]
  limits       = { memory_mb = var.worker.memory_mb, cpus = var.worker.cpus }
  tmpfs        = { "/tmp" = "rw,noexec,nosuid,size=64m,mode=1777" }
  stop_timeout = var.worker.shutdown_timeout
}
