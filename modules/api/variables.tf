variable "app" {
  description = "What the app roles share, with this role's own Redis user (the root module's local.role_app.api): environment; the calcgrid image, its binary and the non-root uid:gid it runs as; Redis user and password, and its address or (Redis HA) the Sentinels'; names of the app and data networks; log rotation (modules/container's defaults when omitted); diagnostics (register the diagnostic.* task types); retention (hours a completed, failed or cancelled task is kept; the app's defaults when omitted)."
  type = object({
    environment = string
    target      = optional(string, "docker")
    network_ids = optional(map(string), {})
    image       = string
    binary      = optional(string, "/usr/local/bin/calcgrid")
    user        = optional(string, "65532:65532")
    redis       = object({ username = string, password = string, address = optional(string), sentinels = optional(list(string), []), master = optional(string), sentinel_password = optional(string), hosts = optional(map(string), {}) })
    networks    = object({ app = string, data = string })
    log         = optional(object({ max_size = optional(string), max_file = optional(number) }))
    diagnostics = bool
    retention   = optional(object({ completed_hours = number, failed_hours = number, cancelled_hours = number }))
  })
}

variable "api" {
  description = "The root module's api settings: replicas, memory_mb and cpus per replica, queue_max_pending (pending tasks per queue above which submissions get 429)."
  type        = object({ replicas = number, memory_mb = number, cpus = number, queue_max_pending = number })
}

variable "workers" {
  description = "The root module's worker settings, of which the API reads memory_mb, cpus, concurrency, task_memory_mb and task_work_s: it refuses (422) a task over the budget they give one worker slot (see modules/container's task_budget)."
  type = object({
    memory_mb      = number
    cpus           = number
    concurrency    = number
    task_memory_mb = optional(number)
    task_work_s    = optional(number)
  })
}

variable "auth" {
  description = "Access control: required (every /v1 request needs an API key; the bootstrap admin_token, scope admin, creates them) or off (every request acts as tenant default with every scope). admin_token and id_secret (the key task ids are derived with) reach the API as files, and only with required. Sensitive."
  type        = object({ mode = string, admin_token = optional(string, ""), id_secret = optional(string, "") })
  default     = { mode = "off" }
  sensitive   = true

  validation {
    condition     = contains(["required", "off"], nonsensitive(var.auth.mode))
    error_message = "auth.mode must be required or off."
  }
  validation {
    condition     = nonsensitive(var.auth.mode == "off" || (can(regex("^\\S{16,}$", var.auth.admin_token)) && length(var.auth.id_secret) >= 32))
    error_message = "With auth.mode required, admin_token must be at least 16 characters without white space and id_secret at least 32 (what the API accepts)."
  }
}

variable "app_subnet" {
  description = "Subnet of the app network; replica n is pinned to host address 10+n in it, so a replaced container keeps its address and nginx's upstream stays valid."
  type        = string
}
