variable "common" {
  description = "What every role shares (the root module's local.common); Redis reads environment, the data and dash networks' names (its clients: API and workers; the dashboard) and, for Redis HA, their subnets, and log rotation (modules/container's defaults when omitted)."
  type = object({
    environment = string
    target      = optional(string, "docker")
    network_ids = optional(map(string), {})
    networks    = object({ data = string, dash = string })
    subnets     = optional(object({ data = string, dash = string }))
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

variable "passwords" {
  description = "Password of each Redis user: admin (health checks, redis-cli in the container with --user admin, operators; also REDISCLI_AUTH), api, worker, monitor; with redis.ha also replica (replication), sentinel (the Sentinels on the instances) and sentinels (the Sentinels' own, which the app roles log in to them with). The default user is admin under another name (Redis 7.0 replays the append-only file as that user). The rules are in acl.txt; the root module validates the passwords."
  type = object({
    admin     = string
    api       = string
    worker    = string
    monitor   = string
    replica   = optional(string)
    sentinel  = optional(string)
    sentinels = optional(string)
  })
  sensitive = true

  validation {
    condition     = !var.redis.ha || (var.passwords.replica != null && var.passwords.sentinel != null && var.passwords.sentinels != null)
    error_message = "With redis.ha, passwords needs replica, sentinel and sentinels too."
  }
}

variable "monitor_readonly" {
  description = "The monitor user gets acl.txt's monitor-readonly rules (reads only) instead of monitor's (reads and writes: asynqmon's pause, delete, run); the root module passes monitor.readonly."
  type        = bool
}

variable "redis" {
  description = "The root module's redis settings: memory_mb (container limit, per instance), maxmemory_mb (at most 80% of memory_mb, room for the AOF rewrite; policy noeviction), cpus, appendonly, appendfsync (always, everysec or no), ha (three instances and three Sentinels instead of one instance)."
  type        = object({ memory_mb = number, maxmemory_mb = number, cpus = number, appendonly = bool, appendfsync = string, ha = optional(bool, false) })

  validation {
    condition     = !var.redis.ha || var.common.subnets != null
    error_message = "redis.ha pins addresses on the data and dash networks: common.subnets must name their subnets."
  }
}
