variable "app" {
  description = "What the app roles share, with this role's own Redis user (the root module's local.role_app.monitor); the dashboard reads environment, image, binary, user, Redis address, user and password, the dash and edge networks' names, bind_ip (host address it is published on) and log rotation. See modules/api for each attribute."
  type = object({
    environment = string
    image       = string
    binary      = optional(string, "/usr/local/bin/calcgrid")
    user        = optional(string, "65532:65532")
    redis       = object({ username = string, password = string, address = optional(string), sentinels = optional(list(string), []), master = optional(string), sentinel_password = optional(string), hosts = optional(map(string), {}) })
    networks    = object({ dash = string, edge = string })
    bind_ip     = string
    log         = optional(object({ max_size = optional(string), max_file = optional(number) }))
  })
}

variable "monitor" {
  description = "The root module's monitor settings plus what it publishes: memory_mb, cpus, readonly (reject pausing, deleting and re-running from the UI), user and password (basic auth, also asked of Prometheus when it scrapes /metrics), port (host port), prometheus_url (the Prometheus asynqmon's charts query, on the dash network; empty: no charts)."
  type        = object({ memory_mb = number, cpus = number, readonly = bool, user = string, password = string, port = number, prometheus_url = optional(string, "") })
}
