variable "common" {
  description = "What every role shares (the root module's local.common); Redis reads environment, the data and dash networks' names (its clients: API and workers; the dashboard) and log rotation (modules/container's defaults when omitted)."
  type = object({
    environment = string
    networks    = object({ data = string, dash = string })
    log         = optional(object({ max_size = optional(string), max_file = optional(number) }))
  })
}

variable "image" {
  description = "Redis image (official redis or the air-gapped build); must provide sh, redis-server, redis-cli and a /data directory owned by user."
  type        = string
}

variable "user" {
  description = "Non-root uid:gid Redis runs as; must own /data in the image (999:999 in the official image)."
  type        = string
}

variable "password" {
  description = "Password clients must send (AUTH); the root module requires 32 to 128 letters or digits."
  type        = string
  sensitive   = true
}

variable "redis" {
  description = "The root module's redis settings: memory_mb (container limit), maxmemory_mb (at most 80% of memory_mb, room for the AOF rewrite; policy noeviction), cpus, appendonly, appendfsync (always, everysec or no)."
  type        = object({ memory_mb = number, maxmemory_mb = number, cpus = number, appendonly = bool, appendfsync = string })
}
