variable "app" {
  description = "What the app roles share (the root module's local.app): environment; the calcgrid image, its binary and the non-root uid:gid it runs as; Redis address and password; names of the app and data networks; log rotation (modules/container's defaults when omitted); diagnostics (register the diagnostic.* task types)."
  type = object({
    environment = string
    image       = string
    binary      = optional(string, "/usr/local/bin/calcgrid")
    user        = optional(string, "65532:65532")
    redis       = object({ address = string, password = string })
    networks    = object({ app = string, data = string })
    log         = optional(object({ max_size = optional(string), max_file = optional(number) }))
    diagnostics = bool
  })
}

variable "api" {
  description = "The root module's api settings: replicas, memory_mb and cpus per replica, queue_max_pending (pending tasks per queue above which submissions get 429)."
  type        = object({ replicas = number, memory_mb = number, cpus = number, queue_max_pending = number })
}

variable "app_subnet" {
  description = "Subnet of the app network; replica n is pinned to host address 10+n in it, so a replaced container keeps its address and nginx's upstream stays valid."
  type        = string
}
