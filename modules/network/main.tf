locals {
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

  name     = "calcgrid-${var.environment}-${each.key}"
  driver   = "bridge"
  internal = each.value.internal

  dynamic "ipam_config" {
    for_each = each.value.subnet == null ? [] : [each.value.subnet]
    content {
      subnet = ipam_config.value
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
