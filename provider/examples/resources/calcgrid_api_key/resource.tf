resource "calcgrid_tenant" "acme" {
  name = "acme"
}

# Submits and reads acme's tasks, at most 20 requests per second and 500
# unfinished tasks, never on the high-priority queue, until 2030.
resource "calcgrid_api_key" "batch" {
  tenant          = calcgrid_tenant.acme.name
  name            = "batch-pricer"
  scopes          = ["submit", "read"]
  rate_per_second = 20
  max_pending     = 500
  priorities      = ["medium", "low"]
  expires_at      = "2030-01-01T00:00:00Z"
}

# The secret is shown once, at creation: hand it to the client from here.
output "batch_key" {
  value     = calcgrid_api_key.batch.secret
  sensitive = true
}
