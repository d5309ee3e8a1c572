locals {
  config = join("\n", [
    "port 6379",
    "bind 0.0.0.0",
    "dir ${var.data_dir}",
    "appendonly ${var.appendonly ? "yes" : "no"}",
    "appendfsync ${var.appendfsync}",
    "save \"\"",
    "maxmemory ${var.maxmemory_mb}mb",
    "maxmemory-policy noeviction",
    "loglevel notice",
    "logfile \"\"",
  ])
}

# The volume outlives `make down`: prevent_destroy makes a plain
# `terraform destroy` stop before it, scripts/stack.sh down removes it from the
# state first (the data stays), and `make destroy-data` deletes it by name.
resource "docker_volume" "data" {
  name = "calcgrid-${var.environment}-redis-data"

  labels {
    label = "calcgrid.env"
    value = var.environment
  }
  labels {
    label = "calcgrid.role"
    value = "redis"
  }

  lifecycle {
    prevent_destroy = true

    precondition {
      condition     = var.maxmemory_mb <= floor(var.memory_mb * 0.8)
      error_message = "Redis maxmemory (${var.maxmemory_mb} MB) must be at most 80% of its container limit (${var.memory_mb} MB), or an AOF rewrite can get the container OOM-killed."
    }
  }
}

module "container" {
  source = "../container"

  environment = var.environment
  role        = "redis"
  image       = var.image
  user        = var.user
  # The root filesystem is read-only, so the config (password appended from the
  # environment, never on the command line) is written to a tmpfs at start.
  entrypoint = ["sh", "-c", "printf '%s\\nrequirepass %s\\n' \"$REDIS_CONFIG\" \"$REDISCLI_AUTH\" > /tmp/redis.conf && exec redis-server /tmp/redis.conf"]
  env = {
    REDIS_CONFIG  = local.config
    REDISCLI_AUTH = var.password
  }
  networks    = [{ name = var.network, aliases = ["redis"] }]
  memory_mb   = var.memory_mb
  cpus        = var.cpus
  pids_limit  = var.pids_limit
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  volumes     = [{ source = docker_volume.data.name, target = var.data_dir }]
  healthcheck = { test = ["CMD-SHELL", "redis-cli -h 127.0.0.1 ping | grep -q PONG"] }

  log_max_size = var.log_max_size
  log_max_file = var.log_max_file
  stop_timeout = 30 # lets Redis finish its AOF fsync on shutdown
}
