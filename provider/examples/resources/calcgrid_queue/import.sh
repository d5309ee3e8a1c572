# A queue is imported by its name: high, medium or low.
terraform import calcgrid_queue.low low
