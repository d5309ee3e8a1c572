# Reads environments/*.tfvars as `-var-file` does, for tests/root.tftest.hcl:
# `terraform test` has no per-run var-file, so each run passes these values.
terraform {
  required_version = ">= 1.8.0"

  required_providers {
    terraform = { source = "terraform.io/builtin/terraform" }
  }
}

locals {
  dir = "${path.module}/../../../environments"
}

output "tfvars" {
  description = "Environment name => the variables its tfvars file sets."
  value       = { for f in fileset(local.dir, "*.tfvars") : trimsuffix(f, ".tfvars") => provider::terraform::decode_tfvars(file("${local.dir}/${f}")) }
}
