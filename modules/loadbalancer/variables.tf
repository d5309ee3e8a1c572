variable "common" {
  description = "What every role shares (the root module's local.common); nginx reads environment, the edge and app networks' names, bind_ip (host address it is published on) and log rotation (modules/container's defaults when omitted)."
  type = object({
    environment = string
    target      = optional(string, "docker")
    networks    = object({ edge = string, app = string })
    bind_ip     = string
    log         = optional(object({ max_size = optional(string), max_file = optional(number) }))
  })
}

variable "image" {
  description = "nginx image (official or the air-gapped build); must provide sh, bash, head, grep and nginx >= 1.19.5 on PATH."
  type        = string
}

variable "user" {
  description = "Non-root uid:gid nginx runs as (101:101 in the official image)."
  type        = string
}

variable "upstreams" {
  description = "API replicas: container name and pinned IPv4:port on the app network (the api module's upstreams output); on swarm one entry, the API service's name and name:port."
  type        = list(object({ name = string, address = string }))

  # Wiring, not a setting: checked here because nginx.conf.tftpl needs it.
  validation {
    condition = (length(var.upstreams) >= 1 && alltrue([for u in var.upstreams : can(regex("^[0-9.]+:[0-9]{1,5}$", u.address))])
    || (var.common.target == "swarm" && length(var.upstreams) == 1 && can(regex("^[a-z0-9-]+:[0-9]{1,5}$", var.upstreams[0].address))))
    error_message = "upstreams must list at least one API replica, each address IPv4:port such as 10.231.0.11:8080 (on swarm: one, the API service's name:port)."
  }
}

variable "loadbalancer" {
  description = "The root module's loadbalancer settings (validated there) plus the published port: memory_mb, cpus, rate_limit_rps and rate_limit_burst (reads per client IP; more answer 429), write_rate_limit_rps and write_rate_limit_burst (the same for writes; null: as reads), conn_limit (open connections per client IP; more answer 429), server_names (host names answered besides localhost, 127.0.0.1 and bind_ip; any other Host is closed), client_max_body_size and submission_max_body_size (nginx size syntax; larger bodies answer 413; the second for POST /v1/tasks), keepalive (idle connections to the API per nginx worker), port (host port)."
  type = object({
    memory_mb                = number
    cpus                     = number
    rate_limit_rps           = number
    rate_limit_burst         = number
    write_rate_limit_rps     = optional(number)
    write_rate_limit_burst   = optional(number)
    conn_limit               = optional(number, 128)
    server_names             = optional(list(string), [])
    client_max_body_size     = string
    submission_max_body_size = string
    keepalive                = number
    port                     = number
  })
}
