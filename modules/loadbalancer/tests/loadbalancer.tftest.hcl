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
    condition     = length(regexall("server 10\\.231\\.1\\.1[123]:8080 max_fails=3 fail_timeout=2s;", output.config)) == 3
    error_message = "one server line per API replica with max_fails=3 fail_timeout=2s"
  }
  assert {
    condition = (strcontains(output.config, "location = /v1/tasks {") && strcontains(output.config, "proxy_next_upstream error timeout http_502 non_idempotent;")
    && strcontains(output.config, "proxy_next_upstream error timeout http_502 http_503;") && length(regexall("http_503 non_idempotent", output.config)) == 0)
    error_message = "a POST is retried on connection errors, timeouts and 502 but never on 503; reads are retried on 503 too"
  }
  assert {
    condition = (strcontains(output.config, "zone=reads:10m rate=10r/s") && strcontains(output.config, "zone=writes:10m rate=10r/s")
      && strcontains(output.config, "limit_req zone=reads burst=20 nodelay;") && strcontains(output.config, "limit_req zone=writes burst=20 nodelay;")
    && strcontains(output.config, "limit_req_status 429;") && strcontains(output.config, "limit_conn conn_per_ip 128;"))
    error_message = "reads and writes rate limited per client IP (writes as reads when unset), connections capped, answering 429"
  }
  assert {
    condition     = strcontains(output.config, "client_header_timeout 10s;") && strcontains(output.config, "client_body_timeout   10s;") && strcontains(output.config, "proxy_max_temp_file_size 0;")
    error_message = "slow clients time out after 10 s and responses are never spooled to the tmpfs"
  }
  assert {
    condition     = strcontains(output.config, "listen 8080 default_server;\n    return 444;") && strcontains(output.config, "server_name localhost 127.0.0.1;")
    error_message = "only localhost and the bind address are served; any other Host is closed"
  }
  assert {
    condition     = strcontains(output.config, "\"~^[\\x21-\\x7e]{1,128}$\" $http_x_request_id;")
    error_message = "the client's X-Request-ID is kept only when the API would accept it (1 to 128 printable ASCII characters), else nginx mints one"
  }
  assert {
    condition = (alltrue([for s in [400, 405, 408, 413, 414, 429, 503, 504] : strcontains(output.config, "return ${s} '{\"type\":\"urn:calcgrid:problem:")])
    && strcontains(output.config, "error_page 502 = @no_api;") && strcontains(output.config, "return 503 '{\"type\":\"urn:calcgrid:problem:unavailable\",\"title\":\"Service unavailable\",\"status\":503,\"detail\":\"no API instance is taking requests"))
    error_message = "every error nginx answers itself is problem+json in the API's urn:calcgrid:problem vocabulary; no API taking requests (nginx's 502) is 503 unavailable"
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
  assert {
    condition     = strcontains(output.config, "location = /metrics {\n      return 404;") && strcontains(output.config, "location ^~ /debug/ {\n      return 404;")
    error_message = "nginx answers /metrics and /debug/ (an API's pprof with --pprof) 404 itself: neither reaches an API from the edge"
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

run "write_limit_and_server_names" {
  command = plan

  variables {
    loadbalancer = merge(var.loadbalancer, { write_rate_limit_rps = 5, write_rate_limit_burst = 7, conn_limit = 16, server_names = ["calcgrid.internal"] })
  }
  assert {
    condition = (strcontains(output.config, "zone=reads:10m rate=10r/s") && strcontains(output.config, "zone=writes:10m rate=5r/s")
    && strcontains(output.config, "limit_req zone=writes burst=7 nodelay;") && strcontains(output.config, "limit_conn conn_per_ip 16;"))
    error_message = "writes have their own rate and burst when set"
  }
  assert {
    condition     = strcontains(output.config, "server_name localhost 127.0.0.1 calcgrid.internal;")
    error_message = "configured names are served beside localhost and the bind address"
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

# target swarm: the API is one service; nginx resolves its tasks itself.
run "swarm_resolves_the_api_service" {
  command = plan

  variables {
    common = {
      environment = "swarm"
      target      = "swarm"
      networks    = { edge = "calcgrid-swarm-edge", app = "calcgrid-swarm-app" }
      bind_ip     = "127.0.0.1"
    }
    upstreams = [{ name = "calcgrid-swarm-api", address = "calcgrid-swarm-api:8080" }]
  }
  assert {
    condition = (strcontains(output.config, "resolver 127.0.0.11 valid=1s ipv6=off;") && strcontains(output.config, "set $api calcgrid-swarm-api:8080;")
    && length(regexall("proxy_pass http://\\$api;", output.config)) == 2 && !strcontains(output.config, "upstream api {") && !strcontains(output.config, "keepalive 32"))
    error_message = "on swarm nginx asks Docker's DNS for the API service's tasks every second, per request, without a pinned upstream or cached connections"
  }
  assert {
    condition     = strcontains(output.config, "proxy_next_upstream error timeout http_502 non_idempotent;") && strcontains(output.config, "proxy_next_upstream_tries 3;")
    error_message = "retries stay as on docker: a task that refuses is skipped"
  }
}

run "refuses_a_host_name_upstream_on_docker" {
  command = plan

  variables {
    upstreams = [{ name = "calcgrid-dev-api", address = "calcgrid-dev-api:8080" }]
  }
  expect_failures = [var.upstreams]
}
