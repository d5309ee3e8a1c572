mock_provider "docker" {}

variables {
  environment = "staging"
  app_subnet  = "10.231.2.0/24"
}

run "three_networks_named_by_environment" {
  command = plan

  assert {
    condition     = [output.edge, output.app, output.data] == ["calcgrid-staging-edge", "calcgrid-staging-app", "calcgrid-staging-data"]
    error_message = "networks are calcgrid-<env>-edge/app/data"
  }
  assert {
    condition     = !docker_network.this["edge"].internal && docker_network.this["app"].internal && docker_network.this["data"].internal
    error_message = "only the edge network routes outside"
  }
  assert {
    condition     = one(docker_network.this["app"].ipam_config).subnet == "10.231.2.0/24"
    error_message = "the app network uses app_subnet"
  }
}

run "refuses_bad_subnet" {
  command = plan

  variables {
    app_subnet = "10.231.2.0"
  }
  expect_failures = [var.app_subnet]
}
