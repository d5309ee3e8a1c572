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

variable "replicas" {
  description = "Number of containers."
  type        = number
  default     = 3

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 16 && floor(var.replicas) == var.replicas
    error_message = "replicas must be a whole number from 1 to 16."
  }
}

variable "memory_mb" {
  description = "Memory limit per container in MB."
  type        = number

  validation {
    condition     = var.memory_mb >= 64 && var.memory_mb <= 65536
    error_message = "memory_mb must be from 64 to 65536."
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

variable "app_network" {
  description = "Name of the internal app network nginx reaches the API on."
  type        = string

  validation {
    condition     = length(var.app_network) > 0
    error_message = "app_network must not be empty."
  }
}

variable "app_subnet" {
  description = "Subnet of the app network; replica n is pinned to host address 10+n in it, so a replaced container keeps its address and nginx's upstream stays valid."
  type        = string

  validation {
    condition     = can(cidrhost(var.app_subnet, 32))
    error_message = "app_subnet must be an IPv4 CIDR with room for at least 32 hosts, e.g. 10.231.0.0/24."
  }
}

variable "diagnostics" {
  description = "Enable the diagnostic.* task types (dev and staging only)."
  type        = bool
  default     = false
}

variable "queue_max_pending" {
  description = "Pending tasks the API accepts before answering 503 (backpressure)."
  type        = number
  default     = 10000

  validation {
    condition     = var.queue_max_pending >= 1 && var.queue_max_pending <= 10000000
    error_message = "queue_max_pending must be from 1 to 10000000."
  }
}
