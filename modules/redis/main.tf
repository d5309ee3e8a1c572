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
    # A replica that (re)joins syncs at once: Redis would wait 5 s for more
    # replicas to share the transfer, and until it is in sync it does not
    # count for WAIT.
    "repl-diskless-sync-delay 0",
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

# The volumes outlive `make down`: prevent_destroy makes a plain
# `terraform destroy` stop before them, `make down` removes them from the
# state first (the data stays), and `make destroy-data` deletes them by
# label. The first instance's keeps its name with or without HA.
resource "docker_volume" "data" {
  count = local.instances

  name = count.index == 0 ? "calcgrid-${var.common.environment}-redis-data" : "calcgrid-${var.common.environment}-redis-${count.index + 1}-data"

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

# An environment applied before Redis HA has its one volume here.
moved {
  from = docker_volume.data
  to   = docker_volume.data[0]
}

locals {
  # Where clients reach the one instance: its container, or on swarm its
  # service (the name resolves to its one task). From the module's outputs,
  # so that the clients are created after it.
  host = try(module.container.names[0], module.container.service)
  # As modules/container names them (known before it runs: the start
  # scripts below name the other instances).
  names     = [for i in range(local.instances) : "calcgrid-${var.common.environment}-redis-${i + 1}"]
  sentinels = [for i in range(local.ha ? 3 : 0) : "calcgrid-${var.common.environment}-sentinel-${i + 1}"]

  # Redis HA pins the instances (hosts 21-23) and the Sentinels (31-33) on
  # both networks, and everyone finds them through /etc/hosts: Redis and
  # Sentinel resolve names on their only thread, and Docker's DNS takes
  # seconds to fail the name of a stopped container (a killed primary),
  # which stalled replication and put every Sentinel in TILT mode, so no
  # failover happened.
  addresses = { for net in ["data", "dash"] : net => local.ha ? {
    instances = [for i in range(local.instances) : cidrhost(var.common.subnets[net], 21 + i)]
    sentinels = [for i in range(length(local.sentinels)) : cidrhost(var.common.subnets[net], 31 + i)]
  } : { instances = [], sentinels = [] } }
  hosts = { for net, a in local.addresses : net => merge(zipmap(local.names, a.instances), zipmap(local.sentinels, a.sentinels)) if local.ha }

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
  networks = [for net in ["data", "dash"] : { name = var.common.networks[net], aliases = local.ha ? [] : ["redis"], ipv4_addresses = local.addresses[net].instances }]
  hosts    = local.ha ? local.hosts.data : {}
  # Redis forks only for the AOF rewrite: fewer processes than the app roles.
  limits      = { memory_mb = var.redis.memory_mb, cpus = var.redis.cpus, pids_limit = 128 }
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  volumes     = [{ target = local.data_dir, sources = docker_volume.data[*].name }]
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
  networks    = [for net in ["data", "dash"] : { name = var.common.networks[net], ipv4_addresses = local.addresses[net].sentinels }]
  hosts       = local.hosts.data
  limits      = { memory_mb = 32, cpus = 0.1, pids_limit = 32 }
  tmpfs       = { "/tmp" = "rw,noexec,nosuid,size=4m,mode=1777" }
  healthcheck = { test = ["CMD", "/run/secrets/sentinel-health"], start_period = "20s" }

  depends_on = [module.container]
}
