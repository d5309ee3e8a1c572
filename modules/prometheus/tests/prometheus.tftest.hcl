mock_provider "docker" {}

variables {
  common = {
    environment = "dev"
    networks    = { app = "calcgrid-dev-app", data = "calcgrid-dev-data", dash = "calcgrid-dev-dash", edge = "calcgrid-dev-edge" }
    bind_ip     = "127.0.0.1"
  }
  image      = "prom/prometheus:v2.53.4"
  prometheus = { memory_mb = 192, cpus = 0.2, scrape_interval_s = 5, retention_hours = 6, storage_mb = 64, port = 19090 }
  targets = {
    api    = { "calcgrid-dev-api-1:8080" = "10.231.1.11:8080", "calcgrid-dev-api-2:8080" = "10.231.1.12:8080" }
    worker = { "calcgrid-dev-worker-1:9090" = "calcgrid-dev-worker-1:9090" }
    queues = { targets = ["calcgrid-dev-monitor-1:5555"], user = "admin", password = "correct-horse-battery" }
  }
  rules = {
    "b.rules.yml" = "groups: [{name: b, rules: [{alert: B, expr: up == 0}]}]"
    "a.rules.yml" = "groups: [{name: a, rules: [{alert: A, expr: vector(1)}]}]"
  }
}

run "published_on_loopback" {
  command = plan

  assert {
    condition     = output.name == "calcgrid-dev-prometheus-1" && output.url == "http://127.0.0.1:19090" && output.internal_url == "http://calcgrid-dev-prometheus-1:9090"
    error_message = "Prometheus is calcgrid-<env>-prometheus-1, published on 127.0.0.1:<port>, reached by the dashboard by name"
  }
}

run "scrapes_every_instance_with_the_rules_jobs" {
  command = plan

  assert {
    condition = yamldecode(local.config).scrape_configs == [
      { job_name = "calcgrid-api", static_configs = [
        { targets = ["10.231.1.11:8080"], labels = { environment = "dev", instance = "calcgrid-dev-api-1:8080" } },
        { targets = ["10.231.1.12:8080"], labels = { environment = "dev", instance = "calcgrid-dev-api-2:8080" } },
      ] },
      { job_name = "calcgrid-worker", static_configs = [{ targets = ["calcgrid-dev-worker-1:9090"], labels = { environment = "dev", instance = "calcgrid-dev-worker-1:9090" } }] },
      {
        job_name       = "calcgrid-queues"
        static_configs = [{ targets = ["calcgrid-dev-monitor-1:5555"], labels = { environment = "dev" } }]
        basic_auth     = { username = "admin", password_file = "/run/secrets/monitor-password" }
      },
    ]
    error_message = "one target per API and worker under the job names the alert rules expect, and the dashboard's queue collector with its basic auth"
  }
  assert {
    condition     = yamldecode(local.config).global == { scrape_interval = "5s", evaluation_interval = "5s" }
    error_message = "the rules are evaluated as often as the targets are scraped"
  }
}

run "loads_every_rule_file" {
  command = plan

  assert {
    condition     = [for g in yamldecode(local.rules).groups : g.name] == ["a", "b"]
    error_message = "the groups of every rule file are loaded, in file-name order"
  }
}

run "joins_the_app_data_dash_and_edge_networks" {
  command = plan

  assert {
    condition = jsonencode(module.container.networks["calcgrid-dev-prometheus-1"]) == jsonencode({
      "calcgrid-dev-app"  = { aliases = [], ipv4_address = null }
      "calcgrid-dev-dash" = { aliases = [], ipv4_address = null }
      "calcgrid-dev-data" = { aliases = [], ipv4_address = null }
      "calcgrid-dev-edge" = { aliases = [], ipv4_address = null }
    })
    error_message = "Prometheus joins the app network (the API), the data network (the workers), the dash network (the dashboard) and the edge network (published)"
  }
}

run "storage_within_memory" {
  command = plan

  variables {
    prometheus = { memory_mb = 192, cpus = 0.2, scrape_interval_s = 5, retention_hours = 6, storage_mb = 128, port = 19090 }
  }
  expect_failures = [var.prometheus]
}

run "targets_are_host_port" {
  command = plan

  variables {
    targets = {
      api    = { "calcgrid-dev-api-1:8080" = "http://10.231.1.11:8080/metrics" }
      worker = {}
      queues = { targets = [], user = "admin", password = "x" }
    }
  }
  expect_failures = [var.targets]
}

run "example" {
  command = plan

  module {
    source = "./examples/basic"
  }
  variables {
    monitor_password = "correct-horse-battery"
  }
}

# target swarm: the API and worker tasks are found by DNS.
run "swarm_discovers_tasks_by_dns" {
  command = plan

  variables {
    targets = {
      api    = {}
      worker = {}
      queues = { targets = ["calcgrid-swarm-monitor-1:5555"], user = "admin", password = "correct-horse-battery" }
      dns    = { api = "tasks.calcgrid-swarm-api:8080", worker = "tasks.calcgrid-swarm-worker:9090" }
    }
  }
  assert {
    condition = [for c in yamldecode(local.config).scrape_configs : c if c.job_name != "calcgrid-queues"] == [
      { job_name = "calcgrid-api", dns_sd_configs = [{ names = ["tasks.calcgrid-swarm-api"], type = "A", port = 8080, refresh_interval = "5s" }], relabel_configs = [{ target_label = "environment", replacement = "dev" }] },
      { job_name = "calcgrid-worker", dns_sd_configs = [{ names = ["tasks.calcgrid-swarm-worker"], type = "A", port = 9090, refresh_interval = "5s" }], relabel_configs = [{ target_label = "environment", replacement = "dev" }] },
    ]
    error_message = "on swarm every API and worker task is a target found at tasks.<service>, labelled with the environment"
  }
}

run "refuses_dns_for_another_job" {
  command = plan

  variables {
    targets = {
      api    = {}
      worker = {}
      queues = { targets = ["calcgrid-swarm-monitor-1:5555"], user = "admin", password = "correct-horse-battery" }
      dns    = { redis = "tasks.calcgrid-swarm-redis:6379" }
    }
  }
  expect_failures = [var.targets]
}
