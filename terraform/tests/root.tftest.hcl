# `terraform test` runs in the "default" workspace, so the runs with
# hand-written variables use an environment of that name, and the guard is
# tested with a mismatching one. The runs that plan environments/<env>.tfvars
# override module.workspace (the selected workspace) with <env>: the plan is
# then the one `make up ENV=<env>` makes, guard included.
mock_provider "docker" {}

variables {
  environment     = "default"
  http_port       = 18090
  monitor_port    = 15590
  prometheus_port = 19190
  app_subnet      = "10.231.9.0/24"
  redis           = { memory_mb = 256, maxmemory_mb = 192, cpus = 0.25 }
  api             = { memory_mb = 128, cpus = 0.25 }
  worker          = { memory_mb = 384, cpus = 0.5, concurrency = 2 }
  loadbalancer    = { memory_mb = 64, cpus = 0.25 }
  monitor         = { memory_mb = 64, cpus = 0.1 }
}

run "composes_the_stack" {
  command = plan

  assert {
    condition = output.containers == {
      api          = ["calcgrid-default-api-1", "calcgrid-default-api-2", "calcgrid-default-api-3"]
      worker       = ["calcgrid-default-worker-1", "calcgrid-default-worker-2", "calcgrid-default-worker-3"]
      redis        = ["calcgrid-default-redis-1"]
      sentinel     = []
      loadbalancer = ["calcgrid-default-loadbalancer-1"]
      monitor      = ["calcgrid-default-monitor-1"]
      prometheus   = ["calcgrid-default-prometheus-1"]
    }
    error_message = "container names carry the environment, by role"
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18090" && output.monitor_url == "http://127.0.0.1:15590/" && output.prometheus_url == "http://127.0.0.1:19190"
    error_message = "endpoint, monitor_url and prometheus_url use the environment's ports on 127.0.0.1"
  }
  assert {
    condition     = output.networks == { edge = "calcgrid-default-edge", app = "calcgrid-default-app", data = "calcgrid-default-data", dash = "calcgrid-default-dash" }
    error_message = "networks are named by environment and purpose"
  }
  assert {
    condition     = length(docker_image.app) == 1
    error_message = "the app image is built when no override is given"
  }
}

run "promotion_skips_the_build" {
  command = plan

  variables {
    app_image_override = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }
  assert {
    condition     = length(docker_image.app) == 0 && output.app_image == var.app_image_override
    error_message = "with app_image_override nothing is built and the given image runs"
  }
}

run "refuses_another_workspace" {
  command = plan

  variables {
    environment = "staging"
  }
  expect_failures = [terraform_data.workspace_guard]
}

run "refuses_tag_as_override" {
  command = plan

  variables {
    app_image_override = "calcgrid-app:dev"
  }
  expect_failures = [var.app_image_override]
}

run "refuses_overlapping_subnet_sizes" {
  command = plan

  variables {
    app_subnet = "10.231.9.0/27"
  }
  expect_failures = [var.app_subnet]
}

run "refuses_zero_concurrency" {
  command = plan

  variables {
    worker = { memory_mb = 384, cpus = 0.5, concurrency = 0 }
  }
  expect_failures = [var.worker]
}

run "refuses_task_memory_over_the_go_limit" {
  command = plan

  variables {
    worker = { memory_mb = 384, cpus = 0.5, concurrency = 2, task_memory_mb = 200 }
  }
  expect_failures = [var.worker]
}

run "refuses_fractional_task_work" {
  command = plan

  variables {
    worker = { memory_mb = 384, cpus = 0.5, concurrency = 2, task_work_s = 0.5 }
  }
  expect_failures = [var.worker]
}

run "accepts_task_budget_overrides" {
  command = plan

  variables {
    worker = { memory_mb = 384, cpus = 0.5, concurrency = 2, task_memory_mb = 150, task_work_s = 60 }
  }
}

run "refuses_unbounded_queue" {
  command = plan

  variables {
    api = { memory_mb = 128, cpus = 0.25, queue_max_pending = 0 }
  }
  expect_failures = [var.api]
}

run "refuses_retention_beyond_the_archive" {
  command = plan

  variables {
    retention = { failed_hours = 2161 }
  }
  expect_failures = [var.retention]
}

run "refuses_retention_under_a_second" {
  command = plan

  variables {
    retention = { completed_hours = 0 }
  }
  expect_failures = [var.retention]
}

run "refuses_fractional_rate_limit" {
  command = plan

  variables {
    loadbalancer = { memory_mb = 64, cpus = 0.25, rate_limit_rps = 2.5 }
  }
  expect_failures = [var.loadbalancer]
}

run "refuses_a_non_loopback_bind_ip_without_auth" {
  command = plan

  variables {
    bind_ip = "0.0.0.0"
    auth    = "off"
  }
  expect_failures = [terraform_data.exposure_guard]
}

run "publishes_beyond_loopback_with_auth" {
  command = plan

  variables {
    bind_ip = "0.0.0.0"
    auth    = "required"
  }
  assert {
    condition     = output.endpoint == "http://0.0.0.0:18090"
    error_message = "with auth required, bind_ip may be any address"
  }
}

run "refuses_a_bind_ip_that_is_no_address" {
  command = plan

  variables {
    bind_ip = "localhost"
  }
  expect_failures = [var.bind_ip]
}

run "refuses_host_name_with_port" {
  command = plan

  variables {
    loadbalancer = { memory_mb = 64, cpus = 0.25, server_names = ["calcgrid.internal:8080"] }
  }
  expect_failures = [var.loadbalancer]
}

run "refuses_zero_write_rate" {
  command = plan

  variables {
    loadbalancer = { memory_mb = 64, cpus = 0.25, write_rate_limit_rps = 0 }
  }
  expect_failures = [var.loadbalancer]
}

run "refuses_unknown_fsync_policy" {
  command = plan

  variables {
    redis = { memory_mb = 256, maxmemory_mb = 192, cpus = 0.25, appendfsync = "sometimes" }
  }
  expect_failures = [var.redis]
}

run "refuses_monitor_user_with_spaces" {
  command = plan

  variables {
    monitor = { memory_mb = 64, cpus = 0.1, user = "the admin" }
  }
  expect_failures = [var.monitor]
}

run "refuses_weak_passwords" {
  command = plan

  variables {
    redis_password   = "secret"
    monitor_password = "admin"
  }
  expect_failures = [var.redis_password, var.monitor_password]
}

run "warns_when_limits_exceed_the_host" {
  command = plan

  variables {
    host_memory_mb = 1024
    host_cpus      = 1
  }
  expect_failures = [check.host_capacity]
}

run "passwords_are_generated_not_configured" {
  command = plan

  assert {
    condition     = var.redis_password == "" && var.monitor_password == ""
    error_message = "no password in the variables by default"
  }
}

run "one_redis_user_per_role" {
  command = plan

  override_resource {
    target          = terraform_data.generated_secrets
    override_during = plan
    values          = { output = { redis = "a0000000000000000000000000000000", monitor = "m0000000000000000000000000000000" } }
  }
  override_resource {
    target          = terraform_data.generated_redis_secrets
    override_during = plan
    values          = { output = { api = "b0000000000000000000000000000000", worker = "c0000000000000000000000000000000", monitor = "d0000000000000000000000000000000" } }
  }
  override_resource {
    target          = terraform_data.generated_ha_secrets
    override_during = plan
    values          = { output = { replica = "e0000000000000000000000000000000", sentinel = "f0000000000000000000000000000000", sentinels = "g0000000000000000000000000000000" } }
  }
  assert {
    condition = alltrue([for role in ["api", "worker", "monitor"] :
    local.role_app[role].redis.username == role && nonsensitive(local.role_app[role].redis.password == local.redis_passwords[role])])
    error_message = "each app role logs in to Redis as its own user with its own password"
  }
  assert {
    condition     = length(distinct(values(nonsensitive(local.redis_passwords)))) == 7
    error_message = "admin, api, worker, monitor and the Redis HA users (replica, sentinel) and Sentinels have seven different passwords"
  }
  assert {
    condition     = nonsensitive(local.redis_passwords.admin) == "a0000000000000000000000000000000" && nonsensitive(output.redis_password) == "a0000000000000000000000000000000"
    error_message = "the generated redis secret (an existing workspace's one password) is admin's, and output redis_password"
  }
  assert {
    condition     = issensitive(local.redis_passwords) && issensitive(local.monitor_password)
    error_message = "the generated secrets are sensitive wherever they flow"
  }
}

run "redis_password_is_admins" {
  command = plan

  variables {
    redis_password = "0123456789abcdef0123456789abcdef"
  }
  assert {
    condition     = nonsensitive(local.redis_passwords.admin) == "0123456789abcdef0123456789abcdef"
    error_message = "redis_password, when set, is the admin user's"
  }
}

# environments/*.tfvars as -var-file reads them.
run "environments" {
  module {
    source = "./tests/environments"
  }

  assert {
    condition     = keys(output.tfvars) == ["bench", "dev", "prod", "staging", "swarm"]
    error_message = "every file in environments/ has a run below that plans it"
  }
  assert {
    condition = alltrue([for name, v in output.tfvars : setsubtract(toset(keys(v)), ["target"]) == toset([
      "environment", "http_port", "monitor_port", "prometheus_port", "app_subnet", "diagnostics", "auth", "redis", "api", "worker", "loadbalancer", "monitor", "prometheus",
    ]) && v.environment == name])
    error_message = "each environment file sets exactly the variables the runs below pass (target optional: docker when absent), and its own name as environment"
  }
  assert {
    condition     = [for name, v in output.tfvars : name if lookup(v, "target", "docker") == "swarm"] == ["swarm"]
    error_message = "swarm is the one environment on target swarm"
  }
}

run "plans_dev" {
  command = plan

  variables {
    environment     = run.environments.tfvars.dev.environment
    http_port       = run.environments.tfvars.dev.http_port
    monitor_port    = run.environments.tfvars.dev.monitor_port
    prometheus_port = run.environments.tfvars.dev.prometheus_port
    app_subnet      = run.environments.tfvars.dev.app_subnet
    diagnostics     = run.environments.tfvars.dev.diagnostics
    auth            = run.environments.tfvars.dev.auth
    redis           = run.environments.tfvars.dev.redis
    api             = run.environments.tfvars.dev.api
    worker          = run.environments.tfvars.dev.worker
    loadbalancer    = run.environments.tfvars.dev.loadbalancer
    monitor         = run.environments.tfvars.dev.monitor
    prometheus      = run.environments.tfvars.dev.prometheus
  }
  override_module {
    target  = module.workspace
    outputs = { name = "dev" }
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18080" && output.monitor_url == "http://127.0.0.1:15555/" && output.prometheus_url == "http://127.0.0.1:19090" && output.containers.api[2] == "calcgrid-dev-api-3"
    error_message = "dev: endpoint 18080, dashboard 15555, Prometheus 19090, containers calcgrid-dev-*"
  }
}

run "plans_staging" {
  command = plan

  variables {
    environment     = run.environments.tfvars.staging.environment
    http_port       = run.environments.tfvars.staging.http_port
    monitor_port    = run.environments.tfvars.staging.monitor_port
    prometheus_port = run.environments.tfvars.staging.prometheus_port
    app_subnet      = run.environments.tfvars.staging.app_subnet
    diagnostics     = run.environments.tfvars.staging.diagnostics
    auth            = run.environments.tfvars.staging.auth
    redis           = run.environments.tfvars.staging.redis
    api             = run.environments.tfvars.staging.api
    worker          = run.environments.tfvars.staging.worker
    loadbalancer    = run.environments.tfvars.staging.loadbalancer
    monitor         = run.environments.tfvars.staging.monitor
    prometheus      = run.environments.tfvars.staging.prometheus
  }
  override_module {
    target  = module.workspace
    outputs = { name = "staging" }
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18081" && output.monitor_url == "http://127.0.0.1:15556/" && output.prometheus_url == "http://127.0.0.1:19091" && output.containers.worker[0] == "calcgrid-staging-worker-1"
    error_message = "staging: endpoint 18081, dashboard 15556, Prometheus 19091, containers calcgrid-staging-*"
  }
}

run "plans_prod" {
  command = plan

  variables {
    environment     = run.environments.tfvars.prod.environment
    http_port       = run.environments.tfvars.prod.http_port
    monitor_port    = run.environments.tfvars.prod.monitor_port
    prometheus_port = run.environments.tfvars.prod.prometheus_port
    app_subnet      = run.environments.tfvars.prod.app_subnet
    diagnostics     = run.environments.tfvars.prod.diagnostics
    auth            = run.environments.tfvars.prod.auth
    redis           = run.environments.tfvars.prod.redis
    api             = run.environments.tfvars.prod.api
    worker          = run.environments.tfvars.prod.worker
    loadbalancer    = run.environments.tfvars.prod.loadbalancer
    monitor         = run.environments.tfvars.prod.monitor
    prometheus      = run.environments.tfvars.prod.prometheus
  }
  override_module {
    target  = module.workspace
    outputs = { name = "prod" }
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18082" && output.monitor_url == "http://127.0.0.1:15557/" && output.prometheus_url == "http://127.0.0.1:19092" && output.redis_volume == "calcgrid-prod-redis-data"
    error_message = "prod: endpoint 18082, dashboard 15557, Prometheus 19092, volume calcgrid-prod-redis-data"
  }
  assert {
    condition = (output.containers.redis == ["calcgrid-prod-redis-1", "calcgrid-prod-redis-2", "calcgrid-prod-redis-3"]
    && output.containers.sentinel == ["calcgrid-prod-sentinel-1", "calcgrid-prod-sentinel-2", "calcgrid-prod-sentinel-3"])
    error_message = "prod runs Redis HA: three instances and three Sentinels"
  }
  assert {
    condition = alltrue([for role in ["api", "worker", "monitor"] :
      length(local.role_app[role].redis.sentinels) == 3 && local.role_app[role].redis.address == null
    && local.role_app[role].redis.master == "calcgrid"])
    error_message = "with Redis HA every app role finds the primary through the three Sentinels, never at a fixed address"
  }
}

# make bench's environment (bench/README.md).
run "plans_bench" {
  command = plan

  variables {
    environment     = run.environments.tfvars.bench.environment
    http_port       = run.environments.tfvars.bench.http_port
    monitor_port    = run.environments.tfvars.bench.monitor_port
    prometheus_port = run.environments.tfvars.bench.prometheus_port
    app_subnet      = run.environments.tfvars.bench.app_subnet
    diagnostics     = run.environments.tfvars.bench.diagnostics
    auth            = run.environments.tfvars.bench.auth
    redis           = run.environments.tfvars.bench.redis
    api             = run.environments.tfvars.bench.api
    worker          = run.environments.tfvars.bench.worker
    loadbalancer    = run.environments.tfvars.bench.loadbalancer
    monitor         = run.environments.tfvars.bench.monitor
    prometheus      = run.environments.tfvars.bench.prometheus
  }
  override_module {
    target  = module.workspace
    outputs = { name = "bench" }
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18083" && output.containers.api[0] == "calcgrid-bench-api-1"
    error_message = "bench: endpoint 18083, containers calcgrid-bench-* (calcbench reaches calcgrid-bench-api-1 on the app network)"
  }
}

# The single-node Swarm environment (target swarm).
run "plans_swarm" {
  command = plan

  variables {
    environment     = run.environments.tfvars.swarm.environment
    target          = run.environments.tfvars.swarm.target
    http_port       = run.environments.tfvars.swarm.http_port
    monitor_port    = run.environments.tfvars.swarm.monitor_port
    prometheus_port = run.environments.tfvars.swarm.prometheus_port
    app_subnet      = run.environments.tfvars.swarm.app_subnet
    diagnostics     = run.environments.tfvars.swarm.diagnostics
    auth            = run.environments.tfvars.swarm.auth
    redis           = run.environments.tfvars.swarm.redis
    api             = run.environments.tfvars.swarm.api
    worker          = run.environments.tfvars.swarm.worker
    loadbalancer    = run.environments.tfvars.swarm.loadbalancer
    monitor         = run.environments.tfvars.swarm.monitor
    prometheus      = run.environments.tfvars.swarm.prometheus
  }
  override_module {
    target  = module.workspace
    outputs = { name = "swarm" }
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18084" && output.target == "swarm"
    error_message = "swarm: endpoint 18084 on 127.0.0.1, target swarm"
  }
  assert {
    condition     = output.services == { api = "calcgrid-swarm-api", worker = "calcgrid-swarm-worker", redis = "calcgrid-swarm-redis" }
    error_message = "swarm: api, worker and redis are services named calcgrid-swarm-<role>"
  }
  assert {
    condition = (output.containers.api == [] && output.containers.worker == [] && output.containers.redis == []
      && output.containers.loadbalancer == ["calcgrid-swarm-loadbalancer-1"] && output.containers.monitor == ["calcgrid-swarm-monitor-1"]
    && output.containers.prometheus == ["calcgrid-swarm-prometheus-1"])
    error_message = "swarm: only the published edge (nginx, the dashboard, Prometheus) are containers"
  }
  assert {
    condition     = module.api.upstreams == [{ name = "calcgrid-swarm-api", address = "calcgrid-swarm-api:8080" }]
    error_message = "swarm: nginx reaches the API by its service's name"
  }
  assert {
    condition     = module.redis.address == "calcgrid-swarm-redis:6379" && local.role_app.worker.redis.address == "calcgrid-swarm-redis:6379"
    error_message = "swarm: the app roles reach Redis by its service's name"
  }
}

run "refuses_unknown_target" {
  command = plan

  variables {
    target = "nomad"
  }
  expect_failures = [var.target]
}
