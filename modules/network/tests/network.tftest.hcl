mock_provider "docker" {}

variables {
  environment = "staging"
  app_subnet  = "10.231.2.0/24"
}

run "networks_named_by_environment" {
  command = plan

  assert {
    condition     = [output.edge, output.app, output.data, output.dash] == ["calcgrid-staging-edge", "calcgrid-staging-app", "calcgrid-staging-data", "calcgrid-staging-dash"]
    error_message = "networks are calcgrid-<env>-edge/app/data/dash"
  }
  assert {
    condition     = !docker_network.this["edge"].internal && docker_network.this["app"].internal && docker_network.this["data"].internal && docker_network.this["dash"].internal
    error_message = "only the edge network routes outside"
  }
  assert {
    condition = ([for n in ["app", "data", "dash"] : one(docker_network.this[n].ipam_config).subnet] == ["10.231.2.0/26", "10.231.2.64/26", "10.231.2.128/26"]
    && length(docker_network.this["edge"].ipam_config) == 0)
    error_message = "the internal networks take the quarters of app_subnet; the edge network gets its subnet from Docker"
  }
  assert {
    condition = alltrue([for n in docker_network.this :
    contains([for l in n.labels : "${l.label}=${l.value}"], "calcgrid.env=staging") && contains([for l in n.labels : "${l.label}=${l.value}"], "calcgrid.role=network")])
    error_message = "every network carries calcgrid.env and calcgrid.role=network"
  }
}

run "example" {
  command = plan

  module {
    source = "./examples/basic"
  }
  assert {
    condition = { for k, v in output.networks : k => v if k != "ids" } == { edge = "calcgrid-dev-edge", app = "calcgrid-dev-app", data = "calcgrid-dev-data", dash = "calcgrid-dev-dash", app_subnet = "10.231.1.0/26",
    subnets = { app = "10.231.1.0/26", data = "10.231.1.64/26", dash = "10.231.1.128/26" }, overlay = false }
    error_message = "the example plans the dev networks"
  }
}

run "swarm_overlays_in_quarters_of_app_subnet" {
  command = plan

  variables {
    environment = "swarm"
    app_subnet  = "10.231.5.0/24"
    target      = "swarm"
  }
  assert {
    condition     = alltrue([for k in ["app", "data", "dash"] : docker_network.this[k].driver == "overlay" && docker_network.this[k].attachable && docker_network.this[k].internal])
    error_message = "on swarm the internal networks are attachable internal overlays"
  }
  assert {
    condition     = docker_network.this["edge"].driver == "bridge" && !docker_network.this["edge"].internal && length(docker_network.this["edge"].ipam_config) == 0
    error_message = "on swarm the edge network stays a bridge (containers only), its subnet Docker's"
  }
  assert {
    condition     = [for k in ["app", "data", "dash"] : one(docker_network.this[k].ipam_config).subnet] == ["10.231.5.0/26", "10.231.5.64/26", "10.231.5.128/26"]
    error_message = "the overlays take explicit quarters of app_subnet, inside the environment's own range"
  }
}

run "refuses_unknown_target" {
  command = plan

  variables {
    target = "k8s"
  }
  expect_failures = [var.target]
}
