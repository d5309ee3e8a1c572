output "api_keys" {
  description = "Each key's id and secret (terraform output -json api_keys): the secret is shown by the API once, at creation, and kept only in this workspace's state."
  value       = { for name, k in calcgrid_api_key.this : name => { id = k.id, tenant = k.tenant, secret = k.secret } }
  sensitive   = true
}
