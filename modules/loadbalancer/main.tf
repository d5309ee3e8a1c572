locals {
  port = 8080
  config = templatefile("${path.module}/nginx.conf.tftpl", {
    environment          = var.environment
    worker_processes     = max(1, ceil(var.cpus))
    upstreams            = var.upstreams
    rate_limit_rps       = var.rate_limit_rps
    rate_limit_burst     = var.rate_limit_burst
    client_max_body_size = var.client_max_body_size
    keepalive            = var.keepalive
  })
}

module "container" {
  source = "../container"

  environment = var.environment
  role        = "loadbalancer"
  image       = var.image
  user        = var.user
  # The root filesystem is read-only: the rendered config travels in the
  # environment (a change replaces the container) and is written to the tmpfs.
  entrypoint = ["sh", "-c", "printf '%s' \"$NGINX_CONF\" > /tmp/nginx.conf && exec nginx -e stderr -c /tmp/nginx.conf -g 'daemon off;'"]
  env        = { NGINX_CONF = local.config }
  networks   = [{ name = var.edge_network }, { name = var.app_network }]
  ports      = [{ internal = local.port, external = var.published_port, ip = var.bind_ip }]
  memory_mb  = var.memory_mb
  cpus       = var.cpus
  pids_limit = var.pids_limit
  tmpfs      = { "/tmp" = "rw,noexec,nosuid,size=64m,mode=1777" }
  healthcheck = {
    test = ["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${local.port} && printf 'GET /nginx-health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
  }

  log_max_size = var.log_max_size
  log_max_file = var.log_max_file
}
