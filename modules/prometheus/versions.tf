terraform {
  required_version = ">= 1.7.0"

  required_providers {
    # No resource here uses it directly: modules/container does, and the
    # module tests' mock_provider "docker" needs this name to mean kreuzwerker/docker.
    # tflint-ignore: terraform_unused_required_providers
    docker = {
      source  = "kreuzwerker/docker"
      version = ">= 4.0.0, < 5.0.0"
    }
  }
}
