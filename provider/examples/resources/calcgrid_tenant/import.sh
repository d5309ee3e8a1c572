# A tenant is imported by its name.
terraform import calcgrid_tenant.acme acme
