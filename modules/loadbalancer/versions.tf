terraform {
  required_version = ">= 1.7.0"

  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = ">= 4.0.0, < 5.0.0"
    }
  }
}
