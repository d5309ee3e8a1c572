# The Docker host comes from DOCKER_HOST (default: the local socket).
provider "docker" {}
