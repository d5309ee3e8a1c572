locals {
  port = 8080
  config = templatefile("${path.module}/nginx.conf.tftpl", {
    environment          = var.common.environment
    worker_processes     = max(1, ceil(var.loadbalancer.cpus))
    upstreams            = var.upstreams
    rate_limit_rps       = var.loadbalancer.rate_limit_rps
    rate_limit_burst     = var.loadbalancer.rate_limit_burst
    client_max_body_size = var.loadbalancer.client_max_body_size
    # Submissions may be larger than any other request (a 200-position
    # portfolio.var with a dense correlation matrix); the proxying is the same.
    locations = [
      { match = "= /v1/tasks", max_body = var.loadbalancer.submission_max_body_size },
      { match = "/", max_body = var.loadbalancer.client_max_body_size },
    ]
    keepalive = var.loadbalancer.keepalive
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
  tmpfs      = { "/tmp" = "rw,noexec,nosuid,size=64m,mode=1777" }
  healthcheck = {
    test = ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${local.port} && printf 'GET /nginx-health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
  }
}
