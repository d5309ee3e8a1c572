variable "environment" {
  description = "Environment name; networks are named calcgrid-<env>-edge, -app, -data and -dash."
  type        = string
}

variable "app_subnet" {
  description = "IPv4 subnet of the environment's internal networks, /24 or larger: its first quarter is the app network's (nginx <-> API), the second the data network's, the third the dash network's. Fixed so pinned addresses survive a replacement; must not overlap another network on the host (the root module checks its form)."
  type        = string
}

variable "target" {
  description = "docker (bridge networks) or swarm (the internal app, data and dash networks are attachable overlays, each a /(n+2) quarter of app_subnet; edge stays a bridge, it holds containers only)."
  type        = string
  default     = "docker"

  validation {
    condition     = contains(["docker", "swarm"], var.target)
    error_message = "target must be docker or swarm."
  }
}
