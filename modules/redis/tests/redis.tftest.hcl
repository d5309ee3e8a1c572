mock_provider "docker" {}

variables {
  environment  = "dev"
  image        = "redis:7.4.2-bookworm"
  network      = "calcgrid-dev-data"
  password     = "0123456789abcdef0123456789abcdef"
  memory_mb    = 256
  maxmemory_mb = 192
  cpus         = 0.25
}

run "durable_private_redis" {
  command = plan

  assert {
    condition     = output.name == "calcgrid-dev-redis-1" && output.volume == "calcgrid-dev-redis-data"
    error_message = "redis is calcgrid-<env>-redis-1 with volume calcgrid-<env>-redis-data"
  }
  assert {
    condition     = length(module.container.ids) == 1
    error_message = "one redis container"
  }
  assert {
    condition     = strcontains(local.config, "appendonly yes") && strcontains(local.config, "appendfsync everysec") && strcontains(local.config, "maxmemory 192mb") && strcontains(local.config, "maxmemory-policy noeviction")
    error_message = "AOF on, everysec, maxmemory with noeviction"
  }
  assert {
    condition     = !strcontains(local.config, var.password)
    error_message = "the password is not part of the rendered config (it is appended at start from the environment)"
  }
}

run "aof_configurable" {
  command = plan

  variables {
    appendfsync = "always"
  }
  assert {
    condition     = strcontains(local.config, "appendfsync always")
    error_message = "appendfsync follows the variable"
  }
}

run "refuses_maxmemory_without_headroom" {
  command = plan

  variables {
    maxmemory_mb = 250
  }
  expect_failures = [docker_volume.data]
}

run "refuses_weak_password" {
  command = plan

  variables {
    password = "secret"
  }
  expect_failures = [var.password]
}

run "refuses_unknown_fsync_policy" {
  command = plan

  variables {
    appendfsync = "sometimes"
  }
  expect_failures = [var.appendfsync]
}
