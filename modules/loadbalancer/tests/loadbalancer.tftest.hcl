mock_provider "docker" {}

variables {
  environment    = "dev"
  image          = "nginx:1.27.4-bookworm"
  edge_network   = "calcgrid-dev-edge"
  app_network    = "calcgrid-dev-app"
  published_port = 18080
  memory_mb      = 64
  cpus           = 0.25
  upstreams = [
    { name = "calcgrid-dev-api-1", address = "10.231.1.11:8080" },
    { name = "calcgrid-dev-api-2", address = "10.231.1.12:8080" },
    { name = "calcgrid-dev-api-3", address = "10.231.1.13:8080" },
  ]
}

run "config_balances_and_retries" {
  command = plan

  assert {
    condition     = output.name == "calcgrid-dev-loadbalancer-1" && output.endpoint == "http://127.0.0.1:18080"
    error_message = "nginx is calcgrid-<env>-loadbalancer-1 on 127.0.0.1:<published_port>"
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
}

run "rate_limit_per_environment" {
  command = plan

  variables {
    rate_limit_rps   = 100
    rate_limit_burst = 200
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
