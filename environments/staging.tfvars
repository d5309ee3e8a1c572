# staging: between dev and prod; runs beside dev on the same host.
environment     = "staging"
http_port       = 18081
monitor_port    = 15556
prometheus_port = 19091
app_subnet      = "10.231.2.0/24"
diagnostics     = true
auth            = "required"

redis = {
  memory_mb    = 512
  maxmemory_mb = 384
  cpus         = 0.5
  # A primary, two replicas and three Sentinels: losing the primary's
  # container or host costs seconds, not the service, and a 202 means a
  # replica has the task (docs/scale-out.md).
  ha = true
}

api = {
  replicas  = 3
  memory_mb = 256
  cpus      = 0.25
}

worker = {
  replicas    = 3
  memory_mb   = 1024
  cpus        = 1
  concurrency = 2
}

loadbalancer = {
  memory_mb        = 128
  cpus             = 0.25
  rate_limit_rps   = 10
  rate_limit_burst = 40
}

monitor = {
  memory_mb = 128
  cpus      = 0.25
}

prometheus = {
  memory_mb  = 768
  cpus       = 0.5
  storage_mb = 256
}
