# bench: what `make bench` measures through nginx (bench/README.md). prod's
# topology (three APIs, three workers) scaled to a 2-core machine, with
# diagnostics on (noop and cpu tasks), no API keys and no effective rate
# limit: the load comes from wrk on 127.0.0.1, one client at thousands of
# requests a second.
environment     = "bench"
http_port       = 18083
monitor_port    = 15558
prometheus_port = 19093
app_subnet      = "10.231.4.0/24"
diagnostics     = true
auth            = "off"

redis = {
  memory_mb    = 1024
  maxmemory_mb = 768
  cpus         = 1
}

api = {
  replicas  = 3
  memory_mb = 256
  cpus      = 1
  # wrk submits faster than the workers drain: no 429 from the backlog.
  queue_max_pending = 10000000
}

worker = {
  replicas    = 3
  memory_mb   = 512
  cpus        = 1
  concurrency = 4
}

loadbalancer = {
  memory_mb        = 128
  cpus             = 1
  rate_limit_rps   = 100000
  rate_limit_burst = 100000
  conn_limit       = 1024
}

monitor = {
  memory_mb = 64
  cpus      = 0.1
}

prometheus = {
  memory_mb         = 192
  cpus              = 0.2
  scrape_interval_s = 15
  retention_hours   = 2
  storage_mb        = 64
}
