locals {
  data_dir = "/data"

  # The users' rules, written once in acl.txt (the Go tests start their
  # redis-server with the same file): "<name> <rules>" lines.
  acl = { for l in split("\n", file("${path.module}/acl.txt")) :
    regex("^(\\S+)\\s+(.*)$", trimspace(l))[0] => trimspace(regex("^(\\S+)\\s+(.*)$", trimspace(l))[1])
    if trimspace(l) != "" && !startswith(trimspace(l), "#")
  }
  rules = {
    admin   = local.acl.admin
    api     = "${local.acl.api} ${local.acl.deny}"
    worker  = "${local.acl.worker} ${local.acl.deny}"
    monitor = "${var.monitor_readonly ? local.acl["monitor-readonly"] : local.acl.monitor} ${local.acl.deny}"
  }
  # Only SHA-256 hashes reach the config (and the container's environment):
  # a plaintext password is in the container of the role that uses it, and
  # admin's in REDISCLI_AUTH for redis-cli.
  #
  # The default user is admin under another name (same password, same
  # rules), not off: Redis 7.0 replays a MULTI/EXEC from the append-only file
  # as the default user, so with it off every transaction in the file is
  # refused on restart and its tasks are lost (TestAOFReplaysTransactions).
  users = join("\n", concat(
    ["user default on #${sha256(var.passwords.admin)} ${local.rules.admin}"],
    [for name, rules in local.rules : "user ${name} on #${sha256(var.passwords[name])} ${rules}"],
  ))

  config = join("\n", [
    "port 6379",
    "bind 0.0.0.0",
    "dir ${local.data_dir}",
    "appendonly ${var.redis.appendonly ? "yes" : "no"}",
    "appendfsync ${var.redis.appendfsync}",
    "save \"\"",
    "maxmemory ${var.redis.maxmemory_mb}mb",
    "maxmemory-policy noeviction",
    "loglevel notice",
    "logfile \"\"",
    local.users,
  ])
}

# The volume outlives `make down`: prevent_destroy makes a plain
# `terraform destroy` stop before it, `make down` removes it from the state
# first (the data stays), and `make destroy-data` deletes it by name.
resource "docker_volume" "data" {
  name = "calcgrid-${var.common.environment}-redis-data"

  labels {
    label = "calcgrid.env"
    value = var.common.environment
  }
  labels {
    label = "calcgrid.role"
    value = "redis"
  }

  lifecycle {
    prevent_destroy = true

    precondition {
      condition     = var.redis.maxmemory_mb <= floor(var.redis.memory_mb * 0.8)
      error_message = "Redis maxmemory (${var.redis.maxmemory_mb} MB) must be at most 80% of its container limit (${var.redis.memory_mb} MB), or an AOF rewrite can get the container OOM-killed."
    }
  }
}

module "container" {
  source = "../container"

  common = var.common
  role   = "redis"
  image  = var.image
  user   = var.user
  # The root filesystem is read-only, so the config (from the environment,
  # never the command line) is written to a tmpfs at start.
  entrypoint = ["sh", "-c", "printf '%s\\n' \"$REDIS_CONFIG\" > /tmp/redis.conf && exec redis-server /tmp/redis.conf"]
  env = {
    REDIS_CONFIG  = local.config
    REDISCLI_AUTH = var.passwords.admin
  }
  networks = [{ name = var.common.networks.data, aliases = ["redis"] }, { name = var.common.networks.dash, aliases = ["redis"] }]
  # Redis forks only for the AOF rewrite: fewer processes than the app roles.
  limits  = { memory_mb = var.redis.memory_mb, cpus = var.redis.cpus, pids_limit = 128 }
  tmpfs   = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  volumes = [{ source = docker_volume.data.name, target = local.data_dir }]
  # redis-cli has no variable for the user: --user here and for operators.
  healthcheck  = { test = ["CMD-SHELL", "redis-cli --user admin -h 127.0.0.1 ping | grep -q PONG"] }
  stop_timeout = 30 # lets Redis finish its AOF fsync on shutdown
}
