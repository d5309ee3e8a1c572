# dev: small, diagnostics on, generous rate limit for the test suite.
environment     = "dev"
http_port       = 18080
monitor_port    = 15555
prometheus_port = 19090
app_subnet      = "10.231.1.0/24"
diagnostics     = true
# A laptop's stack: no API keys (staging and prod require them).
auth = "off"

redis = {
  memory_mb    = 256
  maxmemory_mb = 192
  cpus         = 0.25
}

api = {
  replicas  = 3
  memory_mb = 128
  cpus      = 0.25
}

worker = {
  replicas    = 3
  memory_mb   = 384
  cpus        = 0.5
  concurrency = 2
  # A minute of one core a task (the derived default would be 6 minutes:
  # 80% of 30-minute timeouts at 0.25 core a slot); memory per slot is
  # derived, 72% of 384 MiB / 2 = 138 MiB.
  task_work_s = 60
}

loadbalancer = {
  memory_mb        = 64
  cpus             = 0.25
  rate_limit_rps   = 100
  rate_limit_burst = 200
}

monitor = {
  memory_mb = 64
  cpus      = 0.1
  readonly  = false
}

prometheus = {
  memory_mb = 192
  cpus      = 0.2
  # Fast enough for the stack suite to see a stopped worker within seconds.
  scrape_interval_s = 5
  retention_hours   = 6
  storage_mb        = 64
}
