mock_provider "docker" {}

variables {
  app = {
    environment = "prod"
    image       = "calcgrid-app:prod"
    redis       = { address = "calcgrid-prod-redis-1:6379", username = "api", password = "0123456789abcdef0123456789abcdef" }
    networks    = { app = "calcgrid-prod-app", data = "calcgrid-prod-data" }
    diagnostics = false
  }
  api        = { replicas = 3, memory_mb = 512, cpus = 0.5, queue_max_pending = 5000 }
  workers    = { memory_mb = 2048, cpus = 2, concurrency = 4 }
  app_subnet = "10.231.3.0/24"
}

run "three_replicas_with_pinned_upstreams" {
  command = plan

  assert {
    condition     = output.names == ["calcgrid-prod-api-1", "calcgrid-prod-api-2", "calcgrid-prod-api-3"]
    error_message = "three API replicas named calcgrid-<env>-api-<n>"
  }
  assert {
    condition = output.upstreams == [
      { name = "calcgrid-prod-api-1", address = "10.231.3.11:8080" },
      { name = "calcgrid-prod-api-2", address = "10.231.3.12:8080" },
      { name = "calcgrid-prod-api-3", address = "10.231.3.13:8080" },
    ]
    error_message = "replica n is pinned to host 10+n of the app subnet"
  }
}

run "environment_variables" {
  command = plan

  assert {
    condition = module.container.env["calcgrid-prod-api-2"] == tolist([
      "CALCGRID_AUTH=off",
      "CALCGRID_DIAGNOSTICS=0",
      "CALCGRID_INSTANCE=calcgrid-prod-api-2",
      "CALCGRID_LISTEN=10.231.3.12:8080",
      "CALCGRID_QUEUE_MAX_PENDING=5000",
      "CALCGRID_REDIS_ADDR=calcgrid-prod-redis-1:6379",
      "CALCGRID_REDIS_PASSWORD_FILE=/run/secrets/redis-password",
      "CALCGRID_REDIS_USERNAME=api",
      "CALCGRID_TASK_MEMORY_MB=0",
      "CALCGRID_TASK_WORK_BUDGET=0s",
      "CALCGRID_WORKER_CONCURRENCY=4",
      "CALCGRID_WORKER_CPUS=2",
      "CALCGRID_WORKER_MEMORY_MB=2048",
    ])
    error_message = "each API replica gets its listen address, Redis, diagnostics off, queue_max_pending, the workers' resources (the task budgets derive from them) and its own instance name"
  }
}

run "task_budget_overrides" {
  command = plan

  variables {
    workers = { memory_mb = 2048, cpus = 2, concurrency = 4, task_memory_mb = 300, task_work_s = 600 }
  }
  assert {
    condition = alltrue([for v in ["CALCGRID_TASK_MEMORY_MB=300", "CALCGRID_TASK_WORK_BUDGET=600s"] :
    contains(module.container.env["calcgrid-prod-api-1"], v)])
    error_message = "the API gets the workers' task budget overrides, to refuse what they would"
  }
}

run "joins_the_app_and_data_networks" {
  command = plan

  assert {
    condition = jsonencode(module.container.networks["calcgrid-prod-api-2"]) == jsonencode({
      "calcgrid-prod-app"  = { aliases = ["api"], ipv4_address = "10.231.3.12" }
      "calcgrid-prod-data" = { aliases = [], ipv4_address = null }
    })
    error_message = "an API replica joins the app network (alias api, pinned address) and the data network, nothing else"
  }
}

run "diagnostics_on" {
  command = plan

  variables {
    app = merge(var.app, { diagnostics = true })
  }
  assert {
    condition     = contains(module.container.env["calcgrid-prod-api-1"], "CALCGRID_DIAGNOSTICS=1")
    error_message = "diagnostics follows app.diagnostics"
  }
}

run "example" {
  command = plan

  module {
    source = "./examples/basic"
  }
  variables {
    redis_password = "0123456789abcdef0123456789abcdef"
  }
  assert {
    condition     = [for u in output.upstreams : u.address] == ["10.231.1.11:8080", "10.231.1.12:8080", "10.231.1.13:8080"]
    error_message = "the example pins three replicas in the dev app subnet"
  }
}

run "auth_required_gets_its_secrets_as_files" {
  command = plan

  variables {
    auth = { mode = "required", admin_token = "cgadm_0123456789abcdef", id_secret = "0123456789abcdef0123456789abcdef" }
  }
  assert {
    condition = alltrue([for v in ["CALCGRID_AUTH=required", "CALCGRID_ADMIN_TOKEN_FILE=/run/secrets/admin-token", "CALCGRID_ID_SECRET_FILE=/run/secrets/id-secret"] :
    contains(nonsensitive(module.container.env["calcgrid-prod-api-1"]), v)])
    error_message = "with auth required the API gets CALCGRID_AUTH and the files of the admin token and the id secret"
  }
  assert {
    condition     = keys(module.container.secrets["calcgrid-prod-api-1"]) == ["/run/secrets/admin-token", "/run/secrets/id-secret", "/run/secrets/redis-password"]
    error_message = "the admin token and the id secret are files beside the Redis password, never variables"
  }
}

run "refuses_a_short_admin_token" {
  command = plan

  variables {
    auth = { mode = "required", admin_token = "short", id_secret = "0123456789abcdef0123456789abcdef" }
  }
  expect_failures = [var.auth]
}
