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
    condition     = alltrue([for p in values(nonsensitive(var.passwords)) : !strcontains(nonsensitive(local.config), p) if p != null])
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

run "ha_primary_replicas_and_sentinels" {
  command = plan

  variables {
    common = merge(var.common, { subnets = { data = "10.231.1.64/26", dash = "10.231.1.128/26" } })
    redis  = merge(var.redis, { ha = true })
    passwords = merge(var.passwords, {
      replica   = "4123456789abcdef0123456789abcdef"
      sentinel  = "5123456789abcdef0123456789abcdef"
      sentinels = "6123456789abcdef0123456789abcdef"
    })
  }
  assert {
    condition     = jsonencode(output.names) == jsonencode(["calcgrid-dev-redis-1", "calcgrid-dev-redis-2", "calcgrid-dev-redis-3"]) && jsonencode(output.sentinel_names) == jsonencode(["calcgrid-dev-sentinel-1", "calcgrid-dev-sentinel-2", "calcgrid-dev-sentinel-3"])
    error_message = "HA is three instances and three Sentinels"
  }
  assert {
    condition     = jsonencode(output.volumes) == jsonencode(["calcgrid-dev-redis-data", "calcgrid-dev-redis-2-data", "calcgrid-dev-redis-3-data"]) && output.volume == "calcgrid-dev-redis-data"
    error_message = "each instance has its own data volume; the first keeps the single instance's name"
  }
  assert {
    condition = (output.address == null && output.connection.data.master == "calcgrid"
    && jsonencode(output.connection.dash.sentinels) == jsonencode(["calcgrid-dev-sentinel-1:26379", "calcgrid-dev-sentinel-2:26379", "calcgrid-dev-sentinel-3:26379"]))
    error_message = "clients reach the primary through the Sentinels, by the master name calcgrid"
  }
  assert {
    condition = (strcontains(nonsensitive(local.config), "\nmin-replicas-to-write 1\n") && strcontains(nonsensitive(local.config), "\nmasteruser replica\n")
    && strcontains(nonsensitive(local.config), "\nuser replica on #${sha256("4123456789abcdef0123456789abcdef")} -@all +psync +replconf +ping\n"))
    error_message = "a primary without a replica refuses writes, and replicas log in as replica, which may only replicate"
  }
  assert {
    condition     = !strcontains(local.rules.sentinel, "-config") && strcontains(local.rules.sentinel, "+config|rewrite") && !strcontains(local.rules.sentinel, "+@")
    error_message = "the sentinel user gets the commands of a failover (CONFIG REWRITE included, or its MULTI aborts) and no deny list"
  }
  assert {
    condition = (strcontains(nonsensitive(local.sentinel_config), "sentinel monitor calcgrid PRIMARY 6379 2")
      && strcontains(nonsensitive(local.sentinel_config), "requirepass 6123456789abcdef0123456789abcdef")
    && !strcontains(nonsensitive(local.sentinel_config), "4123456789abcdef0123456789abcdef"))
    error_message = "Sentinels need 2 votes, guard themselves with the sentinels password, and never hold replica's"
  }
  assert {
    condition     = jsonencode(module.container.networks["calcgrid-dev-redis-2"]) == jsonencode({ "calcgrid-dev-dash" = { aliases = [], ipv4_address = "10.231.1.150" }, "calcgrid-dev-data" = { aliases = [], ipv4_address = "10.231.1.86" } })
    error_message = "with HA each instance is pinned on both networks (host 21 + n), and no shared redis alias would name any of the three"
  }
  assert {
    condition = (output.connection.data.hosts["calcgrid-dev-redis-1"] == "10.231.1.85" && output.connection.dash.hosts["calcgrid-dev-redis-1"] == "10.231.1.149"
    && output.connection.data.hosts["calcgrid-dev-sentinel-3"] == "10.231.1.97" && length(output.connection.data.hosts) == 6)
    error_message = "clients resolve the instances and Sentinels through /etc/hosts, each with the addresses of its own network"
  }
}

run "ha_needs_its_passwords" {
  command = plan

  variables {
    common = merge(var.common, { subnets = { data = "10.231.1.64/26", dash = "10.231.1.128/26" } })
    redis  = merge(var.redis, { ha = true })
  }
  expect_failures = [var.passwords]
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

run "swarm_one_service_by_name" {
  command = plan

  variables {
    common = { environment = "swarm", target = "swarm", networks = { data = "calcgrid-swarm-data", dash = "calcgrid-swarm-dash" } }
  }
  assert {
    condition     = output.service == "calcgrid-swarm-redis" && output.address == "calcgrid-swarm-redis:6379" && output.name == "calcgrid-swarm-redis" && output.names == []
    error_message = "on swarm Redis is one service, reached by its name; no container"
  }
  assert {
    condition     = output.volume == "calcgrid-swarm-redis-data"
    error_message = "the data volume keeps its name on swarm (make down keeps it, destroy-data deletes it)"
  }
}

run "refuses_ha_on_swarm" {
  command = plan

  variables {
    common = { environment = "swarm", target = "swarm", networks = { data = "calcgrid-swarm-data", dash = "calcgrid-swarm-dash" }, subnets = { data = "10.231.5.64/26", dash = "10.231.5.128/26" } }
    redis  = { memory_mb = 256, maxmemory_mb = 192, cpus = 0.25, appendonly = true, appendfsync = "everysec", ha = true }
    passwords = {
      admin     = "0123456789abcdef0123456789abcdef"
      api       = "1123456789abcdef0123456789abcdef"
      worker    = "2123456789abcdef0123456789abcdef"
      monitor   = "3123456789abcdef0123456789abcdef"
      replica   = "4123456789abcdef0123456789abcdef"
      sentinel  = "5123456789abcdef0123456789abcdef"
      sentinels = "6123456789abcdef0123456789abcdef"
    }
  }
  expect_failures = [docker_volume.data]
}
