variable "environment" {
  description = "Environment name; the container is calcgrid-<env>-redis-1 and the volume calcgrid-<env>-redis-data."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits starting with a letter, e.g. \"dev\"."
  }
}

variable "image" {
  description = "Redis image (official redis or the air-gapped build); must provide sh, redis-server and redis-cli."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must not be empty."
  }
}

variable "user" {
  description = "Non-root uid:gid Redis runs as; must own data_dir in the image (999:999 in the official image)."
  type        = string
  default     = "999:999"

  validation {
    condition     = can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.user))
    error_message = "user must be a non-root numeric uid:gid such as 999:999."
  }
}

variable "data_dir" {
  description = "Directory in the image where the data volume is mounted (owned by user)."
  type        = string
  default     = "/data"

  validation {
    condition     = startswith(var.data_dir, "/") && var.data_dir != "/"
    error_message = "data_dir must be an absolute path other than /."
  }
}

variable "network" {
  description = "Name of the internal data network Redis joins (it is never published on the host)."
  type        = string

  validation {
    condition     = length(var.network) > 0
    error_message = "network must not be empty."
  }
}

variable "password" {
  description = "Password clients must send (AUTH); letters and digits only, 32 to 128 characters."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9]{32,128}$", var.password))
    error_message = "password must be 32 to 128 letters or digits."
  }
}

variable "memory_mb" {
  description = "Container memory limit in MB."
  type        = number

  validation {
    condition     = var.memory_mb >= 64 && var.memory_mb <= 65536
    error_message = "memory_mb must be from 64 to 65536."
  }
}

variable "maxmemory_mb" {
  description = "Redis maxmemory in MB (policy noeviction: writes fail instead of dropping tasks). At most 80% of memory_mb, leaving room for the AOF rewrite."
  type        = number

  validation {
    condition     = var.maxmemory_mb >= 16 && floor(var.maxmemory_mb) == var.maxmemory_mb
    error_message = "maxmemory_mb must be a whole number of at least 16."
  }
}

variable "cpus" {
  description = "CPU limit in cores."
  type        = number

  validation {
    condition     = var.cpus >= 0.05 && var.cpus <= 64
    error_message = "cpus must be from 0.05 to 64."
  }
}

variable "appendonly" {
  description = "Enable the append-only file (durability of acknowledged tasks across restarts)."
  type        = bool
  default     = true
}

variable "appendfsync" {
  description = "AOF fsync policy: always, everysec or no."
  type        = string
  default     = "everysec"

  validation {
    condition     = contains(["always", "everysec", "no"], var.appendfsync)
    error_message = "appendfsync must be always, everysec or no."
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

variable "pids_limit" {
  description = "Maximum processes/threads in the container."
  type        = number
  default     = 128

  validation {
    condition     = var.pids_limit >= 16 && var.pids_limit <= 32768
    error_message = "pids_limit must be from 16 to 32768."
  }
}
