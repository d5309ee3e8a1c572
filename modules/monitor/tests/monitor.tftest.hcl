mock_provider "docker" {}

variables {
  app = {
    environment = "dev"
    image       = "calcgrid-app:dev"
    redis       = { address = "calcgrid-dev-redis-1:6379", username = "monitor", password = "0123456789abcdef0123456789abcdef" }
    networks    = { dash = "calcgrid-dev-dash", edge = "calcgrid-dev-edge" }
    bind_ip     = "127.0.0.1"
  }
  monitor = { memory_mb = 64, cpus = 0.1, readonly = false, user = "admin", password = "correct-horse-battery", port = 15555 }
}

run "published_on_loopback" {
  command = plan

  assert {
    condition     = output.name == "calcgrid-dev-monitor-1" && output.url == "http://127.0.0.1:15555/"
    error_message = "the dashboard is calcgrid-<env>-monitor-1 on 127.0.0.1:<port>"
  }
}

run "environment_variables" {
  command = plan

  assert {
    condition = module.container.env["calcgrid-dev-monitor-1"] == tolist([
      "CALCGRID_INSTANCE=calcgrid-dev-monitor-1",
      "CALCGRID_LISTEN=:5555",
      "CALCGRID_MONITOR_PASSWORD_FILE=/run/secrets/monitor-password",
      "CALCGRID_MONITOR_PROMETHEUS_URL=",
      "CALCGRID_MONITOR_READONLY=0",
      "CALCGRID_MONITOR_USER=admin",
      "CALCGRID_REDIS_ADDR=calcgrid-dev-redis-1:6379",
      "CALCGRID_REDIS_PASSWORD_FILE=/run/secrets/redis-password",
      "CALCGRID_REDIS_USERNAME=monitor",
    ])
    error_message = "the dashboard gets Redis, basic auth, read-only mode and its instance name; passwords as files"
  }
  assert {
    condition = jsonencode(module.container.secrets["calcgrid-dev-monitor-1"]) == jsonencode({
      "/run/secrets/monitor-password" = "0444"
      "/run/secrets/redis-password"   = "0444"
    })
    error_message = "the dashboard's basic-auth and Redis passwords are read-only files"
  }
}

run "joins_the_dash_and_edge_networks" {
  command = plan

  assert {
    condition = jsonencode(module.container.networks["calcgrid-dev-monitor-1"]) == jsonencode({
      "calcgrid-dev-dash" = { aliases = [], ipv4_address = null }
      "calcgrid-dev-edge" = { aliases = [], ipv4_address = null }
    })
    error_message = "the dashboard joins the dash network (Redis) and the edge network (published), not the app or data network"
  }
}

run "example" {
  command = plan

  module {
    source = "./examples/basic"
  }
  variables {
    redis_password = "0123456789abcdef0123456789abcdef"
    password       = "correct-horse-battery"
  }
  assert {
    condition     = output.url == "http://127.0.0.1:15555/"
    error_message = "the example publishes the dashboard on 127.0.0.1:15555"
  }
}
