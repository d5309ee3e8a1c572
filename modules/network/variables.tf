variable "environment" {
  description = "Environment name; networks are named calcgrid-<env>-edge, -app, -data and -dash."
  type        = string
}

variable "app_subnet" {
  description = "IPv4 subnet of the internal app network (nginx <-> API). Fixed so API replicas keep their addresses when replaced; must not overlap another network on the host (the root module checks its form)."
  type        = string
}
