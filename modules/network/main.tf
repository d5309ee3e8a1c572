locals {
  swarm = var.target == "swarm"
  # The internal networks take the first three quarters of app_subnet, fixed
  # so that pinned addresses (API replicas, Redis HA's instances and
  # Sentinels) survive a replacement. On swarm they are overlays (Swarm
  # services join them; attachable, so the edge containers can too). The
  # edge network only holds containers (nginx, the dashboard, Prometheus
  # publish their ports there), so it stays a bridge.
  subnets = { app = cidrsubnet(var.app_subnet, 2, 0), data = cidrsubnet(var.app_subnet, 2, 1), dash = cidrsubnet(var.app_subnet, 2, 2) }
  networks = {
    # nginx's published side and the monitor's; the only network with a route out.
    edge = { internal = false, subnet = null }
    # nginx <-> API (see README).
    app = { internal = true, subnet = local.subnets.app }
    # API, worker <-> Redis; workers sit only here, so they cannot reach outside.
    data = { internal = true, subnet = local.subnets.data }
    # The dashboard <-> Redis (and Prometheus, which scrapes it): the API and
    # the workers cannot reach the dashboard, nor it them.
    dash = { internal = true, subnet = local.subnets.dash }
  }
}

resource "docker_network" "this" {
  for_each = local.networks

  name       = "calcgrid-${var.environment}-${each.key}"
  driver     = local.swarm && each.value.internal ? "overlay" : "bridge"
  attachable = local.swarm && each.value.internal
  internal   = each.value.internal

  dynamic "ipam_config" {
    for_each = each.value.subnet == null ? [] : [each.value.subnet]
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
