# dev: small, diagnostics on, generous rate limit for the test suite.
environment  = "dev"
http_port    = 18080
monitor_port = 15555
app_subnet   = "10.231.1.0/24"
diagnostics  = true

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
