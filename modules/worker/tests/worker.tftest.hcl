mock_provider "docker" {}

variables {
  environment    = "dev"
  image          = "calcgrid-app:dev"
  redis_addr     = "calcgrid-dev-redis-1:6379"
  redis_password = "0123456789abcdef0123456789abcdef"
  data_network   = "calcgrid-dev-data"
  memory_mb      = 384
  cpus           = 0.5
}

run "workers_only_on_the_data_network" {
  command = plan

  assert {
    condition     = output.names == ["calcgrid-dev-worker-1", "calcgrid-dev-worker-2", "calcgrid-dev-worker-3"]
    error_message = "three workers named calcgrid-<env>-worker-<n>"
  }
}

run "refuses_zero_concurrency" {
  command = plan

  variables {
    concurrency = 0
  }
  expect_failures = [var.concurrency]
}

run "refuses_bad_redis_addr" {
  command = plan

  variables {
    redis_addr = "redis"
  }
  expect_failures = [var.redis_addr]
}
