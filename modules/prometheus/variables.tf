variable "common" {
  description = "What every container of the environment shares (the root module's local.common): environment, the app network (to reach the API, which listens there only), the data network (the workers), the dash network (the dashboard's) and the edge network (to be published), bind_ip (host address the UI is published on) and log rotation."
  type = object({
    environment = string
    networks    = object({ app = string, data = string, dash = string, edge = string })
    bind_ip     = string
    log         = optional(object({ max_size = optional(string), max_file = optional(number) }))
  })
}

variable "image" {
  description = "Prometheus image: the official one, or the air-gapped build of Debian's package (scripts/images/prometheus); it must have sh, wget and prometheus on PATH."
  type        = string
}

variable "user" {
  description = "Non-root numeric uid:gid Prometheus runs as (it writes only to its tmpfs)."
  type        = string
  default     = "65534:65534"
}

variable "prometheus" {
  description = "The root module's prometheus settings plus its host port: memory_mb, cpus, scrape_interval_s (also the rules' evaluation interval), retention_hours, storage_mb (tmpfs holding the time series, charged to the container's memory like any tmpfs, so at most half of memory_mb; retention by size stops at 70 % of it), port."
  type = object({
    memory_mb         = number
    cpus              = number
    scrape_interval_s = number
    retention_hours   = number
    storage_mb        = number
    port              = number
  })

  validation {
    condition     = var.prometheus.scrape_interval_s >= 1 && var.prometheus.scrape_interval_s <= 300 && floor(var.prometheus.scrape_interval_s) == var.prometheus.scrape_interval_s
    error_message = "prometheus.scrape_interval_s must be a whole number of seconds from 1 to 300."
  }
  validation {
    condition     = var.prometheus.retention_hours >= 1 && var.prometheus.storage_mb >= 64 && var.prometheus.storage_mb <= var.prometheus.memory_mb / 2
    error_message = "prometheus needs retention_hours >= 1 and storage_mb from 64 to half of memory_mb (the tmpfs counts against the container's memory limit)."
  }
}

variable "targets" {
  description = "What to scrape, as host:port: api and worker as instance (the container's name:port, its label) => address (one target per container: the API at its pinned app-network address, the workers on the data network), queues (the dashboard's /metrics on the dash network, asynq's queue collector, with its basic-auth user and password), dns (target swarm: api and/or worker => tasks.<service>:port, discovered by DNS instead of the static targets, which are then empty)."
  type = object({
    api    = map(string)
    worker = map(string)
    queues = object({ targets = list(string), user = string, password = string })
    dns    = optional(map(string), {})
  })

  validation {
    condition = alltrue([for t in concat(keys(var.targets.api), values(var.targets.api), keys(var.targets.worker), values(var.targets.worker), var.targets.queues.targets) :
    can(regex("^[a-z0-9.-]+:[0-9]+$", t))])
    error_message = "targets and their instance names must be host:port, such as calcgrid-dev-api-1:8080."
  }
  validation {
    condition     = alltrue([for role, name in var.targets.dns : contains(["api", "worker"], role) && can(regex("^[a-z0-9.-]+:[0-9]+$", name))])
    error_message = "targets.dns maps api or worker to a DNS name:port such as tasks.calcgrid-swarm-api:8080."
  }
}

variable "rules" {
  description = "Alerting rule files, file name => content (the root module passes monitoring/rules/*.rules.yml); their groups are loaded together."
  type        = map(string)
  default     = {}
}
