variable "common" {
  description = "What every container of the environment shares (the role modules pass their common or app object): environment (part of every name and the calcgrid.env label), target (docker: containers; swarm: the api, worker, redis and sentinel roles become one Swarm service each, the others stay containers) and json-file log rotation (size of one file, files kept)."
  type = object({
    environment = string
    target      = optional(string, "docker")
    network_ids = optional(map(string), {})
    log         = optional(object({ max_size = optional(string, "10m"), max_file = optional(number, 3) }), {})
  })

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.common.environment))
    error_message = "environment must be 2-12 lowercase letters or digits starting with a letter, e.g. \"dev\"."
  }
  validation {
    condition     = contains(["docker", "swarm"], var.common.target)
    error_message = "target must be docker or swarm."
  }
  validation {
    condition     = can(regex("^[1-9][0-9]*[kmg]$", var.common.log.max_size)) && var.common.log.max_file >= 1 && var.common.log.max_file <= 20
    error_message = "log.max_size must look like 10m, 512k or 1g, and log.max_file must be from 1 to 20."
  }
}

variable "role" {
  description = "Component role (api, worker, redis, sentinel, loadbalancer, monitor, prometheus); part of every name and the calcgrid.role label."
  type        = string

  validation {
    condition     = contains(["api", "worker", "redis", "sentinel", "loadbalancer", "monitor", "prometheus"], var.role)
    error_message = "role must be one of api, worker, redis, sentinel, loadbalancer, monitor, prometheus."
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

variable "app" {
  description = "Set for the calcgrid roles (api, worker, monitor); null for other images. The image, its binary and the uid:gid it runs as, the Redis it uses (the role's user and password, and either address or, with Redis HA, the Sentinels' addresses, the primary's name there and the Sentinels' password), and the port of the role's HTTP server: the container runs `<binary> <role>` with CALCGRID_LISTEN, CALCGRID_REDIS_ADDR (or CALCGRID_REDIS_SENTINELS, CALCGRID_REDIS_MASTER and CALCGRID_REDIS_SENTINEL_PASSWORD_FILE), CALCGRID_REDIS_USERNAME, CALCGRID_REDIS_PASSWORD_FILE (the passwords are among its secrets), CALCGRID_INSTANCE (its own name) and, with retention, CALCGRID_RETENTION_COMPLETED, _FAILED and _CANCELLED set beside env, and its health check runs `<binary> probe http://<host>:<port>/healthz` (the runtime image has no shell); CALCGRID_LISTEN and <host> are the replica's pinned address on the network marked listen, else every interface and 127.0.0.1. With app set, image, user, entrypoint, command, instance_env_var and healthcheck stay unset."
  type = object({
    image  = string
    binary = string
    user   = string
    redis = object({
      username = string
      password = string
      # One of address (host:port) or sentinels (host:port each).
      address           = optional(string)
      sentinels         = optional(list(string), [])
      master            = optional(string)
      sentinel_password = optional(string)
      # Redis HA: the instances' and Sentinels' addresses on this role's
      # network, as /etc/hosts entries (see hosts).
      hosts = optional(map(string), {})
    })
    port = number
    # Hours a finished task is kept, by final state (validated by the root
    # module's retention variable); the app's defaults when omitted.
    retention = optional(object({ completed_hours = number, failed_hours = number, cancelled_hours = number }))
  })
  default = null

  validation {
    condition     = try(startswith(var.app.binary, "/") && var.app.port >= 1 && var.app.port <= 65535, var.app == null)
    error_message = "app.binary must be an absolute path and app.port a TCP port."
  }
  validation {
    condition = try((var.app.redis.address != null) != (length(var.app.redis.sentinels) > 0)
    && (length(var.app.redis.sentinels) == 0 || (var.app.redis.master != null && var.app.redis.sentinel_password != null)), var.app == null)
    error_message = "app.redis needs either address, or sentinels with master and sentinel_password; not both."
  }
}

variable "task_budget" {
  description = "Set for the calcgrid roles that hold tasks to a budget (api refuses, worker checks again): one worker container's memory_mb, cpus and concurrency, and the optional overrides task_memory_mb and task_work_s (validated by the root module's worker variable). Sets CALCGRID_WORKER_MEMORY_MB, CALCGRID_WORKER_CPUS, CALCGRID_WORKER_CONCURRENCY, CALCGRID_TASK_MEMORY_MB and CALCGRID_TASK_WORK_BUDGET (0: derived), from which the app derives the budgets; needs app."
  type = object({
    memory_mb      = number
    cpus           = number
    concurrency    = number
    task_memory_mb = optional(number)
    task_work_s    = optional(number)
  })
  default = null
}

variable "image" {
  description = "Image reference or ID the containers run (not with app, which names the calcgrid image)."
  type        = string
  default     = null

  validation {
    condition     = try(length(trimspace(var.image)) > 0, var.image == null)
    error_message = "image must not be empty."
  }
}

variable "user" {
  description = "Numeric non-root uid:gid the process runs as (it must own what the process writes in the image); not with app."
  type        = string
  default     = null

  validation {
    condition     = var.user == null || can(regex("^[1-9][0-9]*:[1-9][0-9]*$", var.user))
    error_message = "user must be a non-root numeric uid:gid such as 65532:65532."
  }
}

variable "entrypoint" {
  description = "Entrypoint override (exec form); empty keeps the image's."
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
}

variable "env" {
  description = "Environment variables shared by every replica (sensitive: they carry passwords)."
  type        = map(string)
  default     = {}
  sensitive   = true

  validation {
    condition     = alltrue([for k in keys(var.env) : can(regex("^[A-Z_][A-Z0-9_]*$", k))])
    error_message = "env keys must be upper-case shell identifiers such as CALCGRID_LISTEN."
  }
}

variable "secrets" {
  description = "Files holding the role's secrets, name => { content, executable }: each replica gets /run/secrets/<name>, root's, mode 0444 (0555 when executable): readable, not writable, by its user, on a volume of its own (calcgrid-<env>-<role>-<n>-secrets, labelled calcgrid.secrets, written through a never-started writer container of the same name), never in its environment, which `docker inspect` shows. With app, the role's Redis password is one of them (redis-password), named by CALCGRID_REDIS_PASSWORD_FILE."
  type = map(object({
    content    = string
    executable = optional(bool, false)
  }))
  default   = {}
  sensitive = true

  validation {
    condition     = alltrue([for k in keys(var.secrets) : can(regex("^[a-z0-9][a-z0-9.-]{0,62}$", k))])
    error_message = "secrets names must be file names of lowercase letters, digits, dots and dashes, such as redis-password."
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

variable "networks" {
  description = "Networks to join. ipv4_addresses pins replica i to ipv4_addresses[i] (empty list: Docker assigns). listen (a calcgrid role, one network with pinned addresses): the role's HTTP server listens on its address there only, so containers on its other networks cannot reach it."
  type = list(object({
    name           = string
    aliases        = optional(list(string), [])
    ipv4_addresses = optional(list(string), [])
    listen         = optional(bool, false)
  }))

  validation {
    condition     = length(var.networks) >= 1 && alltrue([for n in var.networks : length(n.name) > 0])
    error_message = "networks must name at least one network."
  }
  validation {
    condition     = alltrue([for n in var.networks : alltrue([for ip in n.ipv4_addresses : can(cidrhost("${ip}/32", 0))])])
    error_message = "networks[*].ipv4_addresses must be IPv4 addresses such as 10.0.0.5."
  }
  validation {
    condition     = length([for n in var.networks : n if n.listen]) <= 1 && alltrue([for n in var.networks : !n.listen || length(n.ipv4_addresses) > 0])
    error_message = "At most one network may be the one the role listens on (listen = true), and it must pin ipv4_addresses."
  }
}

variable "hosts" {
  description = "Extra /etc/hosts entries, name => IPv4 address: names resolved without DNS (Redis HA's instances and Sentinels; Docker's DNS takes seconds to fail a stopped container's name, and Redis and Sentinel resolve on their only thread)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for ip in values(var.hosts) : can(cidrhost("${ip}/32", 0))])
    error_message = "hosts values must be IPv4 addresses such as 10.0.0.5."
  }
}

variable "ports" {
  description = "Ports to publish on the host (only the load balancer and the monitor do); replica 1 only. ip null or omitted means 127.0.0.1."
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

variable "limits" {
  description = "Per container: memory_mb (memory limit, no swap on top), cpus (cores, fractions allowed) and pids_limit (processes and threads)."
  type = object({
    memory_mb  = number
    cpus       = number
    pids_limit = optional(number, 256)
  })

  validation {
    condition = (var.limits.memory_mb >= 16 && var.limits.memory_mb <= 65536 && var.limits.cpus >= 0.05 && var.limits.cpus <= 64
    && var.limits.pids_limit >= 16 && var.limits.pids_limit <= 32768)
    error_message = "limits need memory_mb from 16 to 65536, cpus from 0.05 to 64 and pids_limit from 16 to 32768."
  }
}

variable "healthcheck" {
  description = "Docker health check (not with app, which probes the role's /healthz); test starts with CMD (exec form, e.g. [\"CMD\", \"/usr/local/bin/calcgrid\", \"probe\", \"http://127.0.0.1:8080/healthz\"]) or CMD-SHELL."
  type = object({
    test         = list(string)
    interval     = optional(string, "5s")
    timeout      = optional(string, "3s")
    retries      = optional(number, 3)
    start_period = optional(string, "10s")
  })
  default = null

  validation {
    condition     = try(length(var.healthcheck.test) >= 2 && contains(["CMD", "CMD-SHELL"], var.healthcheck.test[0]), var.healthcheck == null)
    error_message = "healthcheck.test must start with \"CMD\" or \"CMD-SHELL\" followed by the command."
  }
  validation {
    condition     = try(alltrue([for d in [var.healthcheck.interval, var.healthcheck.timeout, var.healthcheck.start_period] : can(regex("^[0-9]+(ms|s|m)$", d))]), var.healthcheck == null)
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
  description = "Named volumes to mount at an absolute target path: source, shared by every replica, or sources, one per replica (replica i mounts sources[i])."
  type        = list(object({ target = string, source = optional(string), sources = optional(list(string), []) }))
  default     = []

  validation {
    condition     = alltrue([for v in var.volumes : startswith(v.target, "/") && (v.source != null) != (length(v.sources) > 0)])
    error_message = "volumes[*].target must be an absolute path, with either source (a volume name) or sources (one per replica)."
  }
  validation {
    condition     = alltrue([for v in var.volumes : length(v.sources) == 0 || length(v.sources) == var.replicas])
    error_message = "volumes[*].sources must list one volume per replica (${var.replicas})."
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

variable "update_order" {
  description = "Swarm services only: how a rolling update replaces a task, start-first (the new task is healthy before the old one stops: the API) or stop-first (the workers: a task's slot is free before its successor takes work). redis and sentinel are always stop-first."
  type        = string
  default     = "stop-first"

  validation {
    condition     = contains(["start-first", "stop-first"], var.update_order)
    error_message = "update_order must be start-first or stop-first."
  }
}
