locals {
  port = 9090
  # Everything Prometheus writes lives on the tmpfs: the root filesystem is
  # read-only, and history is kept for alerts and recent charts, not across
  # a restart (see README).
  storage = "/prometheus"

  environment = var.common.environment
  job = {
    api    = "calcgrid-api"
    worker = "calcgrid-worker"
    queues = "calcgrid-queues"
  }
  config = yamlencode({
    global = {
      scrape_interval     = "${var.prometheus.scrape_interval_s}s"
      evaluation_interval = "${var.prometheus.scrape_interval_s}s"
    }
    rule_files = ["/tmp/calcgrid.rules.yml"]
    scrape_configs = concat(
      # One target per instance, so that a dead one shows as up == 0,
      # labelled with the container's name:port whatever address it is
      # scraped at; the environment label tells two environments' alerts apart.
      [for role in ["api", "worker"] : {
        job_name       = local.job[role]
        static_configs = [for i, a in var.targets[role] : { targets = [a], labels = { environment = local.environment, instance = i } }]
      } if !contains(keys(var.targets.dns), role)],
      # On swarm the tasks are found by DNS (tasks.<service>), each its own
      # target, labelled with its address.
      [for role, name in var.targets.dns : {
        job_name        = local.job[role]
        dns_sd_configs  = [{ names = [split(":", name)[0]], type = "A", port = tonumber(split(":", name)[1]), refresh_interval = "${var.prometheus.scrape_interval_s}s" }]
        relabel_configs = [{ target_label = "environment", replacement = local.environment }]
      }],
      [{
        job_name       = local.job.queues
        static_configs = [{ targets = var.targets.queues.targets, labels = { environment = local.environment } }]
        basic_auth     = { username = var.targets.queues.user, password_file = "/run/secrets/monitor-password" }
      }],
    )
  })
  # Every rule file's groups in one file, so the container needs one variable.
  rules = yamlencode({ groups = flatten([for f in sort(keys(var.rules)) : yamldecode(var.rules[f]).groups]) })
}

module "container" {
  source = "../container"

  common = var.common
  role   = "prometheus"
  image  = var.image
  user   = var.user
  # The root filesystem is read-only: the rendered configuration and rules
  # travel in the environment (a change replaces the container) and are
  # written to the tmpfs. `exec` makes Prometheus PID 1, so it gets SIGTERM.
  entrypoint = ["sh", "-c", join(" ", [
    "printf '%s' \"$PROMETHEUS_CONFIG\" > /tmp/prometheus.yml &&",
    "printf '%s' \"$PROMETHEUS_RULES\" > /tmp/calcgrid.rules.yml &&",
    "exec prometheus --config.file=/tmp/prometheus.yml --web.listen-address=:${local.port}",
    "--storage.tsdb.path=${local.storage} --storage.tsdb.retention.time=${var.prometheus.retention_hours}h",
    # Below the tmpfs size, so that the head block and the WAL fit.
    "--storage.tsdb.retention.size=${floor(var.prometheus.storage_mb * 0.7)}MB",
  ])]
  env      = { PROMETHEUS_CONFIG = local.config, PROMETHEUS_RULES = local.rules }
  secrets  = { "monitor-password" = { content = var.targets.queues.password } }
  networks = [{ name = var.common.networks.app }, { name = var.common.networks.data }, { name = var.common.networks.dash }, { name = var.common.networks.edge }]
  ports    = [{ internal = local.port, external = var.prometheus.port, ip = var.common.bind_ip }]
  limits   = { memory_mb = var.prometheus.memory_mb, cpus = var.prometheus.cpus }
  tmpfs = {
    "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777"
    # Owned by the user Prometheus runs as: Docker gives a tmpfs over a
    # directory of the image that directory's mode (755 in both images), not
    # the mode option. Mounting it also keeps the official image's VOLUME
    # /prometheus from creating an anonymous volume per container.
    (local.storage) = "rw,noexec,nosuid,size=${var.prometheus.storage_mb}m,uid=${split(":", var.user)[0]},gid=${split(":", var.user)[1]}"
  }
  # wget is in the official image (busybox) and in the air-gapped one.
  healthcheck = { test = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${local.port}/-/ready"] }
}
