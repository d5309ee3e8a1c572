locals {
  swarm = var.target == "swarm"
  # On swarm the internal networks are overlays (Swarm services join them;
  # attachable, so the edge containers can too), each a quarter of
  # app_subnet: explicit subnets inside the environment's own, which never
  # collide with another environment's networks. The edge network only
  # holds containers (nginx, the dashboard, Prometheus publish their ports
  # there), so it stays a bridge.
  overlay_subnets = { app = cidrsubnet(var.app_subnet, 2, 0), data = cidrsubnet(var.app_subnet, 2, 1), dash = cidrsubnet(var.app_subnet, 2, 2) }
  networks = {
    # nginx's published side and the monitor's; the only network with a route out.
    edge = { internal = false, subnet = null }
    # nginx <-> API; fixed subnet so API replicas keep pinned addresses (see README).
    app = { internal = true, subnet = var.app_subnet }
    # API, worker <-> Redis; workers sit only here, so they cannot reach outside.
    data = { internal = true, subnet = null }
    # The dashboard <-> Redis (and Prometheus, which scrapes it): the API and
    # the workers cannot reach the dashboard, nor it them.
    dash = { internal = true, subnet = null }
  }
}

resource "docker_network" "this" {
  for_each = local.networks

  name       = "calcgrid-${var.environment}-${each.key}"
  driver     = local.swarm && each.value.internal ? "overlay" : "bridge"
  attachable = local.swarm && each.value.internal
  internal   = each.value.internal

  dynamic "ipam_config" {
    for_each = local.swarm && each.value.internal ? [local.overlay_subnets[each.key]] : each.value.subnet == null ? [] : [each.value.subnet]
    content {
      subnet = ipam_config.value
      # Docker reports an overlay's gateway: said here, it is no change.
      gateway = local.swarm && each.value.internal ? cidrhost(ipam_config.value, 1) : null
    }
  }

  labels {
    label = "calcgrid.env"
    value = var.environment
  }
  labels {
    label = "calcgrid.role"
    value = "network"
  }
}
