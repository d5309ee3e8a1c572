variable "environment" {
  description = "Environment name, 2-12 lowercase letters or digits (checked by modules/container, which names everything from it); must equal the selected workspace (terraform workspace select -or-create <env>)."
  type        = string
}

variable "target" {
  description = "What runs the stack on the Docker host: docker (containers) or swarm (a single-node Swarm: api, worker and redis are services with rolling updates, restarts and limits; nginx, the dashboard and Prometheus stay containers on the manager, published on bind_ip; `make up` initialises the swarm when the engine is in none). redis.ha is not supported on swarm yet."
  type        = string
  default     = "docker"

  validation {
    condition     = contains(["docker", "swarm"], var.target)
    error_message = "target must be docker or swarm."
  }
}

variable "redis_image" {
  description = "Redis image (official Debian-based by default; the air-gapped bootstrap overrides it)."
  type        = string
  # 7.4.10 (July 2026) is the latest 7.4 patch release: it fixes the Lua
  # remote-code-execution bugs of 7.4.6 (CVE-2025-49844, -46817, -46818,
  # -46819), 7.4.9's (CVE-2026-23479, -25243, -23631) and the stream RESTORE
  # use-after-free; 7.4.2, pinned before, had them all.
  default = "redis:7.4.10-bookworm"
}

variable "nginx_image" {
  description = "nginx image (official Debian-based by default; the air-gapped bootstrap overrides it)."
  type        = string
  default     = "nginx:1.27.4-bookworm"
}

variable "prometheus_image" {
  description = "Prometheus image (official; the air-gapped bootstrap overrides it with Debian's package). It must have sh, wget and prometheus on PATH (modules/prometheus)."
  type        = string
  default     = "prom/prometheus:v2.53.4"
}

variable "go_builder_image" {
  description = "Go toolchain image for the app's builder stage (build arg GO_BUILDER_IMAGE)."
  type        = string
  default     = "golang:1.26-bookworm"

  validation {
    condition     = length(trimspace(var.go_builder_image)) > 0
    error_message = "go_builder_image must not be empty."
  }
}

variable "runtime_image" {
  description = "Runtime base image for the app (no shell, non-root; build arg RUNTIME_IMAGE)."
  type        = string
  default     = "gcr.io/distroless/static-debian12:nonroot"

  validation {
    condition     = length(trimspace(var.runtime_image)) > 0
    error_message = "runtime_image must not be empty."
  }
}

variable "go_proxy" {
  description = "GOPROXY for the image build's module download (`make up` passes the host's `go env GOPROXY`); empty uses Go's default."
  type        = string
  default     = ""

  validation {
    condition     = !strcontains(var.go_proxy, " ")
    error_message = "go_proxy must be a comma- or pipe-separated list without spaces, as in `go env GOPROXY`."
  }
}

variable "go_flags" {
  description = "GOFLAGS for the image build (`make up` passes the host's `go env GOFLAGS`)."
  type        = string
  default     = ""

  validation {
    condition     = length(var.go_flags) < 1024
    error_message = "go_flags must be shorter than 1024 characters."
  }
}

variable "app_image_override" {
  description = "Run this existing app image ID instead of building one (set by `make promote` to the source environment's app_image)."
  type        = string
  default     = ""

  validation {
    condition     = var.app_image_override == "" || can(regex("^sha256:[0-9a-f]{64}$", var.app_image_override))
    error_message = "app_image_override must be empty or an image ID like sha256:<64 hex digits> (the app_image output of another environment)."
  }
}

variable "redis_user" {
  description = "Non-root numeric uid:gid Redis runs as (checked by modules/container); must own /data in redis_image (999:999 in the official image)."
  type        = string
  default     = "999:999"
}

variable "nginx_user" {
  description = "Non-root numeric uid:gid nginx runs as (checked by modules/container; 101:101 in the official image)."
  type        = string
  default     = "101:101"
}

variable "http_port" {
  description = "Host port of the nginx endpoint (distinct per environment so they run side by side)."
  type        = number

  validation {
    condition     = var.http_port >= 1024 && var.http_port <= 65535
    error_message = "http_port must be from 1024 to 65535."
  }
}

variable "monitor_port" {
  description = "Host port of the dashboard (distinct per environment)."
  type        = number

  validation {
    condition     = var.monitor_port >= 1024 && var.monitor_port <= 65535
    error_message = "monitor_port must be from 1024 to 65535."
  }
}

variable "prometheus_port" {
  description = "Host port of the Prometheus UI and API (distinct per environment)."
  type        = number

  validation {
    condition     = var.prometheus_port >= 1024 && var.prometheus_port <= 65535
    error_message = "prometheus_port must be from 1024 to 65535."
  }
}

variable "bind_ip" {
  description = "Host IPv4 address nginx, the dashboard and Prometheus are published on: a loopback address (127.0.0.0/8), or any address with auth = \"required\"."
  type        = string
  default     = "127.0.0.1"

  validation {
    condition     = can(cidrhost("${var.bind_ip}/32", 0))
    error_message = "bind_ip must be an IPv4 address such as 127.0.0.1."
  }
}

variable "auth" {
  description = "API access control: required (every /v1 request needs an API key: the bootstrap admin_token output creates the first ones, terraform/control the rest) or off (anyone who reaches the endpoint may submit, read and cancel every task; for a laptop)."
  type        = string
  default     = "required"

  validation {
    condition     = contains(["required", "off"], var.auth)
    error_message = "auth must be required or off."
  }
}

variable "app_subnet" {
  description = "Subnet of the environment's internal networks, distinct per environment: the app network (API replicas get pinned addresses in it) takes its first quarter, the data and dash networks (Redis HA's instances and Sentinels are pinned there) the next two."
  type        = string

  validation {
    condition     = can(cidrhost(var.app_subnet, 32)) && can(regex("^[0-9.]+/(1[6-9]|2[0-4])$", var.app_subnet))
    error_message = "app_subnet must be an IPv4 CIDR from /16 to /24, e.g. 10.231.1.0/24 (its quarters are the app, data and dash networks)."
  }
}

variable "redis" {
  description = "Redis sizing and durability: memory_mb (container limit), maxmemory_mb (at most 80% of memory_mb, checked by modules/redis), cpus, appendonly, appendfsync (always, everysec or no), ha (high availability: a primary, two replicas and three Sentinels, each instance of this size; a 202 then means a replica has the task, see docs/scale-out.md)."
  type = object({
    memory_mb    = number
    maxmemory_mb = number
    cpus         = number
    appendonly   = optional(bool, true)
    appendfsync  = optional(string, "everysec")
    ha           = optional(bool, false)
  })

  validation {
    condition     = var.redis.memory_mb >= 64 && var.redis.maxmemory_mb >= 16 && floor(var.redis.maxmemory_mb) == var.redis.maxmemory_mb
    error_message = "redis needs memory_mb >= 64 and a whole maxmemory_mb >= 16."
  }
  validation {
    condition     = contains(["always", "everysec", "no"], var.redis.appendfsync)
    error_message = "redis.appendfsync must be always, everysec or no."
  }
}

variable "api" {
  description = "API servers: replicas (1-16), memory_mb and cpus per replica, queue_max_pending (pending tasks per queue above which submissions get 429)."
  type = object({
    replicas          = optional(number, 3)
    memory_mb         = number
    cpus              = number
    queue_max_pending = optional(number, 10000)
  })

  validation {
    condition     = var.api.memory_mb >= 64 && var.api.queue_max_pending >= 1 && var.api.queue_max_pending <= 10000000 && floor(var.api.queue_max_pending) == var.api.queue_max_pending
    error_message = "api needs memory_mb >= 64 and queue_max_pending a whole number from 1 to 10000000."
  }
}

variable "worker" {
  description = "Workers: replicas (1-16), memory_mb and cpus per replica, concurrency (tasks at once per worker), shutdown_timeout (seconds after SIGTERM before SIGKILL, 1-600; running tasks are requeued 5 s before). The API refuses (422) a task whose estimated memory exceeds a worker slot's share, task_memory_mb (default 72% of memory_mb / concurrency: the Go runtime's 90% soft limit less 20% headroom), or whose estimated CPU time exceeds task_work_s seconds of one core (default: what fits in 80% of its type's timeout at cpus / concurrency cores); GET /v1/task-types shows both."
  type = object({
    replicas         = optional(number, 3)
    memory_mb        = number
    cpus             = number
    concurrency      = optional(number, 4)
    shutdown_timeout = optional(number, 30)
    task_memory_mb   = optional(number)
    task_work_s      = optional(number)
  })

  validation {
    condition     = var.worker.memory_mb >= 64 && var.worker.concurrency >= 1 && var.worker.concurrency <= 256 && floor(var.worker.concurrency) == var.worker.concurrency
    error_message = "worker needs memory_mb >= 64 and concurrency a whole number from 1 to 256."
  }
  validation {
    condition = (var.worker.task_memory_mb == null ? true : (floor(var.worker.task_memory_mb) == var.worker.task_memory_mb && var.worker.task_memory_mb >= 16
    && var.worker.task_memory_mb * var.worker.concurrency <= 0.9 * var.worker.memory_mb))
    error_message = "worker.task_memory_mb must be a whole number >= 16 whose concurrency slots fit in the Go runtime's soft limit, 90% of memory_mb."
  }
  validation {
    condition     = var.worker.task_work_s == null ? true : (floor(var.worker.task_work_s) == var.worker.task_work_s && var.worker.task_work_s >= 1 && var.worker.task_work_s <= 86400)
    error_message = "worker.task_work_s must be a whole number of seconds from 1 to 86400."
  }
}

variable "retention" {
  description = "How long a finished task is kept (asynq's record with its result, and calcgrid's metadata; its key names it until then), in hours after it completed, failed or was cancelled. failed_hours and cancelled_hours are at most 2160 (asynq keeps failed and cancelled tasks 90 days at most); every value is at least one second."
  type = object({
    completed_hours = optional(number, 168)
    failed_hours    = optional(number, 168)
    cancelled_hours = optional(number, 168)
  })
  default = {}

  validation {
    condition = (alltrue([for h in values(var.retention) : h * 3600 >= 1])
    && var.retention.failed_hours <= 2160 && var.retention.cancelled_hours <= 2160)
    error_message = "retention hours must be at least 1/3600 (one second); failed_hours and cancelled_hours at most 2160 (90 days)."
  }
}

variable "loadbalancer" {
  description = "nginx: memory_mb, cpus, rate_limit_rps and rate_limit_burst for reads (GET, HEAD) per client IP and write_rate_limit_rps and write_rate_limit_burst for the rest (unset: as reads; more answer 429), conn_limit (open connections per client IP), server_names (host names served besides localhost, 127.0.0.1 and bind_ip; any other Host header is closed unanswered), client_max_body_size (larger bodies answer 413) and submission_max_body_size (the same for POST /v1/tasks; the API's own cap is 2 MiB), keepalive (idle connections to the API per nginx worker)."
  type = object({
    memory_mb                = number
    cpus                     = number
    rate_limit_rps           = optional(number, 10)
    rate_limit_burst         = optional(number, 20)
    write_rate_limit_rps     = optional(number)
    write_rate_limit_burst   = optional(number)
    conn_limit               = optional(number, 128)
    server_names             = optional(list(string), [])
    client_max_body_size     = optional(string, "256k")
    submission_max_body_size = optional(string, "2m")
    keepalive                = optional(number, 32)
  })

  validation {
    condition = (var.loadbalancer.rate_limit_rps >= 1 && var.loadbalancer.rate_limit_rps <= 100000 && floor(var.loadbalancer.rate_limit_rps) == var.loadbalancer.rate_limit_rps
    && var.loadbalancer.rate_limit_burst >= 0 && var.loadbalancer.rate_limit_burst <= 100000 && floor(var.loadbalancer.rate_limit_burst) == var.loadbalancer.rate_limit_burst)
    error_message = "loadbalancer needs rate_limit_rps a whole number from 1 to 100000 and rate_limit_burst one from 0 to 100000."
  }
  validation {
    condition     = alltrue([for s in [var.loadbalancer.client_max_body_size, var.loadbalancer.submission_max_body_size] : can(regex("^[1-9][0-9]*[km]?$", s))]) && var.loadbalancer.keepalive >= 1 && var.loadbalancer.keepalive <= 1024
    error_message = "loadbalancer needs client_max_body_size and submission_max_body_size like 256k or 2m, and keepalive from 1 to 1024."
  }
  validation {
    condition = (alltrue([for v in [var.loadbalancer.write_rate_limit_rps, var.loadbalancer.write_rate_limit_burst] : v == null ? true : v >= 0 && v <= 100000 && floor(v) == v])
    && (var.loadbalancer.write_rate_limit_rps == null ? true : var.loadbalancer.write_rate_limit_rps >= 1))
    error_message = "loadbalancer.write_rate_limit_rps must be a whole number from 1 to 100000 and write_rate_limit_burst one from 0 to 100000 (or leave them unset to use the read limits)."
  }
  validation {
    condition     = var.loadbalancer.conn_limit >= 1 && var.loadbalancer.conn_limit <= 65536 && floor(var.loadbalancer.conn_limit) == var.loadbalancer.conn_limit
    error_message = "loadbalancer.conn_limit must be a whole number of connections per client from 1 to 65536."
  }
  validation {
    condition     = alltrue([for n in var.loadbalancer.server_names : can(regex("^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", n))])
    error_message = "loadbalancer.server_names must be lower-case host names such as calcgrid.internal (no port, no wildcard)."
  }
}

variable "monitor" {
  description = "Dashboard: memory_mb, cpus, readonly (reject pausing, deleting and re-running from the UI), user (basic auth; the password is monitor_password)."
  type = object({
    memory_mb = number
    cpus      = number
    readonly  = optional(bool, true)
    user      = optional(string, "admin")
  })

  validation {
    condition     = var.monitor.memory_mb >= 32 && can(regex("^[A-Za-z0-9._-]{1,64}$", var.monitor.user))
    error_message = "monitor needs memory_mb >= 32 and a user of 1-64 letters, digits, dots, dashes or underscores."
  }
}

variable "prometheus" {
  description = "Prometheus: memory_mb, cpus, scrape_interval_s (also how often the alert rules are evaluated), retention_hours and storage_mb (a tmpfs inside memory_mb, at most half of it: the history does not survive a restart of the container). Checked by modules/prometheus."
  type = object({
    memory_mb         = number
    cpus              = number
    scrape_interval_s = optional(number, 15)
    retention_hours   = optional(number, 24)
    storage_mb        = optional(number, 256)
  })
  default = { memory_mb = 512, cpus = 0.25 }
}

variable "diagnostics" {
  description = "Register the diagnostic.* task types in the API and the workers (for development and tests: on in dev and staging, off in prod)."
  type        = bool
  default     = false
}

variable "log_max_size" {
  description = "json-file log rotation for every container: size of one file, like 10m, 512k or 1g (checked by modules/container)."
  type        = string
  default     = "10m"
}

variable "log_max_file" {
  description = "json-file log rotation for every container: files kept, 1 to 20 (checked by modules/container)."
  type        = number
  default     = 3
}

variable "redis_password" {
  description = "Password of Redis's admin user (health checks, redis-cli --user admin, operators), 32 to 128 letters or digits; empty generates one per workspace, kept only in that workspace's state. The api, worker and monitor users' passwords are always generated (modules/redis/acl.txt has their rules)."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.redis_password == "" || can(regex("^[A-Za-z0-9]{32,128}$", var.redis_password))
    error_message = "redis_password must be empty (generate) or 32 to 128 letters or digits."
  }
}

variable "monitor_password" {
  description = "Dashboard basic-auth password, at least 12 characters; empty generates one per workspace, kept only in that workspace's state."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.monitor_password == "" || length(var.monitor_password) >= 12
    error_message = "monitor_password must be empty (generate) or at least 12 characters."
  }
}

variable "host_memory_mb" {
  description = "Memory of the Docker host in MB; a check warns when the containers' limits add up to more (`make up` passes the real figure)."
  type        = number
  default     = 16384

  validation {
    condition     = var.host_memory_mb >= 512
    error_message = "host_memory_mb must be at least 512."
  }
}

variable "host_cpus" {
  description = "CPU cores of the Docker host; a check warns when the containers' CPU limits add up to more (`make up` passes the real figure)."
  type        = number
  default     = 12

  validation {
    condition     = var.host_cpus >= 1
    error_message = "host_cpus must be at least 1."
  }
}
