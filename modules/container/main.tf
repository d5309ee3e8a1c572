locals {
  name_prefix = "calcgrid-${var.common.environment}-${var.role}"
  names       = [for i in range(var.replicas) : "${local.name_prefix}-${i + 1}"]
  # The provider reads whole numbers back as "1.0"; writing them the same way
  # avoids a perpetual replacement.
  cpus = floor(var.limits.cpus) == var.limits.cpus ? format("%.1f", var.limits.cpus) : tostring(var.limits.cpus)
}

resource "docker_container" "this" {
  count = var.replicas

  name       = local.names[count.index]
  hostname   = local.names[count.index]
  image      = var.image
  entrypoint = length(var.entrypoint) > 0 ? var.entrypoint : null
  command    = length(var.command) > 0 ? var.command : null
  env = toset(concat(
    [for k, v in var.env : "${k}=${v}"],
    var.instance_env_var == "" ? [] : ["${var.instance_env_var}=${local.names[count.index]}"],
  ))

  user              = var.user
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

  capabilities {
    drop = ["ALL"]
  }

  healthcheck {
    test         = var.healthcheck.test
    interval     = var.healthcheck.interval
    timeout      = var.healthcheck.timeout
    retries      = var.healthcheck.retries
    start_period = var.healthcheck.start_period
  }

  dynamic "networks_advanced" {
    for_each = var.networks
    content {
      name         = networks_advanced.value.name
      aliases      = networks_advanced.value.aliases
      ipv4_address = length(networks_advanced.value.ipv4_addresses) > 0 ? networks_advanced.value.ipv4_addresses[count.index] : null
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
    for_each = var.volumes
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
    })
    content {
      label = labels.key
      value = labels.value
    }
  }

  lifecycle {
    precondition {
      condition     = alltrue([for n in var.networks : length(n.ipv4_addresses) == 0 || length(n.ipv4_addresses) == var.replicas])
      error_message = "Each network's ipv4_addresses must be empty or list one address per replica (${var.replicas})."
    }
  }
}

# The docker provider (v4) has no pids_limit argument, so the limit is set
# through the engine right after each container is created (it persists across
# restarts; a replaced container gets a new id and the update runs again).
resource "terraform_data" "pids_limit" {
  count = var.replicas

  triggers_replace = [docker_container.this[count.index].id, var.limits.pids_limit]

  provisioner "local-exec" {
    command = "docker update --pids-limit ${var.limits.pids_limit} ${docker_container.this[count.index].id} >/dev/null"
  }
}
