data "calcgrid_queues" "live" {}

output "pending_per_queue" {
  value = { for q in data.calcgrid_queues.live.queues : q.name => q.pending }
}
