# prod's tenants and keys (terraform/control). Keys stay per environment.
tenants = {
  desk-a = {}
}

api_keys = {
  desk-a-pricer = { tenant = "desk-a", scopes = ["submit", "read", "cancel"], rate_per_second = 100, max_pending = 5000, priorities = ["medium", "low"] }
}
