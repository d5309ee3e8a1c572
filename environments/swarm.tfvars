# swarm: dev's size on a single-node Docker Swarm (target = "swarm"): the
# API, the workers and Redis are services (rolling updates, restarts,
# limits and reservations), nginx, the dashboard and Prometheus containers
# on the manager, published on 127.0.0.1. `make up ENV=swarm` initialises
# the swarm when the engine is in none, `make down ENV=swarm` leaves it then.
environment     = "swarm"
target          = "swarm"
http_port       = 18084
monitor_port    = 15559
prometheus_port = 19094
app_subnet      = "10.231.5.0/24"
diagnostics     = true
# Published on 127.0.0.1 only, like dev: no API keys.
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
  memory_mb         = 192
  cpus              = 0.2
  scrape_interval_s = 5
  retention_hours   = 6
  storage_mb        = 64
}
