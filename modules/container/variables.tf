variable "environment" {
  description = "Environment name (dev, staging, prod); part of every name and the calcgrid.env label."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits starting with a letter, e.g. \"dev\"."
  }
}

variable "role" {
  description = "Component role (api, worker, redis, loadbalancer, monitor); part of every name and the calcgrid.role label."
  type        = string

  validation {
    condition     = contains(["api", "worker", "redis", "loadbalancer", "monitor"], var.role)
    error_message = "role must be one of api, worker, redis, loadbalancer, monitor."
  }
}

variable "replicas" {
  description = "Number of containers; they are named calcgrid-<env>-<role>-<n> with n from 1."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 16 && floor(var.replicas) == var.replicas
    error_message = "replicas must be a whole number from 1 to 16."
  }
}

variable "image" {
  description = "Image reference or ID the containers run."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must not be empty."
  }
}

variable "entrypoint" {
  description = "Entrypoint override; empty keeps the image's."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.entrypoint : length(s) > 0])
    error_message = "entrypoint must not contain empty strings."
  }
}

variable "command" {
  description = "Command (arguments to the entrypoint); empty keeps the image's."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for s in var.command : length(s) > 0])
    error_message = "command must not contain empty strings."
  }
}

variable "env" {
  description = "Environment variables shared by every replica."
  type        = map(string)
  default     = {}
  sensitive   = true

  validation {
    condition     = alltrue([for k in keys(var.env) : can(regex("^[A-Z_][A-Z0-9_]*$", k))])
    error_message = "env keys must be upper-case shell identifiers such as CALCGRID_LISTEN."
  }
}

variable "instance_env_var" {
  description = "When set, each replica gets this variable set to its own container name (e.g. CALCGRID_INSTANCE)."
  type        = string
  default     = ""

  validation {
    condition     = var.instance_env_var == "" || can(regex("^[A-Z_][A-Z0-9_]*$", var.instance_env_var))
    error_message = "instance_env_var must be empty or an upper-case shell identifier."
  }
}

variable "user" {
  description = "Non-root user the process runs as, \"uid:gid\" or a name from the image (never root)."
  type        = string

  validation {
    condition     = length(var.user) > 0 && !contains(["0", "root", "0:0", "root:root"], var.user) && !startswith(var.user, "0:") && !startswith(var.user, "root:")
    error_message = "user must name a non-root user, e.g. \"65532:65532\"."
  }
}

variable "networks" {
  description = "Networks to join. ipv4_addresses pins replica i to ipv4_addresses[i] (empty list: Docker assigns)."
  type = list(object({
    name           = string
    aliases        = optional(list(string), [])
    ipv4_addresses = optional(list(string), [])
  }))

  validation {
    condition     = length(var.networks) >= 1
    error_message = "networks must name at least one network."
  }
  validation {
    condition     = alltrue([for n in var.networks : alltrue([for ip in n.ipv4_addresses : can(cidrhost("${ip}/32", 0))])])
    error_message = "networks[*].ipv4_addresses must be IPv4 addresses such as 10.0.0.5."
  }
}

variable "ports" {
  description = "Ports to publish on the host (only the load balancer and the monitor do); applies to replica 1 only."
  type = list(object({
    internal = number
    external = number
    ip       = optional(string, "127.0.0.1")
  }))
  default = []

  validation {
    condition     = alltrue([for p in var.ports : p.internal >= 1 && p.internal <= 65535 && p.external >= 1 && p.external <= 65535])
    error_message = "ports[*].internal and external must be TCP ports from 1 to 65535."
  }
  validation {
    condition     = alltrue([for p in var.ports : can(cidrhost("${p.ip}/32", 0))])
    error_message = "ports[*].ip must be an IPv4 address such as 127.0.0.1."
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
  description = "CPU limit per container in cores (fractions allowed, e.g. 0.5)."
  type        = number

  validation {
    condition     = var.cpus >= 0.05 && var.cpus <= 64
    error_message = "cpus must be from 0.05 to 64."
  }
}

variable "pids_limit" {
  description = "Maximum number of processes/threads per container."
  type        = number
  default     = 256

  validation {
    condition     = var.pids_limit >= 16 && var.pids_limit <= 32768
    error_message = "pids_limit must be from 16 to 32768."
  }
}

variable "healthcheck" {
  description = "Docker health check; test is exec form, e.g. [\"CMD\", \"/calcgrid\", \"probe\", \"http://127.0.0.1:8080/healthz\"]."
  type = object({
    test         = list(string)
    interval     = optional(string, "5s")
    timeout      = optional(string, "3s")
    retries      = optional(number, 3)
    start_period = optional(string, "10s")
  })

  validation {
    condition     = length(var.healthcheck.test) >= 2 && contains(["CMD", "CMD-SHELL"], var.healthcheck.test[0])
    error_message = "healthcheck.test must start with \"CMD\" or \"CMD-SHELL\" followed by the command."
  }
  validation {
    condition     = alltrue([for d in [var.healthcheck.interval, var.healthcheck.timeout, var.healthcheck.start_period] : can(regex("^[0-9]+(ms|s|m)$", d))])
    error_message = "healthcheck durations must look like 500ms, 5s or 1m."
  }
}

variable "wait_healthy_seconds" {
  description = "Apply waits up to this long for each container to become healthy; 0 does not wait."
  type        = number
  default     = 120

  validation {
    condition     = var.wait_healthy_seconds >= 0 && var.wait_healthy_seconds <= 1800
    error_message = "wait_healthy_seconds must be from 0 to 1800."
  }
}

variable "tmpfs" {
  description = "Writable tmpfs mounts on the read-only root filesystem: path => mount options."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for p in keys(var.tmpfs) : startswith(p, "/")])
    error_message = "tmpfs paths must be absolute."
  }
}

variable "volumes" {
  description = "Named volumes to mount: volume name and absolute target path."
  type = list(object({
    source = string
    target = string
  }))
  default = []

  validation {
    condition     = alltrue([for v in var.volumes : startswith(v.target, "/") && length(v.source) > 0])
    error_message = "volumes[*].target must be an absolute path and source a volume name."
  }
}

variable "log_max_size" {
  description = "json-file log rotation: size of one file (e.g. 10m)."
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

variable "stop_timeout" {
  description = "Seconds a container gets to stop after SIGTERM before SIGKILL."
  type        = number
  default     = 10

  validation {
    condition     = var.stop_timeout >= 1 && var.stop_timeout <= 600
    error_message = "stop_timeout must be from 1 to 600 seconds."
  }
}

variable "labels" {
  description = "Extra labels; calcgrid.env, calcgrid.role and calcgrid.instance are always set."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.labels) : !contains(["calcgrid.env", "calcgrid.role", "calcgrid.instance"], k)])
    error_message = "labels must not override calcgrid.env, calcgrid.role or calcgrid.instance."
  }
}
