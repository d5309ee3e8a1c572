# The stack's state is overridden: the runs need neither a stack nor an API.
mock_provider "calcgrid" {}

override_data {
  target = data.terraform_remote_state.stack
  values = { outputs = { endpoint = "http://127.0.0.1:18081", admin_token = "cgadm_0123456789abcdef" } }
}

run "plans_staging" {
  command = plan

  variables {
    tenants = { desk-a = {}, desk-b = {} }
    api_keys = {
      pricer = { tenant = "desk-a", scopes = ["submit", "read"], rate_per_second = 50 }
      batch  = { tenant = "desk-b", scopes = ["submit"], priorities = ["low"] }
    }
    queues = { low = { paused = true } }
  }
  assert {
    condition = (keys(calcgrid_tenant.this) == ["desk-a", "desk-b"] && calcgrid_api_key.this["batch"].tenant == "desk-b"
    && calcgrid_api_key.this["pricer"].rate_per_second == 50 && calcgrid_queue.this["low"].paused)
    error_message = "one tenant, key and queue setting per entry"
  }
}

run "refuses_a_key_of_an_unknown_tenant" {
  command = plan

  variables {
    tenants  = { desk-a = {} }
    api_keys = { stray = { tenant = "desk-z", scopes = ["read"] } }
  }
  expect_failures = [calcgrid_api_key.this["stray"]]
}

run "refuses_a_key_without_scopes" {
  command = plan

  variables {
    tenants  = { desk-a = {} }
    api_keys = { empty = { tenant = "desk-a", scopes = [] } }
  }
  expect_failures = [var.api_keys]
}

run "refuses_a_stack_without_auth" {
  command = plan

  override_data {
    target = data.terraform_remote_state.stack
    values = { outputs = { endpoint = "http://127.0.0.1:18080", admin_token = null } }
  }
  expect_failures = [terraform_data.auth_guard]
}
