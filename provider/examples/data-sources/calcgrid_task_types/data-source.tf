data "calcgrid_task_types" "all" {}

# The queue each task type goes to by default.
output "task_type_queues" {
  value = { for t in data.calcgrid_task_types.all.task_types : t.name => t.queue }
}
