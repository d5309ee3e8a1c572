mock_provider "docker" {}

variables {
  common = { environment = "dev", networks = { data = "calcgrid-dev-data", dash = "calcgrid-dev-dash" } }
  image  = "redis:7.4.10-bookworm"
  user   = "999:999"
  passwords = {
    admin   = "0123456789abcdef0123456789abcdef"
    api     = "1123456789abcdef0123456789abcdef"
    worker  = "2123456789abcdef0123456789abcdef"
    monitor = "3123456789abcdef0123456789abcdef"
  }
  monitor_readonly = true
  redis            = { memory_mb = 256, maxmemory_mb = 192, cpus = 0.25, appendonly = true, appendfsync = "everysec" }
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
    condition     = alltrue([for p in values(nonsensitive(var.passwords)) : !strcontains(nonsensitive(local.config), p)])
    error_message = "no password is part of the rendered config (only SHA-256 hashes)"
  }
}

run "one_user_per_role" {
  command = plan

  assert {
    condition     = strcontains(nonsensitive(local.config), "\nuser default on #${sha256(var.passwords.admin)} ~* &* +@all\n")
    error_message = "the default user is admin under another name (Redis 7.0 replays AOF transactions as default): no client gets in without admin's password"
  }
  assert {
    condition = alltrue([for name in ["admin", "api", "worker", "monitor"] :
    strcontains(nonsensitive(local.config), "\nuser ${name} on #${sha256(nonsensitive(var.passwords)[name])} ${local.rules[name]}")])
    error_message = "admin, api, worker and monitor each log in with their own password (as its SHA-256) and get their rules"
  }
  assert {
    condition     = local.rules.admin == "~* &* +@all"
    error_message = "admin has every command"
  }
  assert {
    condition = alltrue([for name in ["api", "worker", "monitor"] :
    endswith(local.rules[name], " -flushall -flushdb -config -debug -shutdown -keys -monitor -acl")])
    error_message = "every app user ends with the denials, after anything its rules grant"
  }
  assert {
    condition     = strcontains(local.rules.monitor, " -@all +@read ") && !strcontains(local.rules.monitor, "+@all")
    error_message = "with monitor_readonly the monitor user reads only"
  }
}

run "monitor_writes_unless_readonly" {
  command = plan

  variables {
    monitor_readonly = false
  }
  assert {
    condition     = startswith(local.rules.monitor, "~* &* +@all -@dangerous")
    error_message = "without monitor_readonly the monitor user may pause, delete and run (all but @dangerous)"
  }
}

run "secrets_as_files" {
  command = plan

  assert {
    condition     = length(nonsensitive(module.container.env["calcgrid-dev-redis-1"])) == 0
    error_message = "Redis gets no environment variables: its config (with the password hashes) and admin's password are files"
  }
  assert {
    condition = jsonencode(module.container.secrets["calcgrid-dev-redis-1"]) == jsonencode({
      "/run/secrets/admin-password" = "0444"
      "/run/secrets/redis-admin"    = "0555"
      "/run/secrets/redis.conf"     = "0444"
    })
    error_message = "the config, admin's password and redis-admin (redis-cli as admin) are read-only files"
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
    passwords = {
      admin   = "0123456789abcdef0123456789abcdef"
      api     = "1123456789abcdef0123456789abcdef"
      worker  = "2123456789abcdef0123456789abcdef"
      monitor = "3123456789abcdef0123456789abcdef"
    }
  }
  assert {
    condition     = output.address == "calcgrid-dev-redis-1:6379"
    error_message = "the example plans the dev Redis"
  }
}
