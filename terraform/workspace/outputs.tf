# The selected workspace, as a module output: tests/root.tftest.hcl overrides
# it (override_module) to plan each environments/<env>.tfvars under its own
# name, since `terraform test` always runs in workspace "default". Nothing
# outside a test can override it.
output "name" {
  description = "terraform.workspace"
  value       = terraform.workspace
}
