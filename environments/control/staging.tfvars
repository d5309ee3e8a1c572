# staging's tenants, keys and queue settings (terraform/control, applied by
# make up ENV=staging after the stack). Keys stay per environment.
tenants = {
  desk-a = {}
  desk-b = {}
}

api_keys = {
  desk-a-pricer = { tenant = "desk-a", scopes = ["submit", "read", "cancel"], rate_per_second = 50, max_pending = 1000 }
  desk-a-viewer = { tenant = "desk-a", scopes = ["read"] }
  desk-b-batch  = { tenant = "desk-b", scopes = ["submit", "read", "cancel"], rate_per_second = 20, max_pending = 500, priorities = ["medium", "low"] }
}
