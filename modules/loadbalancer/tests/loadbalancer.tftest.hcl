mock_provider "docker" {}

variables {
  common = {
    environment = "dev"
    networks    = { edge = "calcgrid-dev-edge", app = "calcgrid-dev-app" }
    bind_ip     = "127.0.0.1"
  }
  image = "nginx:1.27.4-bookworm"
  user  = "101:101"
  upstreams = [
    { name = "calcgrid-dev-api-1", address = "10.231.1.11:8080" },
    { name = "calcgrid-dev-api-2", address = "10.231.1.12:8080" },
    { name = "calcgrid-dev-api-3", address = "10.231.1.13:8080" },
  ]
  loadbalancer = { memory_mb = 64, cpus = 0.25, rate_limit_rps = 10, rate_limit_burst = 20, client_max_body_size = "256k", submission_max_body_size = "2m", keepalive = 32, port = 18080 }
}

run "config_balances_and_retries" {
  command = plan

  assert {
    condition     = output.name == "calcgrid-dev-loadbalancer-1" && output.endpoint == "http://127.0.0.1:18080"
    error_message = "nginx is calcgrid-<env>-loadbalancer-1 on 127.0.0.1:<port>"
  }
  assert {
    condition     = strcontains(output.config, "least_conn;")
    error_message = "least_conn balancing"
  }
  assert {
    condition     = length(regexall("server 10\\.231\\.1\\.1[123]:8080 max_fails=3 fail_timeout=10s;", output.config)) == 3
    error_message = "one server line per API replica with max_fails=3 fail_timeout=10s"
  }
  assert {
    condition     = strcontains(output.config, "proxy_next_upstream error timeout http_502 http_503 non_idempotent;")
    error_message = "retries connection errors, timeouts, 502 and 503, POST included"
  }
  assert {
    condition     = strcontains(output.config, "rate=10r/s") && strcontains(output.config, "burst=20 nodelay") && strcontains(output.config, "limit_req_status 429;")
    error_message = "rate limited per client IP with a burst, answering 429"
  }
  assert {
    condition     = strcontains(output.config, "add_header X-Upstream $upstream_http_x_calcgrid_instance always;") && strcontains(output.config, "proxy_hide_header X-Calcgrid-Instance;")
    error_message = "X-Upstream names the instance that answered"
  }
  assert {
    condition     = strcontains(output.config, "client_max_body_size 256k;") && strcontains(output.config, "keepalive 32;") && strcontains(output.config, "application/problem+json")
    error_message = "body limit, upstream keepalive and problem+json errors"
  }
  assert {
    condition = (strcontains(output.config, "location = /v1/tasks {\n      client_max_body_size 2m;")
      && strcontains(output.config, "location / {\n      client_max_body_size 256k;")
    && length(regexall("proxy_pass http://api;", output.config)) == 2 && strcontains(output.config, "\"/v1/tasks\" 2m;"))
    error_message = "submissions (POST /v1/tasks) may carry 2m, every other route 256k; both proxy the same way, and the 413 names the route's cap"
  }
}

run "environment_variables" {
  command = plan

  assert {
    condition     = module.container.env["calcgrid-dev-loadbalancer-1"] == tolist(["NGINX_CONF=${output.config}"])
    error_message = "nginx gets the rendered config in NGINX_CONF and nothing else"
  }
}

run "joins_the_edge_and_app_networks" {
  command = plan

  assert {
    condition = jsonencode(module.container.networks["calcgrid-dev-loadbalancer-1"]) == jsonencode({
      "calcgrid-dev-edge" = { aliases = [], ipv4_address = null }
      "calcgrid-dev-app"  = { aliases = [], ipv4_address = null }
    })
    error_message = "nginx joins the edge network (published) and the app network (the API), not the data network"
  }
}

run "rate_limit_per_environment" {
  command = plan

  variables {
    loadbalancer = merge(var.loadbalancer, { rate_limit_rps = 100, rate_limit_burst = 200 })
  }
  assert {
    condition     = strcontains(output.config, "rate=100r/s") && strcontains(output.config, "burst=200 nodelay")
    error_message = "rate limit follows the variables"
  }
}

run "refuses_upstream_without_port" {
  command = plan

  variables {
    upstreams = [{ name = "calcgrid-dev-api-1", address = "10.231.1.11" }]
  }
  expect_failures = [var.upstreams]
}

run "refuses_no_upstreams" {
  command = plan

  variables {
    upstreams = []
  }
  expect_failures = [var.upstreams]
}

run "example" {
  command = plan

  module {
    source = "./examples/basic"
  }
  assert {
    condition     = output.endpoint == "http://127.0.0.1:18080"
    error_message = "the example publishes nginx on 127.0.0.1:18080"
  }
}
