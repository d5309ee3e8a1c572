# `terraform test` runs in the "default" workspace, so the happy path uses an
# environment of that name; the guard is tested with a mismatching one.
mock_provider "docker" {}

variables {
  environment  = "default"
  http_port    = 18090
  monitor_port = 15590
  app_subnet   = "10.231.9.0/24"
  redis        = { memory_mb = 256, maxmemory_mb = 192, cpus = 0.25 }
  api          = { memory_mb = 128, cpus = 0.25 }
  worker       = { memory_mb = 384, cpus = 0.5, concurrency = 2 }
  loadbalancer = { memory_mb = 64, cpus = 0.25 }
  monitor      = { memory_mb = 64, cpus = 0.1 }
}

run "composes_the_stack" {
  command = plan

  assert {
    condition = output.containers == {
      api          = ["calcgrid-default-api-1", "calcgrid-default-api-2", "calcgrid-default-api-3"]
      worker       = ["calcgrid-default-worker-1", "calcgrid-default-worker-2", "calcgrid-default-worker-3"]
      redis        = ["calcgrid-default-redis-1"]
      loadbalancer = ["calcgrid-default-loadbalancer-1"]
      monitor      = ["calcgrid-default-monitor-1"]
    }
    error_message = "container names carry the environment, by role"
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18090" && output.monitor_url == "http://127.0.0.1:15590/"
    error_message = "endpoint and monitor_url use the environment's ports on 127.0.0.1"
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
