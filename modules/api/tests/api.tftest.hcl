mock_provider "docker" {}

variables {
  environment    = "prod"
  image          = "calcgrid-app:prod"
  redis_addr     = "calcgrid-prod-redis-1:6379"
  redis_password = "0123456789abcdef0123456789abcdef"
  app_network    = "calcgrid-prod-app"
  data_network   = "calcgrid-prod-data"
  app_subnet     = "10.231.3.0/24"
  memory_mb      = 512
  cpus           = 0.5
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

run "refuses_zero_replicas" {
  command = plan

  variables {
    replicas = 0
  }
  expect_failures = [var.replicas]
}

run "refuses_root_user" {
  command = plan

  variables {
    user = "0:0"
  }
  expect_failures = [var.user]
}

run "refuses_relative_binary" {
  command = plan

  variables {
    binary = "calcgrid"
  }
  expect_failures = [var.binary]
}
