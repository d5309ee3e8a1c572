locals {
  name_prefix = "calcgrid-${var.common.environment}-${var.role}"
  names       = [for i in range(var.replicas) : "${local.name_prefix}-${i + 1}"]

  # On target swarm the roles behind nginx and the data they serve (api,
  # worker, redis, sentinel) are one Swarm service each, named like the
  # prefix, its tasks' host names (and CALCGRID_INSTANCE) ending in their
  # slot as the containers' names do; the published edge (loadbalancer,
  # monitor, prometheus) stays containers on the manager, whose ports bind
  # one address (Swarm's routing mesh cannot).
  service    = var.common.target == "swarm" && contains(["api", "worker", "redis", "sentinel"], var.role)
  containers = local.service ? 0 : var.replicas
  instance   = local.service ? "${local.name_prefix}-{{.Task.Slot}}" : null
  # The provider reads whole numbers back as "1.0"; writing them the same way
  # avoids a perpetual replacement.
  cpus = floor(var.limits.cpus) == var.limits.cpus ? format("%.1f", var.limits.cpus) : tostring(var.limits.cpus)

  # The address each replica's HTTP server listens on: every interface, or
  # its pinned address on the network marked listen.
  # A service's tasks cannot be pinned: they listen on every interface.
  listen_hosts = [for i in range(var.replicas) : local.service ? "" : try([for n in var.networks : n.ipv4_addresses[i] if n.listen][0], "")]
  app_probes = var.app == null ? [] : [for h in local.listen_hosts :
    ["CMD", var.app.binary, "probe", "http://${h == "" ? "127.0.0.1" : h}:${var.app.port}/healthz"]
  ]

  # How a calcgrid role runs, said once for api, worker and monitor.
  app = var.app == null ? null : {
    env = merge({
      CALCGRID_REDIS_USERNAME                                         = var.app.redis.username
      CALCGRID_REDIS_PASSWORD_FILE                                    = "${local.secrets_dir}/redis-password"
      }, length(var.app.redis.sentinels) == 0 ? { CALCGRID_REDIS_ADDR = var.app.redis.address } : {
      CALCGRID_REDIS_SENTINELS                                        = join(",", var.app.redis.sentinels)
      CALCGRID_REDIS_MASTER                                           = var.app.redis.master
      CALCGRID_REDIS_SENTINEL_PASSWORD_FILE                           = "${local.secrets_dir}/sentinel-password"
      }, var.app.retention == null ? {} : {
      CALCGRID_RETENTION_COMPLETED = "${var.app.retention.completed_hours}h"
      CALCGRID_RETENTION_FAILED    = "${var.app.retention.failed_hours}h"
      CALCGRID_RETENTION_CANCELLED = "${var.app.retention.cancelled_hours}h"
      }, var.task_budget == null ? {} : {
      CALCGRID_WORKER_MEMORY_MB   = tostring(var.task_budget.memory_mb)
      CALCGRID_WORKER_CPUS        = tostring(var.task_budget.cpus)
      CALCGRID_WORKER_CONCURRENCY = tostring(var.task_budget.concurrency)
      CALCGRID_TASK_MEMORY_MB     = tostring(coalesce(var.task_budget.task_memory_mb, 0))
      CALCGRID_TASK_WORK_BUDGET   = "${coalesce(var.task_budget.task_work_s, 0)}s"
    })
    # Each replica probes its own listen address (the resource picks it).
    healthcheck = { test = local.app_probes[0], interval = "5s", timeout = "3s", retries = 3, start_period = "10s" }
  }
  image            = var.app == null ? var.image : var.app.image
  user             = var.app == null ? var.user : var.app.user
  entrypoint       = var.app == null ? var.entrypoint : [var.app.binary]
  command          = var.app == null ? var.command : [var.role]
  instance_env_var = var.app == null ? var.instance_env_var : "CALCGRID_INSTANCE"
  env              = merge(var.app == null ? {} : local.app.env, var.env)
  healthcheck      = var.app == null ? var.healthcheck : local.app.healthcheck

  # Secrets reach the process as files, never as variables: `docker inspect`
  # shows a container's environment to anyone who may run it. They live on a
  # volume of each replica's own: a tmpfs is empty when the container starts,
  # and the files must outlive a restart (restart = unless-stopped).
  secrets_dir = "/run/secrets"
  secrets = merge(
    var.app == null ? {} : { "redis-password" = { content = var.app.redis.password, executable = false } },
    try(length(var.app.redis.sentinels) > 0, false) ? { "sentinel-password" = { content = var.app.redis.sentinel_password, executable = false } } : {},
    var.secrets,
  )
  # The names are not secret: they are paths in the container.
  secret_names = nonsensitive(keys(local.secrets))
  secret_modes = { for k in local.secret_names : k => nonsensitive(local.secrets[k].executable) ? "0555" : "0444" }
}

resource "docker_volume" "secrets" {
  count = length(local.secret_names) > 0 ? local.containers : 0

  name = "${local.names[count.index]}-secrets"

  dynamic "labels" {
    for_each = {
      "calcgrid.env"      = var.common.environment
      "calcgrid.role"     = var.role
      "calcgrid.instance" = local.names[count.index]
      "calcgrid.secrets"  = "true"
    }
    content {
      label = labels.key
      value = labels.value
    }
  }
}

# Docker copies files into a container through its root filesystem only
# (the provider uploads to /), and the role's is read-only. So each replica's
# secrets are uploaded into a writer: a container created on the same volume
# and never started (no network, nothing runs), whose root filesystem takes
# the copy and whose volume keeps it. The files are root's, 0444 (0555 for a
# script): readable by the role's user, which cannot change or remove them.
# Not 0400 and the user's: with an owner the provider has Docker chown to the
# writer's user as the host's passwd names it (Docker 20.10), which the host
# need not have.
resource "docker_container" "secrets" {
  count = length(local.secret_names) > 0 ? local.containers : 0

  name         = "${local.names[count.index]}-secrets"
  image        = local.image
  entrypoint   = ["true"]
  start        = false
  must_run     = false
  network_mode = "none"

  mounts {
    type   = "volume"
    source = docker_volume.secrets[count.index].name
    target = local.secrets_dir
  }

  dynamic "upload" {
    for_each = local.secret_names
    content {
      file        = "${local.secrets_dir}/${upload.value}"
      content     = local.secrets[upload.value].content
      permissions = local.secret_modes[upload.value]
    }
  }

  dynamic "labels" {
    for_each = {
      "calcgrid.env"        = var.common.environment
      "calcgrid.secrets-of" = local.names[count.index]
    }
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "this" {
  count = local.containers

  name       = local.names[count.index]
  hostname   = local.names[count.index]
  image      = local.image
  entrypoint = length(local.entrypoint) > 0 ? local.entrypoint : null
  command    = length(local.command) > 0 ? local.command : null
  env = toset(concat(
    [for k, v in local.env : "${k}=${v}"],
    local.instance_env_var == "" ? [] : ["${local.instance_env_var}=${local.names[count.index]}"],
    var.app == null ? [] : ["CALCGRID_LISTEN=${local.listen_hosts[count.index]}:${var.app.port}"],
  ))

  user              = local.user
  read_only         = true
  tmpfs             = var.tmpfs
  security_opts     = ["no-new-privileges:true"]
  memory            = var.limits.memory_mb
  memory_swap       = var.limits.memory_mb # equal to memory: no swap on top of the limit
  cpus              = local.cpus
  restart           = "unless-stopped"
  stop_timeout      = var.stop_timeout
  wait              = var.wait_healthy_seconds > 0
  wait_timeout      = var.wait_healthy_seconds > 0 ? var.wait_healthy_seconds : null
  log_driver        = "json-file"
  log_opts          = { "max-size" = var.common.log.max_size, "max-file" = tostring(var.common.log.max_file) }
  must_run          = true
  publish_all_ports = false
  # An init as PID 1 reaps what a health check that timed out leaves behind
  # (redis-server does not: the zombies would fill pids_limit).
  init = true

  capabilities {
    drop = ["ALL"]
  }

  healthcheck {
    test         = var.app == null ? local.healthcheck.test : local.app_probes[count.index]
    interval     = local.healthcheck.interval
    timeout      = local.healthcheck.timeout
    retries      = local.healthcheck.retries
    start_period = local.healthcheck.start_period
  }

  dynamic "networks_advanced" {
    for_each = var.networks
    content {
      name         = networks_advanced.value.name
      aliases      = networks_advanced.value.aliases
      ipv4_address = length(networks_advanced.value.ipv4_addresses) > 0 ? networks_advanced.value.ipv4_addresses[count.index] : null
    }
  }

  dynamic "host" {
    for_each = merge(var.hosts, var.app == null ? {} : var.app.redis.hosts)
    content {
      host = host.key
      ip   = host.value
    }
  }

  dynamic "ports" {
    for_each = count.index == 0 ? var.ports : []
    content {
      internal = ports.value.internal
      external = ports.value.external
      ip       = ports.value.ip
      protocol = "tcp"
    }
  }

  dynamic "mounts" {
    for_each = concat(
      [for v in var.volumes : { source = coalesce(v.source, try(v.sources[count.index], null)), target = v.target }],
      length(local.secret_names) > 0 ? [{ source = docker_volume.secrets[count.index].name, target = local.secrets_dir }] : [],
    )
    content {
      type   = "volume"
      source = mounts.value.source
      target = mounts.value.target
    }
  }


  dynamic "labels" {
    for_each = merge(var.labels, {
      "calcgrid.env"      = var.common.environment
      "calcgrid.role"     = var.role
      "calcgrid.instance" = local.names[count.index]
      }, length(local.secret_names) > 0 ? {
      # New secrets replace the container, which reads them at start.
      "calcgrid.secrets" = docker_container.secrets[count.index].id
    } : {})
    content {
      label = labels.key
      value = labels.value
    }
  }


  depends_on = [terraform_data.inputs]
}

# What the inputs must agree on, checked once for the containers and the
# service alike.
resource "terraform_data" "inputs" {
  lifecycle {
    precondition {
      condition = (var.app == null ? var.image != null && var.user != null && var.healthcheck != null
      : var.image == null && var.user == null && var.healthcheck == null && length(var.entrypoint) == 0 && length(var.command) == 0 && var.instance_env_var == "")
      error_message = "Give either app (a calcgrid role) or image, user and healthcheck (any other image), not both: app sets the image, user, entrypoint, command, instance variable and health check itself."
    }
    precondition {
      condition     = var.task_budget == null || var.app != null
      error_message = "task_budget applies to the calcgrid roles only: give it with app."
    }
    precondition {
      condition     = alltrue([for n in var.networks : length(n.ipv4_addresses) == 0 || length(n.ipv4_addresses) == var.replicas])
      error_message = "Each network's ipv4_addresses must be empty or list one address per replica (${var.replicas})."
    }
    precondition {
      condition     = !local.service || alltrue([for v in var.volumes : v.source != null || var.replicas == 1])
      error_message = "A Swarm service's replicas share its volumes: give volumes[*].source, or sources with one replica."
    }
  }
}

# The docker provider (v4) has no pids_limit argument, so the limit is set
# through the engine right after each container is created (it persists across
# restarts; a replaced container gets a new id and the update runs again).
resource "terraform_data" "pids_limit" {
  count = local.containers

  triggers_replace = [docker_container.this[count.index].id, var.limits.pids_limit]

  provisioner "local-exec" {
    command = "docker update --pids-limit ${var.limits.pids_limit} ${docker_container.this[count.index].id} >/dev/null"
  }
}

# Swarm (local.service): the secrets are Swarm secrets, mounted by Swarm at
# the same /run/secrets/<name> with the same modes, root's. A Swarm secret
# cannot change, nor be removed while a service uses it: new content
# replaces the secret and, with it, the service (all its tasks at once; the
# generated passwords never change, redis.conf does with Redis's settings).
# Not create_before_destroy: it would spread to everything the secrets
# depend on (the app image, other roles' containers), whose names cannot
# exist twice; nor a digest in the key, unknown until the passwords are.
resource "docker_secret" "this" {
  for_each = toset(local.service ? local.secret_names : [])

  name = "${local.name_prefix}-${each.key}"
  data = base64encode(local.secrets[each.key].content)

  dynamic "labels" {
    for_each = { "calcgrid.env" = var.common.environment, "calcgrid.role" = var.role }
    content {
      label = labels.key
      value = labels.value
    }
  }

  depends_on = [terraform_data.inputs]
}

locals {
  # A tmpfs of a service takes a size and a mode only (Swarm mounts it
  # noexec, nosuid and nodev); both are read from the container's options.
  service_tmpfs = [for path, opts in var.tmpfs : {
    target = path
    size   = try(tonumber(regex("size=([0-9]+)", opts)[0]) * lookup({ "" = 1, k = 1024, m = 1048576, g = 1073741824 }, regex("size=[0-9]+([kmg]?)", opts)[0], 1), null)
    # Without the sticky bit, which Swarm drops (1777 reads back as 0777).
    mode = try(parseint(regex("mode=([0-7]+)", opts)[0], 8) % 512, null)
  }]
  # Stateful roles (redis, sentinel) replace a task only after the old one
  # stopped, and stay on the manager where their volume is; the app roles
  # spread over the nodes.
  stateful = contains(["redis", "sentinel"], var.role)
}

resource "docker_service" "this" {
  count = local.service ? 1 : 0

  name = local.name_prefix

  dynamic "labels" {
    for_each = { "calcgrid.env" = var.common.environment, "calcgrid.role" = var.role }
    content {
      label = labels.key
      value = labels.value
    }
  }

  mode {
    replicated {
      replicas = var.replicas
    }
  }

  task_spec {
    container_spec {
      image    = local.image
      command  = length(local.entrypoint) > 0 ? local.entrypoint : null
      args     = length(local.command) > 0 ? local.command : null
      hostname = local.instance
      env = merge(local.env,
        local.instance_env_var == "" ? {} : { (local.instance_env_var) = local.instance },
        var.app == null ? {} : { CALCGRID_LISTEN = ":${var.app.port}" },
      )
      user              = local.user
      read_only         = true
      cap_drop          = ["ALL"]
      cap_add           = []
      groups            = []
      sysctl            = {}
      stop_grace_period = "${var.stop_timeout}s"

      dynamic "labels" {
        for_each = merge(var.labels, { "calcgrid.env" = var.common.environment, "calcgrid.role" = var.role })
        content {
          label = labels.key
          value = labels.value
        }
      }

      healthcheck {
        test         = local.healthcheck.test
        interval     = local.healthcheck.interval
        timeout      = local.healthcheck.timeout
        retries      = local.healthcheck.retries
        start_period = local.healthcheck.start_period
      }

      dynamic "mounts" {
        for_each = local.service_tmpfs
        content {
          type   = "tmpfs"
          target = mounts.value.target
          tmpfs_options {
            size_bytes = mounts.value.size
            mode       = mounts.value.mode
          }
        }
      }

      dynamic "mounts" {
        for_each = var.volumes
        content {
          type   = "volume"
          source = coalesce(mounts.value.source, try(mounts.value.sources[0], null))
          target = mounts.value.target
        }
      }

      dynamic "secrets" {
        for_each = docker_secret.this
        content {
          secret_id   = secrets.value.id
          secret_name = secrets.value.name
          file_name   = "${local.secrets_dir}/${secrets.key}"
          file_uid    = "0"
          file_gid    = "0"
          file_mode   = local.secret_modes[secrets.key] == "0555" ? 365 : 292 # 0555, 0444
        }
      }
    }

    resources {
      limits {
        nano_cpus    = floor(var.limits.cpus * 1e9)
        memory_bytes = var.limits.memory_mb * 1048576
      }
      # Memory cannot be shared, so all of it is reserved; CPU time can be
      # (a busy task is throttled, not killed), so a quarter is.
      reservation {
        nano_cpus    = floor(var.limits.cpus * 1e9 / 4)
        memory_bytes = var.limits.memory_mb * 1048576
      }
    }

    # Any exit, as restart = unless-stopped does for the containers: a worker
    # that finds its attempt superseded exits 0 and must come back.
    restart_policy {
      condition    = "any"
      max_attempts = 0
      delay        = "2s"
      window       = "30s"
    }

    placement {
      constraints  = local.stateful ? ["node.role==manager"] : []
      prefs        = ["spread=node.id"]
      max_replicas = local.stateful ? 1 : 0
    }

    dynamic "networks_advanced" {
      for_each = var.networks
      content {
        # By ID where the environment's networks are known (the provider
        # reads a service's networks back as IDs).
        id      = lookup(var.common.network_ids, networks_advanced.value.name, null)
        name    = contains(keys(var.common.network_ids), networks_advanced.value.name) ? null : networks_advanced.value.name
        aliases = networks_advanced.value.aliases
      }
    }

    log_driver {
      name    = "json-file"
      options = { "max-size" = var.common.log.max_size, "max-file" = tostring(var.common.log.max_file) }
    }
  }

  # DNS round robin, not a virtual IP: a VIP needs IPVS in the kernel, which
  # a host may lack, and nginx re-resolves the name itself.
  endpoint_spec {
    mode = "dnsrr"
  }

  update_config {
    parallelism    = 1
    delay          = "2s"
    order          = local.stateful ? "stop-first" : var.update_order
    failure_action = "rollback"
    monitor        = "15s"
    # One task of three may end early during a roll without undoing it: a
    # worker that finds its attempt superseded (a lease it could not extend
    # under load) exits by design and is restarted; counted as a failure, it
    # rolled back a fresh-clone run's image update.
    max_failure_ratio = local.stateful ? "0.0" : "0.34"
  }

  rollback_config {
    parallelism       = 1
    delay             = "0s"
    order             = local.stateful ? "stop-first" : var.update_order
    failure_action    = "pause"
    monitor           = "15s"
    max_failure_ratio = "0.0"
  }

  # Apply waits until every task runs (healthy), as wait_healthy_seconds
  # makes it wait for the containers.
  dynamic "converge_config" {
    for_each = var.wait_healthy_seconds > 0 ? [var.wait_healthy_seconds] : []
    content {
      delay   = "2s"
      timeout = "${converge_config.value}s"
    }
  }

  # (A service role always has secrets: a calcgrid role its Redis
  # password, redis its config. Without any this would fail the plan.)
  lifecycle {
    replace_triggered_by = [docker_secret.this]
  }

  depends_on = [terraform_data.inputs]
}
