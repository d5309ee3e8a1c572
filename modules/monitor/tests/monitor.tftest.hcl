mock_provider "docker" {}

variables {
  environment         = "dev"
  image               = "calcgrid-app:dev"
  redis_addr          = "calcgrid-dev-redis-1:6379"
  redis_password      = "0123456789abcdef0123456789abcdef"
  data_network        = "calcgrid-dev-data"
  edge_network        = "calcgrid-dev-edge"
  published_port      = 15555
  memory_mb           = 64
  cpus                = 0.1
  basic_auth_password = "correct-horse-battery"
}

run "published_on_loopback" {
  command = plan

  assert {
    condition     = output.name == "calcgrid-dev-monitor-1" && output.url == "http://127.0.0.1:15555/"
    error_message = "the dashboard is calcgrid-<env>-monitor-1 on 127.0.0.1:<published_port>"
  }
}

run "refuses_privileged_port" {
  command = plan

  variables {
    published_port = 80
  }
  expect_failures = [var.published_port]
}

run "refuses_short_password" {
  command = plan

  variables {
    basic_auth_password = "admin"
  }
  expect_failures = [var.basic_auth_password]
}
