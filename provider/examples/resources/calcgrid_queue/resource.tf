# Low-priority work waits (submissions are still accepted) and may not pile
# up beyond 2000 tasks.
resource "calcgrid_queue" "low" {
  name        = "low"
  paused      = true
  max_pending = 2000
}

# The high queue gets a larger share of the workers.
resource "calcgrid_queue" "high" {
  name   = "high"
  weight = 8
}
