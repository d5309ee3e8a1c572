variable "tenants" {
  description = "Tenants of this environment: name => {} (a tenant sees, lists and cancels only its own tasks)."
  type        = map(object({}))
  default     = {}
}

variable "api_keys" {
  description = "API keys: name => tenant (one of tenants), scopes (submit, read, cancel, admin), rate_per_second and max_pending (0: unlimited), priorities (queues it may submit to; empty: all), expires_at (RFC 3339; null: never). The secrets are in the api_keys output."
  type = map(object({
    tenant          = string
    scopes          = set(string)
    rate_per_second = optional(number, 0)
    max_pending     = optional(number, 0)
    priorities      = optional(set(string), [])
    expires_at      = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in values(var.api_keys) : length(k.scopes) > 0])
    error_message = "Every api_keys entry needs at least one scope: submit, read, cancel or admin."
  }
}

variable "queues" {
  description = "Queue settings: name (high, medium, low) => paused, max_pending (0: the environment's cap) and weight (1 to 100; workers take a new weight when they restart). Carried from one environment to the next by `make promote`."
  type = map(object({
    paused      = optional(bool, false)
    max_pending = optional(number)
    weight      = optional(number)
  }))
  default = {}
}
