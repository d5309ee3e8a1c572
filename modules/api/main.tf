locals {
  port = 8080
  # Pinned addresses: nginx (OSS, any version) resolves upstream names only at
  # start, so each replica keeps the same address across restarts and
  # replacements instead (host numbers 11, 12, ...).
  addresses = [for i in range(var.api.replicas) : cidrhost(var.app_subnet, 11 + i)]
  auth_mode = nonsensitive(var.auth.mode) # the mode is not secret
  auth      = local.auth_mode == "required"
  swarm     = var.app.target == "swarm"
}

module "container" {
  source = "../container"

  common   = var.app
  role     = "api"
  app      = merge(var.app, { port = local.port })
  replicas = var.api.replicas
  env = merge({
    CALCGRID_DIAGNOSTICS       = var.app.diagnostics ? "1" : "0"
    CALCGRID_QUEUE_MAX_PENDING = tostring(var.api.queue_max_pending)
    CALCGRID_AUTH              = local.auth_mode
    # With Redis HA a 202 means a replica has the task (Redis WAIT): a
    # failover cannot lose it. Otherwise the client gets a 503 within the
    # timeout and may retry with the same key.
    }, length(var.app.redis.sentinels) > 0 ? {
    CALCGRID_REDIS_WAIT_REPLICAS = "1"
    CALCGRID_REDIS_WAIT_TIMEOUT  = "500ms"
    } : {}, local.auth ? {
    CALCGRID_ADMIN_TOKEN_FILE = "/run/secrets/admin-token"
    CALCGRID_ID_SECRET_FILE   = "/run/secrets/id-secret"
  } : {})
  secrets = local.auth ? {
    "admin-token" = { content = var.auth.admin_token }
    "id-secret"   = { content = var.auth.id_secret }
  } : {}
  networks = [
    # Serving on the app network only: the workers share the data network
    # with the API but cannot reach it.
    { name = var.app.networks.app, aliases = ["api"], ipv4_addresses = local.addresses, listen = true },
    { name = var.app.networks.data },
  ]
  limits = { memory_mb = var.api.memory_mb, cpus = var.api.cpus }
  # Swarm: a new task is healthy before an old one stops.
  update_order = "start-first"
  tmpfs        = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  # The workers' budgets: submissions over them are refused before they queue.
  task_budget = var.workers
}
