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

  redis_password   = var.redis_password != "" ? var.redis_password : terraform_data.generated_secrets.output.redis
  monitor_password = var.monitor_password != "" ? var.monitor_password : terraform_data.generated_secrets.output.monitor

  limits = {
    memory_mb = (var.redis.memory_mb + var.api.replicas * var.api.memory_mb + var.worker.replicas * var.worker.memory_mb
    + var.loadbalancer.memory_mb + var.monitor.memory_mb)
    cpus = (var.redis.cpus + var.api.replicas * var.api.cpus + var.worker.replicas * var.worker.cpus
    + var.loadbalancer.cpus + var.monitor.cpus)
  }
}

# Refuses a plan that applies one environment's variables in another
# workspace (each workspace has its own state: mixing them would replace the
# wrong environment's containers).
resource "terraform_data" "workspace_guard" {
  input = var.environment

  lifecycle {
    precondition {
      condition     = var.environment == terraform.workspace
      error_message = "environment is \"${var.environment}\" but the selected workspace is \"${terraform.workspace}\". Run `terraform workspace select -or-create ${var.environment}` (or use `make up ENV=${var.environment}`) before applying environments/${var.environment}.tfvars."
    }
  }
}

# Per-workspace secrets without an extra provider: uuid() is random, and
# ignore_changes keeps the first value in this workspace's state, so the
# password never appears in the repository and stays stable across applies.
resource "terraform_data" "generated_secrets" {
  input = {
    redis   = "${replace(uuid(), "-", "")}${replace(uuid(), "-", "")}"
    monitor = replace(uuid(), "-", "")
  }

  lifecycle {
    ignore_changes = [input]
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

  depends_on = [terraform_data.workspace_guard]
}

module "redis" {
  source = "../modules/redis"

  environment  = var.environment
  image        = var.redis_image
  user         = var.redis_user
  network      = module.network.data
  password     = local.redis_password
  memory_mb    = var.redis.memory_mb
  maxmemory_mb = var.redis.maxmemory_mb
  cpus         = var.redis.cpus
  appendonly   = var.redis.appendonly
  appendfsync  = var.redis.appendfsync
  log_max_size = var.log_max_size
  log_max_file = var.log_max_file
}

module "api" {
  source = "../modules/api"

  environment       = var.environment
  image             = local.app_image
  replicas          = var.api.replicas
  redis_addr        = module.redis.address
  redis_password    = local.redis_password
  app_network       = module.network.app
  app_subnet        = module.network.app_subnet
  data_network      = module.network.data
  memory_mb         = var.api.memory_mb
  cpus              = var.api.cpus
  diagnostics       = var.diagnostics
  queue_max_pending = var.api.queue_max_pending
  log_max_size      = var.log_max_size
  log_max_file      = var.log_max_file
}

module "worker" {
  source = "../modules/worker"

  environment      = var.environment
  image            = local.app_image
  replicas         = var.worker.replicas
  redis_addr       = module.redis.address
  redis_password   = local.redis_password
  data_network     = module.network.data
  memory_mb        = var.worker.memory_mb
  cpus             = var.worker.cpus
  concurrency      = var.worker.concurrency
  shutdown_timeout = var.worker.shutdown_timeout
  diagnostics      = var.diagnostics
  log_max_size     = var.log_max_size
  log_max_file     = var.log_max_file
}

module "loadbalancer" {
  source = "../modules/loadbalancer"

  environment      = var.environment
  image            = var.nginx_image
  user             = var.nginx_user
  edge_network     = module.network.edge
  app_network      = module.network.app
  upstreams        = module.api.upstreams
  published_port   = var.http_port
  bind_ip          = var.bind_ip
  memory_mb        = var.loadbalancer.memory_mb
  cpus             = var.loadbalancer.cpus
  rate_limit_rps   = var.loadbalancer.rate_limit_rps
  rate_limit_burst = var.loadbalancer.rate_limit_burst
  log_max_size     = var.log_max_size
  log_max_file     = var.log_max_file
}

module "monitor" {
  source = "../modules/monitor"

  environment         = var.environment
  image               = local.app_image
  redis_addr          = module.redis.address
  redis_password      = local.redis_password
  data_network        = module.network.data
  edge_network        = module.network.edge
  published_port      = var.monitor_port
  bind_ip             = var.bind_ip
  memory_mb           = var.monitor.memory_mb
  cpus                = var.monitor.cpus
  readonly            = var.monitor.readonly
  basic_auth_user     = var.monitor.user
  basic_auth_password = local.monitor_password
  log_max_size        = var.log_max_size
  log_max_file        = var.log_max_file
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
