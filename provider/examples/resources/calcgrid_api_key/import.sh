# A key is imported by its id (GET /v1/admin/keys lists them). The API never
# shows a secret again, so an imported key's secret stays unknown.
terraform import calcgrid_api_key.batch key_abcdefghijklmnopqrstuvwxyz
