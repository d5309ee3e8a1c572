locals {
  port = 8080
  # Pinned addresses: nginx (OSS, any version) resolves upstream names only at
  # start, so each replica keeps the same address across restarts and
  # replacements instead (host numbers 11, 12, ...).
  addresses = [for i in range(var.replicas) : cidrhost(var.app_subnet, 11 + i)]
}

module "container" {
  source = "../container"

  environment      = var.environment
  role             = "api"
  replicas         = var.replicas
  image            = var.image
  user             = var.user
  entrypoint       = [var.binary]
  command          = ["api"]
  instance_env_var = "CALCGRID_INSTANCE"
  env = {
    CALCGRID_LISTEN            = ":${local.port}"
    CALCGRID_REDIS_ADDR        = var.redis_addr
    CALCGRID_REDIS_PASSWORD    = var.redis_password
    CALCGRID_DIAGNOSTICS       = var.diagnostics ? "1" : "0"
    CALCGRID_QUEUE_MAX_PENDING = tostring(var.queue_max_pending)
  }
  networks = [
    { name = var.app_network, aliases = ["api"], ipv4_addresses = local.addresses },
    { name = var.data_network },
  ]
  memory_mb   = var.memory_mb
  cpus        = var.cpus
  pids_limit  = var.pids_limit
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  healthcheck = { test = ["CMD", var.binary, "probe", "http://127.0.0.1:${local.port}/healthz"] }

  log_max_size = var.log_max_size
  log_max_file = var.log_max_file
}
