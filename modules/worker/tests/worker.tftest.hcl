mock_provider "docker" {}

variables {
  app = {
    environment = "dev"
    image       = "calcgrid-app:dev"
    redis       = { address = "calcgrid-dev-redis-1:6379", username = "worker", password = "0123456789abcdef0123456789abcdef" }
    networks    = { data = "calcgrid-dev-data" }
    diagnostics = true
  }
  worker = { replicas = 3, memory_mb = 384, cpus = 0.5, concurrency = 2, shutdown_timeout = 30 }
}

run "three_workers" {
  command = plan

  assert {
    condition     = output.names == ["calcgrid-dev-worker-1", "calcgrid-dev-worker-2", "calcgrid-dev-worker-3"]
    error_message = "three workers named calcgrid-<env>-worker-<n>"
  }
}

run "environment_variables" {
  command = plan

  assert {
    condition = module.container.env["calcgrid-dev-worker-3"] == tolist([
      "CALCGRID_DIAGNOSTICS=1",
      "CALCGRID_INSTANCE=calcgrid-dev-worker-3",
      "CALCGRID_LISTEN=:9090",
      "CALCGRID_REDIS_ADDR=calcgrid-dev-redis-1:6379",
      "CALCGRID_REDIS_PASSWORD_FILE=/run/secrets/redis-password",
      "CALCGRID_REDIS_USERNAME=worker",
      "CALCGRID_SHUTDOWN_TIMEOUT=25s",
      "CALCGRID_TASK_MEMORY_MB=0",
      "CALCGRID_TASK_WORK_BUDGET=0s",
      "CALCGRID_WORKER_CONCURRENCY=2",
      "CALCGRID_WORKER_CPUS=0.5",
      "CALCGRID_WORKER_MEMORY_MB=384",
    ])
    error_message = "a worker gets Redis, diagnostics, its concurrency, memory and CPUs (its task budget derives from them), a shutdown timeout 5 s under Docker's and its own instance name"
  }
}

run "task_budget_overrides" {
  command = plan

  variables {
    worker = merge(var.worker, { task_memory_mb = 100, task_work_s = 60 })
  }
  assert {
    condition = alltrue([for v in ["CALCGRID_TASK_MEMORY_MB=100", "CALCGRID_TASK_WORK_BUDGET=60s"] :
    contains(module.container.env["calcgrid-dev-worker-1"], v)])
    error_message = "a worker gets its task budget overrides"
  }
}

run "only_on_the_data_network" {
  command = plan

  assert {
    condition = alltrue([for name, nets in module.container.networks :
    jsonencode(nets) == jsonencode({ "calcgrid-dev-data" = { aliases = [], ipv4_address = null } })])
    error_message = "workers join the data network only: they reach Redis and nothing else"
  }
}

run "docker_waits_for_the_requeue" {
  command = plan

  variables {
    worker = merge(var.worker, { shutdown_timeout = 3 })
  }
  assert {
    condition     = contains(module.container.env["calcgrid-dev-worker-1"], "CALCGRID_SHUTDOWN_TIMEOUT=1s")
    error_message = "the worker's own shutdown timeout is at least 1 s"
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
    condition     = output.names == ["calcgrid-dev-worker-1", "calcgrid-dev-worker-2", "calcgrid-dev-worker-3"]
    error_message = "the example plans three dev workers"
  }
}
