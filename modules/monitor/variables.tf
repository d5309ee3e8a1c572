variable "environment" {
  description = "Environment name; part of every container name (calcgrid-<env>-ROLE-<n>) and the calcgrid.env label."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits starting with a letter, e.g. \"dev\"."
  }
}

variable "image" {
  description = "calcgrid app image (ID or reference); its entrypoint binary is /calcgrid."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must not be empty."
  }
}

variable "binary" {
  description = "Absolute path of the calcgrid binary in the image (used as entrypoint and by the exec-form health check: the runtime image has no shell)."
  type        = string
  default     = "/usr/local/bin/calcgrid"

  validation {
    condition     = startswith(var.binary, "/")
    error_message = "binary must be an absolute path such as /usr/local/bin/calcgrid."
  }
}

variable "user" {
  description = "Non-root uid:gid the app runs as (65532 is distroless nonroot)."
  type        = string
  default     = "65532:65532"

  validation {
    condition     = can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.user))
    error_message = "user must be a non-root numeric uid:gid such as 65532:65532."
  }
}

variable "redis_addr" {
  description = "Redis host:port on the data network."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]+:[0-9]{1,5}$", var.redis_addr))
    error_message = "redis_addr must be host:port, e.g. calcgrid-dev-redis-1:6379."
  }
}

variable "redis_password" {
  description = "Redis password (AUTH)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.redis_password) >= 16
    error_message = "redis_password must be at least 16 characters."
  }
}

variable "data_network" {
  description = "Name of the internal data network (Redis)."
  type        = string

  validation {
    condition     = length(var.data_network) > 0
    error_message = "data_network must not be empty."
  }
}

variable "memory_mb" {
  description = "Memory limit per container in MB."
  type        = number

  validation {
    condition     = var.memory_mb >= 32 && var.memory_mb <= 65536
    error_message = "memory_mb must be from 32 to 65536."
  }
}

variable "cpus" {
  description = "CPU limit per container in cores (fractions allowed)."
  type        = number

  validation {
    condition     = var.cpus >= 0.05 && var.cpus <= 64
    error_message = "cpus must be from 0.05 to 64."
  }
}

variable "pids_limit" {
  description = "Maximum processes/threads per container."
  type        = number
  default     = 256

  validation {
    condition     = var.pids_limit >= 16 && var.pids_limit <= 32768
    error_message = "pids_limit must be from 16 to 32768."
  }
}

variable "log_max_size" {
  description = "json-file log rotation: size of one file."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^[1-9][0-9]*[kmg]$", var.log_max_size))
    error_message = "log_max_size must look like 10m, 512k or 1g."
  }
}

variable "log_max_file" {
  description = "json-file log rotation: number of files kept."
  type        = number
  default     = 3

  validation {
    condition     = var.log_max_file >= 1 && var.log_max_file <= 20
    error_message = "log_max_file must be from 1 to 20."
  }
}

variable "edge_network" {
  description = "Name of the edge network the dashboard is published from."
  type        = string

  validation {
    condition     = length(var.edge_network) > 0
    error_message = "edge_network must not be empty."
  }
}

variable "published_port" {
  description = "Host port the dashboard is published on."
  type        = number

  validation {
    condition     = var.published_port >= 1024 && var.published_port <= 65535
    error_message = "published_port must be from 1024 to 65535."
  }
}

variable "bind_ip" {
  description = "Host address the dashboard is published on (127.0.0.1 keeps it local)."
  type        = string
  default     = "127.0.0.1"

  validation {
    condition     = can(cidrhost("${var.bind_ip}/32", 0))
    error_message = "bind_ip must be an IPv4 address such as 127.0.0.1."
  }
}

variable "readonly" {
  description = "Dashboard read-only mode (no deleting or retrying tasks from the UI)."
  type        = bool
  default     = true
}

variable "basic_auth_user" {
  description = "User for the dashboard's basic auth."
  type        = string
  default     = "admin"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.basic_auth_user))
    error_message = "basic_auth_user must be 1-64 letters, digits, dots, dashes or underscores."
  }
}

variable "basic_auth_password" {
  description = "Password for the dashboard's basic auth."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.basic_auth_password) >= 12
    error_message = "basic_auth_password must be at least 12 characters."
  }
}
