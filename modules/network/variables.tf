variable "environment" {
  description = "Environment name; networks are named calcgrid-<env>-edge, -app and -data."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits starting with a letter, e.g. \"dev\"."
  }
}

variable "app_subnet" {
  description = "IPv4 subnet of the internal app network (nginx <-> API). Fixed so API replicas keep their addresses when replaced; must not overlap another network on the host."
  type        = string

  validation {
    condition     = can(cidrhost(var.app_subnet, 0)) && can(regex("^[0-9.]+/(1[6-9]|2[0-8])$", var.app_subnet))
    error_message = "app_subnet must be an IPv4 CIDR from /16 to /28, e.g. 10.231.0.0/24."
  }
}
