terraform {
  required_providers {
    calcgrid = {
      # Installed offline by `make bootstrap` into the local provider mirror.
      source = "registry.calcgrid.local/calcgrid/calcgrid"
    }
  }
}

# The endpoint and the token come from CALCGRID_ENDPOINT and CALCGRID_TOKEN
# (the environment's bootstrap admin token, or a key with the admin scope):
# keep the token out of the configuration.
provider "calcgrid" {
  timeout = "30s"
}
