# prod: the reference sizing (~11 GB, ~10.3 cores in limits, Redis HA included).
environment     = "prod"
http_port       = 18082
monitor_port    = 15557
prometheus_port = 19092
app_subnet      = "10.231.3.0/24"
diagnostics     = false
auth            = "required"

redis = {
  memory_mb    = 1024
  maxmemory_mb = 768
  cpus         = 0.5
  # A 202 means the task is on disk, not only in the kernel's page cache: an
  # OS crash or power loss cannot drop an acknowledged task (the stack suite's
  # RedisRestart scenario measures the submission latency of both policies).
  appendfsync = "always"
  # A primary, two replicas and three Sentinels: losing the primary's
  # container or host costs seconds, not the service, and a 202 means a
  # replica has the task (docs/scale-out.md).
  ha = true
}

api = {
  replicas  = 3
  memory_mb = 512
  cpus      = 0.5
}

worker = {
  replicas    = 3
  memory_mb   = 2048
  cpus        = 2
  concurrency = 4
}

loadbalancer = {
  memory_mb        = 256
  cpus             = 0.5
  rate_limit_rps   = 10
  rate_limit_burst = 20
}

monitor = {
  memory_mb = 256
  cpus      = 0.25
}

prometheus = {
  memory_mb  = 768
  cpus       = 0.5
  storage_mb = 256
}
