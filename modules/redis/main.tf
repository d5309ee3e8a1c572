locals {
  data_dir = "/data"
  ha       = var.redis.ha
  # Redis HA: three instances (the first is the primary of a new environment)
  # and three Sentinels, which elect a new primary when 2 of them have not
  # heard from it for down_after_ms.
  instances     = local.ha ? 3 : 1
  master        = "calcgrid"
  sentinel_port = 26379
  down_after_ms = 5000

  # The users' rules, written once in acl.txt (the Go tests start their
  # redis-server with the same file): "<name> <rules>" lines.
  acl = { for l in split("\n", file("${path.module}/acl.txt")) :
    regex("^(\\S+)\\s+(.*)$", trimspace(l))[0] => trimspace(regex("^(\\S+)\\s+(.*)$", trimspace(l))[1])
    if trimspace(l) != "" && !startswith(trimspace(l), "#")
  }
  rules = merge({
    admin   = local.acl.admin
    api     = "${local.acl.api} ${local.acl.deny}"
    worker  = "${local.acl.worker} ${local.acl.deny}"
    monitor = "${var.monitor_readonly ? local.acl["monitor-readonly"] : local.acl.monitor} ${local.acl.deny}"
    }, local.ha ? {
    replica  = local.acl.replica
    sentinel = local.acl.sentinel
  } : {})
  # Only SHA-256 hashes reach the config: a plaintext password is in the
  # container of the role that uses it, and admin's in this one for
  # redis-admin (below), all as files on their secrets volumes. With HA,
  # replica's is in clear too (masterauth): an instance logs in with it.
  #
  # The default user is admin under another name (same password, same
  # rules), not off: Redis 7.0 replays a MULTI/EXEC from the append-only file
  # as the default user, so with it off every transaction in the file is
  # refused on restart and its tasks are lost (TestAOFReplaysTransactions).
  users = join("\n", concat(
    ["user default on #${sha256(var.passwords.admin)} ${local.rules.admin}"],
    [for name, rules in local.rules : "user ${name} on #${sha256(var.passwords[name])} ${rules}"],
  ))

  config = join("\n", concat([
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
    ], local.ha ? [
    # Replicas log in as replica. A primary with no replica acknowledging
    # within 10 s refuses writes (NOREPLICAS): cut off from the others, it
    # cannot accept a task the elected primary would never see.
    "masteruser replica",
    "masterauth ${var.passwords.replica}",
    "min-replicas-to-write 1",
    "min-replicas-max-lag 10",
  ] : []))

  sentinel_config = !local.ha ? "" : join("\n", [
    "port ${local.sentinel_port}",
    "bind 0.0.0.0",
    "dir /tmp",
    # Containers change addresses when they restart: Sentinels know the
    # instances and each other by container name, and tell clients names.
    "sentinel resolve-hostnames yes",
    "sentinel announce-hostnames yes",
    "requirepass ${var.passwords.sentinels}",
    "sentinel sentinel-pass ${var.passwords.sentinels}",
    "sentinel monitor ${local.master} PRIMARY 6379 2",
    "sentinel auth-user ${local.master} sentinel",
    "sentinel auth-pass ${local.master} ${var.passwords.sentinel}",
    "sentinel down-after-milliseconds ${local.master} ${local.down_after_ms}",
    "sentinel failover-timeout ${local.master} 30000",
    "sentinel parallel-syncs ${local.master} 1",
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
      condition     = !(var.common.target == "swarm" && var.redis.ha)
      error_message = "redis.ha does not run on target swarm yet: set redis.ha = false (one Redis service) in a swarm environment."
    }
    precondition {
      condition     = var.redis.maxmemory_mb <= floor(var.redis.memory_mb * 0.8)
      error_message = "Redis maxmemory (${var.redis.maxmemory_mb} MB) must be at most 80% of its container limit (${var.redis.memory_mb} MB), or an AOF rewrite can get the container OOM-killed."
    }
  }
}

# Redis HA: the other instances' volumes, one each (the first instance keeps
# data above, so an environment's primary volume has one name either way).
resource "docker_volume" "replica_data" {
  count = local.instances - 1

  name = "calcgrid-${var.common.environment}-redis-${count.index + 2}-data"

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
  }
}

locals {
  # Where clients reach the one instance: its container, or on swarm its
  # service (the name resolves to its one task). From the module's outputs,
  # so that the clients are created after it.
  host      = try(module.container.names[0], module.container.service)
  names     = [for i in range(local.instances) : "calcgrid-${var.common.environment}-redis-${i + 1}"]
  sentinels = [for i in range(local.ha ? 3 : 0) : "calcgrid-${var.common.environment}-sentinel-${i + 1}"]

  # Who the primary is, asked of the Sentinels (the first that answers),
  # else the first instance: a new environment. An instance starts as a
  # replica of it, so a former primary that comes back after a failover
  # rejoins as a replica instead of a second primary; a Sentinel starts
  # watching it. sh and redis-cli are in the image; `timeout` bounds a
  # Sentinel that does not answer.
  ask_primary = <<-EOT
    primary=""
    for s in ${join(" ", local.sentinels)}; do
      primary="$(REDISCLI_AUTH="$(cat /run/secrets/sentinels-password)" timeout 2 redis-cli --no-auth-warning -h "$s" -p ${local.sentinel_port} SENTINEL get-master-addr-by-name ${local.master} 2>/dev/null | head -n 1)" || primary=""
      case "$primary" in calcgrid-*) break ;; *) primary="" ;; esac
    done
    primary="$${primary:-${local.names[0]}}"
  EOT
}

module "container" {
  source = "../container"

  common   = var.common
  role     = "redis"
  replicas = local.instances
  image    = var.image
  user     = var.user
  # The config holds the users' password hashes: a file on the secrets
  # volume, not the environment. redis-admin is redis-cli as admin for the
  # health check, the tests and operators (docker exec <redis container>
  # /run/secrets/redis-admin PING): redis-cli takes the user on the command
  # line and the password only from REDISCLI_AUTH, which this sets from the
  # file for its one process.
  entrypoint       = local.ha ? ["/run/secrets/redis-start"] : ["redis-server", "/run/secrets/redis.conf"]
  instance_env_var = local.ha ? "REDIS_INSTANCE" : ""
  secrets = merge({
    "redis.conf"     = { content = "${local.config}\n" }
    "admin-password" = { content = var.passwords.admin }
    "redis-admin" = { executable = true, content = <<-EOT
      #!/bin/sh
      REDISCLI_AUTH="$(cat /run/secrets/admin-password)"
      export REDISCLI_AUTH
      exec redis-cli --no-auth-warning --user admin "$@"
    EOT
    }
    }, local.ha ? {
    "sentinels-password" = { content = var.passwords.sentinels }
    # Each instance announces its container name to the primary, which the
    # Sentinels resolve (an address would change when it restarts).
    "redis-start" = { executable = true, content = <<-EOT
      #!/bin/sh
      ${indent(6, local.ask_primary)}
      if [ "$primary" = "$REDIS_INSTANCE" ]; then
        exec redis-server /run/secrets/redis.conf --replica-announce-ip "$REDIS_INSTANCE"
      fi
      exec redis-server /run/secrets/redis.conf --replica-announce-ip "$REDIS_INSTANCE" --replicaof "$primary" 6379
    EOT
    }
  } : {})
  # Alone, Redis is "redis" on both networks; with HA every client finds the
  # primary through the Sentinels, and an alias shared by three instances
  # would pick any of them.
  networks = [for n in [var.common.networks.data, var.common.networks.dash] : { name = n, aliases = local.ha ? [] : ["redis"] }]
  # Redis forks only for the AOF rewrite: fewer processes than the app roles.
  limits      = { memory_mb = var.redis.memory_mb, cpus = var.redis.cpus, pids_limit = 128 }
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  volumes     = [{ target = local.data_dir, sources = concat([docker_volume.data.name], docker_volume.replica_data[*].name) }]
  healthcheck = { test = ["CMD-SHELL", "/run/secrets/redis-admin -h 127.0.0.1 ping | grep -q PONG"] }
  # Lets Redis finish its AOF fsync on shutdown.
  stop_timeout = 30
}

# Redis HA: three Sentinels on the same networks as Redis (the app roles ask
# them for the primary). A Sentinel rewrites its config as it learns, so it
# runs from a copy on its tmpfs, written at start with the primary the other
# Sentinels know: a restarted Sentinel must not watch a former primary.
module "sentinel" {
  source = "../container"
  count  = local.ha ? 1 : 0

  common           = var.common
  role             = "sentinel"
  replicas         = length(local.sentinels)
  image            = var.image
  user             = var.user
  entrypoint       = ["/run/secrets/sentinel-start"]
  instance_env_var = "SENTINEL_INSTANCE"
  secrets = {
    "sentinel.conf"      = { content = "${local.sentinel_config}\n" }
    "sentinels-password" = { content = var.passwords.sentinels }
    "sentinel-start" = { executable = true, content = <<-EOT
      #!/bin/sh
      set -e
      ${indent(6, local.ask_primary)}
      sed "s/ PRIMARY / $primary /" /run/secrets/sentinel.conf > /tmp/sentinel.conf
      echo "sentinel announce-ip $SENTINEL_INSTANCE" >> /tmp/sentinel.conf
      exec redis-server /tmp/sentinel.conf --sentinel
    EOT
    }
    # CKQUORUM: this Sentinel sees the primary and enough Sentinels to elect
    # a new one (2 of 3).
    "sentinel-health" = { executable = true, content = <<-EOT
      #!/bin/sh
      REDISCLI_AUTH="$(cat /run/secrets/sentinels-password)" redis-cli --no-auth-warning -p ${local.sentinel_port} SENTINEL CKQUORUM ${local.master} | grep -q '^OK'
    EOT
    }
  }
  networks    = [{ name = var.common.networks.data }, { name = var.common.networks.dash }]
  limits      = { memory_mb = 32, cpus = 0.1, pids_limit = 32 }
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=4m,mode=1777" }
  healthcheck = { test = ["CMD", "/run/secrets/sentinel-health"], start_period = "20s" }

  depends_on = [module.container]
}
