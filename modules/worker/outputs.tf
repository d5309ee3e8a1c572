output "names" {
  description = "Worker container names, replica 1 first."
  value       = module.container.names
}
