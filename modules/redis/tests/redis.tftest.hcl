mock_provider "docker" {}

variables {
  common   = { environment = "dev", networks = { data = "calcgrid-dev-data", dash = "calcgrid-dev-dash" } }
  image    = "redis:7.4.2-bookworm"
  user     = "999:999"
  password = "0123456789abcdef0123456789abcdef"
  redis    = { memory_mb = 256, maxmemory_mb = 192, cpus = 0.25, appendonly = true, appendfsync = "everysec" }
}

run "durable_private_redis" {
  command = plan

  assert {
    condition     = output.name == "calcgrid-dev-redis-1" && output.volume == "calcgrid-dev-redis-data" && output.address == "calcgrid-dev-redis-1:6379"
    error_message = "redis is calcgrid-<env>-redis-1:6379 with volume calcgrid-<env>-redis-data"
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

run "environment_variables" {
  command = plan

  assert {
    condition     = module.container.env["calcgrid-dev-redis-1"] == tolist(["REDISCLI_AUTH=0123456789abcdef0123456789abcdef", "REDIS_CONFIG=${local.config}"])
    error_message = "Redis gets its config and its password in the environment, nothing else (no CALCGRID_* variables)"
  }
}

run "only_on_the_internal_networks" {
  command = plan

  assert {
    condition = jsonencode(module.container.networks["calcgrid-dev-redis-1"]) == jsonencode({
      "calcgrid-dev-dash" = { aliases = ["redis"], ipv4_address = null }
      "calcgrid-dev-data" = { aliases = ["redis"], ipv4_address = null }
    })
    error_message = "Redis joins the data network (API, workers) and the dash network (the dashboard), alias redis on both, and is never published"
  }
}

run "aof_configurable" {
  command = plan

  variables {
    redis = merge(var.redis, { appendfsync = "always" })
  }
  assert {
    condition     = strcontains(local.config, "appendfsync always")
    error_message = "appendfsync follows the variable"
  }
}

run "refuses_maxmemory_without_headroom" {
  command = plan

  variables {
    redis = merge(var.redis, { maxmemory_mb = 250 })
  }
  expect_failures = [docker_volume.data]
}

run "example" {
  command = plan

  module {
    source = "./examples/basic"
  }
  variables {
    password = "0123456789abcdef0123456789abcdef"
  }
  assert {
    condition     = output.address == "calcgrid-dev-redis-1:6379"
    error_message = "the example plans the dev Redis"
  }
}
