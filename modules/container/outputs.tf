output "names" {
  description = "Container names, replica 1 first."
  value       = docker_container.this[*].name
}

output "ids" {
  description = "Container IDs, replica 1 first."
  value       = docker_container.this[*].id
}
