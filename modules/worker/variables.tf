variable "app" {
  description = "What the app roles share, with this role's own Redis user (the root module's local.role_app.worker); a worker reads environment, image, binary, user, Redis address, user and password, the data network's name, log rotation, diagnostics and retention. See modules/api for each attribute."
  type = object({
    environment = string
    target      = optional(string, "docker")
    network_ids = optional(map(string), {})
    image       = string
    binary      = optional(string, "/usr/local/bin/calcgrid")
    user        = optional(string, "65532:65532")
    redis       = object({ username = string, password = string, address = optional(string), sentinels = optional(list(string), []), master = optional(string), sentinel_password = optional(string), hosts = optional(map(string), {}) })
    networks    = object({ data = string })
    log         = optional(object({ max_size = optional(string), max_file = optional(number) }))
    diagnostics = bool
    retention   = optional(object({ completed_hours = number, failed_hours = number, cancelled_hours = number }))
  })
}

variable "worker" {
  description = "The root module's worker settings: replicas, memory_mb and cpus per replica, concurrency (tasks one worker runs at once), shutdown_timeout (seconds after SIGTERM before SIGKILL), and the task budget overrides task_memory_mb and task_work_s (null: derived; see modules/container's task_budget)."
  type = object({
    replicas         = number
    memory_mb        = number
    cpus             = number
    concurrency      = number
    shutdown_timeout = number
    task_memory_mb   = optional(number)
    task_work_s      = optional(number)
  })
}
