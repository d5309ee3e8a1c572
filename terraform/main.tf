locals {
  repo_root = abspath("${path.module}/..")

  # Everything that goes into the app binary; tests do not, so editing one
  # does not rebuild the image.
  app_sources = sort(concat(
    [for f in fileset(local.repo_root, "app/**") : f if !endswith(f, "_test.go") && !strcontains(f, "/testdata/")],
    ["go.mod", "go.sum"],
  ))
  app_source_hash = sha256(join("", [for f in local.app_sources : filesha256("${local.repo_root}/${f}")]))

  app_image = var.app_image_override != "" ? var.app_image_override : docker_image.app[0].image_id

  # One Redis user per role (modules/redis/acl.txt); redis_password, when
  # set, is admin's, the one operators type.
  redis_passwords = sensitive({
    admin     = var.redis_password != "" ? var.redis_password : terraform_data.generated_secrets.output.redis
    api       = terraform_data.generated_redis_secrets.output.api
    worker    = terraform_data.generated_redis_secrets.output.worker
    monitor   = terraform_data.generated_redis_secrets.output.monitor
    replica   = terraform_data.generated_ha_secrets.output.replica
    sentinel  = terraform_data.generated_ha_secrets.output.sentinel
    sentinels = terraform_data.generated_ha_secrets.output.sentinels
  })
  monitor_password = sensitive(var.monitor_password != "" ? var.monitor_password : terraform_data.generated_secrets.output.monitor)

  # Redis HA: three instances of var.redis's size and three Sentinels of
  # modules/redis's fixed 32 MB and 0.1 core.
  redis_instances = var.redis.ha ? 3 : 1
  limits = {
    memory_mb = (local.redis_instances * var.redis.memory_mb + (var.redis.ha ? 3 * 32 : 0) + var.api.replicas * var.api.memory_mb + var.worker.replicas * var.worker.memory_mb
    + var.loadbalancer.memory_mb + var.monitor.memory_mb + var.prometheus.memory_mb)
    cpus = (local.redis_instances * var.redis.cpus + (var.redis.ha ? 3 * 0.1 : 0) + var.api.replicas * var.api.cpus + var.worker.replicas * var.worker.cpus
    + var.loadbalancer.cpus + var.monitor.cpus + var.prometheus.cpus)
  }
}

module "workspace" {
  source = "./workspace"
}

# Refuses a plan that applies one environment's variables in another
# workspace (each workspace has its own state: mixing them would replace the
# wrong environment's containers).
resource "terraform_data" "workspace_guard" {
  input = var.environment

  lifecycle {
    precondition {
      condition     = var.environment == module.workspace.name
      error_message = "environment is \"${var.environment}\" but the selected workspace is \"${module.workspace.name}\". Run `terraform workspace select -or-create ${var.environment}` (or use `make up ENV=${var.environment}`) before applying environments/${var.environment}.tfvars."
    }
  }
}

# Per-workspace secrets without an extra provider: uuid() is random, and
# ignore_changes keeps the first value in this workspace's state, so the
# password never appears in the repository and stays stable across applies.
resource "terraform_data" "generated_secrets" {
  input = sensitive({
    redis   = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
    monitor = replace(uuid(), "-", "")
  })

  lifecycle {
    ignore_changes = [input]
  }
}

# The app roles' Redis passwords, as generated_secrets' (whose redis is now
# admin's). A resource of their own: ignore_changes would keep keys added to
# generated_secrets out of a workspace that already has it.
resource "terraform_data" "generated_redis_secrets" {
  input = sensitive({
    api     = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
    worker  = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
    monitor = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
  })

  lifecycle {
    ignore_changes = [input]
  }
}

# The Redis HA users' passwords (replication, the Sentinels on the
# instances) and the Sentinels' own, as generated_redis_secrets'.
resource "terraform_data" "generated_ha_secrets" {
  input = sensitive({
    replica   = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
    sentinel  = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
    sentinels = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
  })

  lifecycle {
    ignore_changes = [input]
  }
}

# The bootstrap admin token and the key task ids are derived with, per
# workspace like the passwords above.
resource "terraform_data" "generated_auth_secrets" {
  input = sensitive({
    admin_token = "cgadm_${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
    id_secret   = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
  })

  lifecycle {
    ignore_changes = [input]
  }
}

# Published beyond this host, the API must authenticate its clients:
# otherwise anyone who reaches it may submit, read and cancel every task.
resource "terraform_data" "exposure_guard" {
  input = var.bind_ip

  lifecycle {
    precondition {
      condition     = can(regex("^127\\.", var.bind_ip)) || var.auth == "required"
      error_message = "bind_ip ${var.bind_ip} publishes the API beyond this host, but auth is \"off\": anyone who reaches it could submit, read and cancel every task. Set auth = \"required\" (then create keys with terraform/control), or keep bind_ip on a loopback address such as 127.0.0.1."
    }
  }
}

resource "docker_image" "app" {
  count = var.app_image_override == "" ? 1 : 0

  name         = "calcgrid-app:${var.environment}"
  keep_locally = true # promoted environments may still run this image ID

  build {
    context    = local.repo_root
    dockerfile = "app/Dockerfile"
    build_args = {
      GO_BUILDER_IMAGE = var.go_builder_image
      RUNTIME_IMAGE    = var.runtime_image
      GOPROXY          = var.go_proxy
      GOFLAGS          = var.go_flags
      VERSION          = substr(local.app_source_hash, 0, 12)
    }
    label = {
      "calcgrid.env"    = var.environment
      "calcgrid.role"   = "app-image"
      "calcgrid.source" = local.app_source_hash
    }
  }

  triggers = {
    source = local.app_source_hash
  }
}

module "network" {
  source = "../modules/network"

  environment = var.environment
  app_subnet  = var.app_subnet
  target      = var.target

  depends_on = [terraform_data.workspace_guard]
}

locals {
  # What every role shares, validated once (here and in modules/container);
  # each role module declares only the attributes it reads.
  common = {
    environment = var.environment
    target      = var.target
    network_ids = module.network.ids
    networks    = { edge = module.network.edge, app = module.network.app, data = module.network.data, dash = module.network.dash }
    subnets     = module.network.subnets
    bind_ip     = var.bind_ip
    log         = { max_size = var.log_max_size, max_file = var.log_max_file }
  }
  # The app roles (api, worker, monitor) also share the image they run, the
  # diagnostic task types and how long finished tasks are kept; each gets
  # its own Redis user (role_app).
  app = merge(local.common, {
    image       = local.app_image
    diagnostics = var.diagnostics
    retention   = var.retention
  })
  # The dashboard reaches Redis on the dash network, the others on data.
  role_app = { for role, net in { api = "data", worker = "data", monitor = "dash" } : role => merge(local.app, {
    redis = merge(module.redis.connection[net], {
      username = role, password = local.redis_passwords[role], sentinel_password = module.redis.sentinel_password
    })
  }) }
}

module "redis" {
  source = "../modules/redis"

  common           = local.common
  image            = var.redis_image
  user             = var.redis_user
  passwords        = local.redis_passwords
  monitor_readonly = var.monitor.readonly
  redis            = var.redis
}

module "api" {
  source = "../modules/api"

  app        = local.role_app.api
  api        = var.api
  workers    = var.worker
  app_subnet = module.network.app_subnet
  auth = {
    mode        = var.auth
    admin_token = terraform_data.generated_auth_secrets.output.admin_token
    id_secret   = terraform_data.generated_auth_secrets.output.id_secret
  }

  depends_on = [terraform_data.exposure_guard]
}

module "worker" {
  source = "../modules/worker"

  app    = local.role_app.worker
  worker = var.worker
}

module "loadbalancer" {
  source = "../modules/loadbalancer"

  common       = local.common
  image        = var.nginx_image
  user         = var.nginx_user
  upstreams    = module.api.upstreams
  loadbalancer = merge(var.loadbalancer, { port = var.http_port })
}

module "monitor" {
  source = "../modules/monitor"

  app = local.role_app.monitor
  monitor = merge(var.monitor, {
    port = var.monitor_port, password = local.monitor_password, prometheus_url = module.prometheus.internal_url
  })
}

module "prometheus" {
  source = "../modules/prometheus"

  common     = local.common
  image      = var.prometheus_image
  prometheus = merge(var.prometheus, { port = var.prometheus_port })
  targets = {
    api    = module.api.metrics_targets
    worker = module.worker.metrics_targets
    queues = { targets = module.monitor.metrics_targets, user = var.monitor.user, password = local.monitor_password }
    dns    = { for role, name in { api = module.api.metrics_dns, worker = module.worker.metrics_dns } : role => name if name != null }
  }
  rules = { for f in fileset("${local.repo_root}/monitoring/rules", "*.rules.yml") : f => file("${local.repo_root}/monitoring/rules/${f}") }
}

check "host_capacity" {
  assert {
    condition     = local.limits.memory_mb <= var.host_memory_mb
    error_message = "The containers' memory limits add up to ${local.limits.memory_mb} MB, more than the host's ${var.host_memory_mb} MB: under load the kernel may OOM-kill containers. Shrink environments/${var.environment}.tfvars or raise host_memory_mb."
  }
  assert {
    condition     = local.limits.cpus <= var.host_cpus
    error_message = "The containers' CPU limits add up to ${local.limits.cpus} cores, more than the host's ${var.host_cpus}: they will compete for CPU under load."
  }
}
