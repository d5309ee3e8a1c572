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
  # Only SHA-256 hashes reach the config: a plaintext password is in the
  # container of the role that uses it, and admin's in this one for
  # redis-admin (below), all as files on their secrets volumes.
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
  # The config holds the users' password hashes: a file on the secrets
  # volume, not the environment. redis-admin is redis-cli as admin for the
  # health check, the tests and operators (docker exec <redis container>
  # /run/secrets/redis-admin PING): redis-cli takes the user on the command
  # line and the password only from REDISCLI_AUTH, which this sets from the
  # file for its one process.
  entrypoint = ["redis-server", "/run/secrets/redis.conf"]
  secrets = {
    "redis.conf"     = { content = "${local.config}\n" }
    "admin-password" = { content = var.passwords.admin }
    "redis-admin" = { executable = true, content = <<-EOT
      #!/bin/sh
      REDISCLI_AUTH="$(cat /run/secrets/admin-password)"
      export REDISCLI_AUTH
      exec redis-cli --no-auth-warning --user admin "$@"
    EOT
    }
  }
  networks = [{ name = var.common.networks.data, aliases = ["redis"] }, { name = var.common.networks.dash, aliases = ["redis"] }]
  # Redis forks only for the AOF rewrite: fewer processes than the app roles.
  limits       = { memory_mb = var.redis.memory_mb, cpus = var.redis.cpus, pids_limit = 128 }
  tmpfs        = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  volumes      = [{ source = docker_volume.data.name, target = local.data_dir }]
  healthcheck  = { test = ["CMD-SHELL", "/run/secrets/redis-admin -h 127.0.0.1 ping | grep -q PONG"] }
  stop_timeout = 30 # lets Redis finish its AOF fsync on shutdown
}
