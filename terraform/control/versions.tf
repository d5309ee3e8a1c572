terraform {
  required_version = ">= 1.7.0"

  required_providers {
    calcgrid = {
      # Built from provider/ and installed into the local mirror by `make bootstrap`.
      source  = "registry.calcgrid.local/calcgrid/calcgrid"
      version = "~> 0.1"
    }
  }
}
