variable "environment" {
  description = "Environment name; part of every container name (calcgrid-<env>-ROLE-<n>) and the calcgrid.env label."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits starting with a letter, e.g. \"dev\"."
  }
}

variable "memory_mb" {
  description = "Memory limit per container in MB."
  type        = number

  validation {
    condition     = var.memory_mb >= 16 && var.memory_mb <= 65536
    error_message = "memory_mb must be from 16 to 65536."
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

variable "image" {
  description = "nginx image (official or the air-gapped build); must provide bash, head, grep and nginx >= 1.19.5 on PATH."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must not be empty."
  }
}

variable "user" {
  description = "Non-root uid:gid nginx runs as."
  type        = string
  default     = "101:101"

  validation {
    condition     = can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.user))
    error_message = "user must be a non-root numeric uid:gid such as 101:101."
  }
}

variable "edge_network" {
  description = "Name of the edge network nginx is published from."
  type        = string

  validation {
    condition     = length(var.edge_network) > 0
    error_message = "edge_network must not be empty."
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

variable "upstreams" {
  description = "API replicas: container name and pinned address:port on the app network."
  type = list(object({
    name    = string
    address = string
  }))

  validation {
    condition     = length(var.upstreams) >= 1
    error_message = "upstreams must list at least one API replica."
  }
  validation {
    condition     = alltrue([for u in var.upstreams : can(regex("^[0-9.]+:[0-9]{1,5}$", u.address))])
    error_message = "upstreams[*].address must be IPv4:port, e.g. 10.231.0.11:8080."
  }
}

variable "published_port" {
  description = "Host port clients reach nginx on."
  type        = number

  validation {
    condition     = var.published_port >= 1024 && var.published_port <= 65535
    error_message = "published_port must be from 1024 to 65535."
  }
}

variable "bind_ip" {
  description = "Host address nginx is published on (127.0.0.1 keeps it local)."
  type        = string
  default     = "127.0.0.1"

  validation {
    condition     = can(cidrhost("${var.bind_ip}/32", 0))
    error_message = "bind_ip must be an IPv4 address such as 127.0.0.1."
  }
}

variable "rate_limit_rps" {
  description = "Requests per second allowed per client IP; more answer 429."
  type        = number
  default     = 10

  validation {
    condition     = var.rate_limit_rps >= 1 && var.rate_limit_rps <= 100000 && floor(var.rate_limit_rps) == var.rate_limit_rps
    error_message = "rate_limit_rps must be a whole number from 1 to 100000."
  }
}

variable "rate_limit_burst" {
  description = "Requests per client IP allowed above the rate before 429."
  type        = number
  default     = 20

  validation {
    condition     = var.rate_limit_burst >= 0 && var.rate_limit_burst <= 100000 && floor(var.rate_limit_burst) == var.rate_limit_burst
    error_message = "rate_limit_burst must be a whole number from 0 to 100000."
  }
}

variable "client_max_body_size" {
  description = "Largest request body nginx accepts (nginx size syntax)."
  type        = string
  default     = "256k"

  validation {
    condition     = can(regex("^[1-9][0-9]*[km]?$", var.client_max_body_size))
    error_message = "client_max_body_size must look like 256k or 1m."
  }
}

variable "keepalive" {
  description = "Idle keepalive connections nginx keeps open to the API replicas (per worker)."
  type        = number
  default     = 32

  validation {
    condition     = var.keepalive >= 1 && var.keepalive <= 1024
    error_message = "keepalive must be from 1 to 1024."
  }
}
