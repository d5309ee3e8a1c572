locals {
  port = 8080
  lb   = var.loadbalancer
  # Writes share the read budget unless the environment sets their own.
  write_rps   = coalesce(local.lb.write_rate_limit_rps, local.lb.rate_limit_rps)
  write_burst = coalesce(local.lb.write_rate_limit_burst, local.lb.rate_limit_burst)
  config = templatefile("${path.module}/nginx.conf.tftpl", {
    environment      = var.common.environment
    worker_processes = max(1, ceil(local.lb.cpus))
    upstreams        = var.upstreams
    # Swarm: the API is one service name whose tasks come and go; nginx
    # asks Docker's DNS for them (see nginx.conf.tftpl).
    resolve                = var.common.target == "swarm"
    rate_limit_rps         = local.lb.rate_limit_rps
    rate_limit_burst       = local.lb.rate_limit_burst
    write_rate_limit_rps   = local.write_rps
    write_rate_limit_burst = local.write_burst
    conn_limit             = local.lb.conn_limit
    client_max_body_size   = local.lb.client_max_body_size
    # The names this endpoint answers to; any other Host is closed.
    server_names = distinct(concat(["localhost", "127.0.0.1", var.common.bind_ip], local.lb.server_names))
    # Submissions may be larger than any other request (a 200-position
    # portfolio.var with a dense correlation matrix); the proxying is the same.
    # A POST is retried on a connection error, a timeout or a 502 (the API
    # de-duplicates it on X-Request-ID), never on a 503: every API answers
    # 503 while Redis is down or full, so a retry only multiplies the load.
    # Reads are retried on a 503 too, so an API cut off from Redis is skipped.
    locations = [
      {
        match         = "= /v1/tasks"
        max_body      = local.lb.submission_max_body_size
        next_upstream = "error timeout http_502 non_idempotent"
      },
      {
        match         = "/"
        max_body      = local.lb.client_max_body_size
        next_upstream = "error timeout http_502 http_503"
      },
    ]
    keepalive = local.lb.keepalive
    # nginx's own errors, in the API's problem vocabulary.
    errors = [
      { name = "bad_request", status = 400, type = "bad-request", title = "Bad request", retry_after = null,
      detail = "the request line, a header or the body framing is malformed or too large" },
      { name = "not_found", status = 404, type = "not-found", title = "Not found", retry_after = null,
      detail = "$uri is not served here" },
      { name = "method_not_allowed", status = 405, type = "method-not-allowed", title = "Method not allowed", retry_after = null,
      detail = "$request_method is not served here" },
      { name = "request_timeout", status = 408, type = "request-timeout", title = "Request timeout", retry_after = null,
      detail = "the client sent its headers or body too slowly (10 s)" },
      { name = "too_large", status = 413, type = "body-too-large", title = "Request body too large", retry_after = null,
      detail = "request body exceeds $body_cap" },
      { name = "uri_too_long", status = 414, type = "uri-too-long", title = "URI too long", retry_after = null,
      detail = "the request URI exceeds the header buffers" },
      { name = "rate_limited", status = 429, type = "rate-limited", title = "Too many requests", retry_after = 1,
      detail = "more than ${local.lb.rate_limit_rps} reads or ${local.write_rps} writes per second (bursts ${local.lb.rate_limit_burst} and ${local.write_burst}), or more than ${local.lb.conn_limit} connections, from this client" },
      # An API refuses connections while it cannot reach Redis (so that
      # nginx passes even a POST to another): when all refuse, or are down,
      # nginx's 502 means the service is unavailable, and says so.
      { name = "no_api", status = 503, type = "unavailable", title = "Service unavailable", retry_after = 1,
      detail = "no API instance is taking requests: each refuses them while it cannot reach Redis, or is down" },
      { name = "unavailable", status = 503, type = "unavailable", title = "Service unavailable", retry_after = null,
      detail = "every API instance is unavailable" },
      { name = "gateway_timeout", status = 504, type = "gateway-timeout", title = "Gateway timeout", retry_after = null,
      detail = "no API instance answered in time" },
    ]
  })
}

module "container" {
  source = "../container"

  common = var.common
  role   = "loadbalancer"
  image  = var.image
  user   = var.user
  # The root filesystem is read-only: the rendered config travels in the
  # environment (a change replaces the container) and is written to the tmpfs.
  entrypoint = ["sh", "-c", "printf '%s' \"$NGINX_CONF\" > /tmp/nginx.conf && exec nginx -e stderr -c /tmp/nginx.conf -g 'daemon off;'"]
  env        = { NGINX_CONF = local.config }
  networks   = [{ name = var.common.networks.edge }, { name = var.common.networks.app }]
  ports      = [{ internal = local.port, external = var.loadbalancer.port, ip = var.common.bind_ip }]
  limits     = { memory_mb = var.loadbalancer.memory_mb, cpus = var.loadbalancer.cpus }
  # Request bodies over the buffer spill here; a tmpfs counts against the
  # memory limit, so it gets at most half of it.
  tmpfs = { "/tmp" = "rw,noexec,nosuid,size=${floor(local.lb.memory_mb / 2)}m,mode=1777" }
  healthcheck = {
    test = ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${local.port} && printf 'GET /nginx-health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
  }
}
