mock_provider "docker" {}

variables {
  common           = { environment = "dev" }
  role             = "api"
  replicas         = 3
  image            = "calcgrid-app:dev"
  user             = "65532:65532"
  env              = { CALCGRID_LISTEN = ":8080" }
  instance_env_var = "CALCGRID_INSTANCE"
  networks         = [{ name = "calcgrid-dev-app", aliases = ["api"], ipv4_addresses = ["10.0.0.11", "10.0.0.12", "10.0.0.13"] }, { name = "calcgrid-dev-data" }]
  limits           = { memory_mb = 128, cpus = 0.25 }
  healthcheck      = { test = ["CMD", "/usr/local/bin/calcgrid", "probe", "http://127.0.0.1:8080/healthz"] }
  ports            = [{ internal = 8080, external = 18080 }]
}

run "names_and_labels" {
  command = plan

  assert {
    condition     = docker_container.this[*].name == ["calcgrid-dev-api-1", "calcgrid-dev-api-2", "calcgrid-dev-api-3"]
    error_message = "containers must be named calcgrid-<env>-<role>-<n>"
  }
  assert {
    condition = alltrue([for c in docker_container.this : contains([for l in c.labels : "${l.label}=${l.value}"], "calcgrid.env=dev")
    && contains([for l in c.labels : "${l.label}=${l.value}"], "calcgrid.role=api")])
    error_message = "every container carries calcgrid.env and calcgrid.role"
  }
}

run "hardening" {
  command = plan

  assert {
    condition = alltrue([for c in docker_container.this :
      c.read_only && c.restart == "unless-stopped" && c.memory == 128 && c.cpus == "0.25"
      && contains(c.security_opts, "no-new-privileges:true") && c.user == "65532:65532"
      && c.log_driver == "json-file" && c.log_opts["max-size"] == "10m" && c.log_opts["max-file"] == "3"
    ])
    error_message = "every container is read-only, limited, restarted unless stopped, with rotated logs and no-new-privileges"
  }
  assert {
    condition     = alltrue([for c in docker_container.this : [for cap in c.capabilities : cap.drop][0] == toset(["ALL"])])
    error_message = "every container drops all capabilities"
  }
  assert {
    condition     = length(terraform_data.pids_limit) == 3 && strcontains(terraform_data.pids_limit[0].triggers_replace[1], "256")
    error_message = "every container gets a pids limit (256 by default)"
  }
}

run "log_rotation_from_common" {
  command = plan

  variables {
    common = { environment = "dev", log = { max_size = "1g", max_file = 5 } }
  }
  assert {
    condition     = alltrue([for c in docker_container.this : c.log_opts == tomap({ "max-size" = "1g", "max-file" = "5" })])
    error_message = "log rotation follows common.log"
  }
}

run "env_and_instance_name" {
  command = plan

  assert {
    condition     = output.env["calcgrid-dev-api-2"] == tolist(["CALCGRID_INSTANCE=calcgrid-dev-api-2", "CALCGRID_LISTEN=:8080"])
    error_message = "every replica gets env plus instance_env_var set to its own name"
  }
}

run "ports_only_on_first_replica_and_loopback" {
  command = plan

  assert {
    condition     = length(docker_container.this[0].ports) == 1 && docker_container.this[0].ports[0].ip == "127.0.0.1" && length(docker_container.this[1].ports) == 0
    error_message = "ports are published on 127.0.0.1, by replica 1 only"
  }
}

run "pinned_addresses_per_replica" {
  command = plan

  assert {
    condition     = [for name in output.names : output.networks[name]["calcgrid-dev-app"].ipv4_address] == ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
    error_message = "replica n gets ipv4_addresses[n-1] on the app network"
  }
  assert {
    condition = jsonencode(output.networks["calcgrid-dev-api-3"]) == jsonencode({
      "calcgrid-dev-app"  = { aliases = ["api"], ipv4_address = "10.0.0.13" }
      "calcgrid-dev-data" = { aliases = [], ipv4_address = null }
    })
    error_message = "each replica joins every listed network, with its aliases; unpinned networks leave the address to Docker"
  }
}

run "refuses_root" {
  command = plan

  variables {
    user = "0:0"
  }
  expect_failures = [var.user]
}

run "refuses_a_user_name" {
  command = plan

  variables {
    user = "root"
  }
  expect_failures = [var.user]
}

run "refuses_unknown_role" {
  command = plan

  variables {
    role = "db"
  }
  expect_failures = [var.role]
}

run "refuses_bad_environment_name" {
  command = plan

  variables {
    common = { environment = "Dev_1" }
  }
  expect_failures = [var.common]
}

run "refuses_bad_log_rotation" {
  command = plan

  variables {
    common = { environment = "dev", log = { max_size = "10MB" } }
  }
  expect_failures = [var.common]
}

run "refuses_limits_out_of_range" {
  command = plan

  variables {
    limits = { memory_mb = 8, cpus = 0.25 }
  }
  expect_failures = [var.limits]
}

run "refuses_zero_replicas" {
  command = plan

  variables {
    replicas = 0
  }
  expect_failures = [var.replicas]
}

run "refuses_empty_entrypoint_part" {
  command = plan

  variables {
    entrypoint = [""]
  }
  expect_failures = [var.entrypoint]
}

run "refuses_shell_less_healthcheck" {
  command = plan

  variables {
    healthcheck = { test = ["curl", "localhost"] }
  }
  expect_failures = [var.healthcheck]
}

run "refuses_address_count_mismatch" {
  command = plan

  variables {
    networks = [{ name = "calcgrid-dev-app", ipv4_addresses = ["10.0.0.11"] }]
  }
  expect_failures = [terraform_data.inputs]
}

run "whole_cpus_written_as_the_provider_reads_them" {
  command = plan

  variables {
    limits = { memory_mb = 128, cpus = 2 }
  }
  assert {
    condition     = docker_container.this[0].cpus == "2.0"
    error_message = "whole CPU counts are written as \"2.0\", as the provider reads them back (no perpetual diff)"
  }
}

run "example" {
  command = plan

  module {
    source = "./examples/basic"
  }
  assert {
    condition     = output.names == ["calcgrid-demo-redis-1"]
    error_message = "the example plans one container"
  }
}

run "calcgrid_role_from_app" {
  command = plan

  variables {
    app              = { image = "calcgrid-app:dev", binary = "/usr/local/bin/calcgrid", user = "65532:65532", redis = { address = "calcgrid-dev-redis-1:6379", username = "worker", password = "0123456789abcdef" }, port = 9090 }
    role             = "worker"
    image            = null
    user             = null
    healthcheck      = null
    instance_env_var = ""
    env              = { CALCGRID_WORKER_CONCURRENCY = "2" }
  }
  assert {
    condition = alltrue([for c in docker_container.this :
      c.image == "calcgrid-app:dev" && c.user == "65532:65532" && c.entrypoint == tolist(["/usr/local/bin/calcgrid"]) && c.command == tolist(["worker"])
    && [for h in c.healthcheck : h.test][0] == tolist(["CMD", "/usr/local/bin/calcgrid", "probe", "http://127.0.0.1:9090/healthz"])])
    error_message = "a calcgrid role runs <binary> <role> as app.user and probes its own /healthz with the binary"
  }
  assert {
    condition = nonsensitive(output.env["calcgrid-dev-worker-2"]) == tolist([
      "CALCGRID_INSTANCE=calcgrid-dev-worker-2", "CALCGRID_LISTEN=:9090", "CALCGRID_REDIS_ADDR=calcgrid-dev-redis-1:6379",
    "CALCGRID_REDIS_PASSWORD_FILE=/run/secrets/redis-password", "CALCGRID_REDIS_USERNAME=worker", "CALCGRID_WORKER_CONCURRENCY=2"])
    error_message = "a calcgrid role gets its listen address, Redis (its own user, the password's file), its own name and the role's env"
  }
  assert {
    condition = jsonencode(output.secrets["calcgrid-dev-worker-2"]) == jsonencode({
      "/run/secrets/redis-password" = "0444"
    })
    error_message = "a calcgrid role's Redis password is a read-only file, never a variable"
  }
  assert {
    condition = ([for m in docker_container.this[1].mounts : "${m.type}:${m.source}:${m.target}"] == ["volume:calcgrid-dev-worker-2-secrets:/run/secrets"]
    && docker_volume.secrets[1].name == "calcgrid-dev-worker-2-secrets")
    error_message = "each replica's secrets are on a volume of its own, calcgrid-<env>-<role>-<n>-secrets at /run/secrets"
  }
}

run "listens_on_one_network_only" {
  command = plan

  variables {
    app              = { image = "calcgrid-app:dev", binary = "/usr/local/bin/calcgrid", user = "65532:65532", redis = { address = "calcgrid-dev-redis-1:6379", username = "api", password = "0123456789abcdef" }, port = 8080 }
    role             = "api"
    replicas         = 2
    image            = null
    user             = null
    healthcheck      = null
    instance_env_var = ""
    networks         = [{ name = "calcgrid-dev-app", ipv4_addresses = ["10.231.1.11", "10.231.1.12"], listen = true }, { name = "calcgrid-dev-data" }]
  }
  assert {
    condition = (contains(nonsensitive(output.env["calcgrid-dev-api-2"]), "CALCGRID_LISTEN=10.231.1.12:8080")
    && [for h in docker_container.this[1].healthcheck : h.test][0] == tolist(["CMD", "/usr/local/bin/calcgrid", "probe", "http://10.231.1.12:8080/healthz"]))
    error_message = "a role listens, and is probed, on its pinned address of the network marked listen only"
  }
}

run "refuses_listen_without_pinned_addresses" {
  command = plan

  variables {
    networks = [{ name = "calcgrid-dev-app", listen = true }]
  }
  expect_failures = [var.networks]
}

run "retention_from_app" {
  command = plan

  variables {
    app              = { image = "calcgrid-app:dev", binary = "/usr/local/bin/calcgrid", user = "65532:65532", redis = { address = "r:6379", username = "worker", password = "0123456789abcdef" }, port = 9090, retention = { completed_hours = 168, failed_hours = 0.5, cancelled_hours = 24 } }
    role             = "worker"
    image            = null
    user             = null
    healthcheck      = null
    instance_env_var = ""
    env              = {}
  }
  assert {
    condition = alltrue([for v in ["CALCGRID_RETENTION_COMPLETED=168h", "CALCGRID_RETENTION_FAILED=0.5h", "CALCGRID_RETENTION_CANCELLED=24h"] :
    contains(nonsensitive(output.env["calcgrid-dev-worker-1"]), v)])
    error_message = "app.retention sets each final state's retention, in hours as Go durations"
  }
}

run "refuses_app_beside_image" {
  command = plan

  variables {
    app = { image = "calcgrid-app:dev", binary = "/usr/local/bin/calcgrid", user = "65532:65532", redis = { address = "r:6379", username = "worker", password = "0123456789abcdef" }, port = 8080 }
  }
  expect_failures = [terraform_data.inputs]
}

run "refuses_task_budget_without_app" {
  command = plan

  variables {
    task_budget = { memory_mb = 384, cpus = 0.5, concurrency = 2 }
  }
  expect_failures = [terraform_data.inputs]
}

# target swarm: the service variant of the same role.
run "swarm_service" {
  command = plan

  variables {
    common           = { environment = "swarm", target = "swarm" }
    app              = { image = "calcgrid-app:swarm", binary = "/usr/local/bin/calcgrid", user = "65532:65532", redis = { address = "calcgrid-swarm-redis:6379", username = "api", password = "0123456789abcdef" }, port = 8080 }
    role             = "api"
    replicas         = 3
    image            = null
    user             = null
    healthcheck      = null
    instance_env_var = ""
    env              = {}
    ports            = []
    update_order     = "start-first"
    networks         = [{ name = "calcgrid-swarm-app", aliases = ["api"], ipv4_addresses = ["10.231.5.11", "10.231.5.12", "10.231.5.13"], listen = true }, { name = "calcgrid-swarm-data" }]
    secrets          = { "admin-token" = { content = "cgadm_0123456789abcdef" } }
    tmpfs            = { "/tmp" = "rw,noexec,nosuid,size=16m,mode=1777" }
  }
  assert {
    condition     = output.service == "calcgrid-swarm-api" && length(docker_container.this) == 0 && length(docker_volume.secrets) == 0 && length(docker_container.secrets) == 0 && length(terraform_data.pids_limit) == 0
    error_message = "on swarm a service role is one service calcgrid-<env>-<role>, no containers, no secrets volumes"
  }
  assert {
    condition = (docker_service.this[0].mode[0].replicated[0].replicas == 3 && docker_service.this[0].endpoint_spec[0].mode == "dnsrr"
    && docker_service.this[0].task_spec[0].container_spec[0].hostname == "calcgrid-swarm-api-{{.Task.Slot}}")
    error_message = "three replicas, found by DNS round robin, each named calcgrid-<env>-<role>-<slot>"
  }
  assert {
    condition = (nonsensitive(output.env["calcgrid-swarm-api"]) == tolist([
      "CALCGRID_INSTANCE=calcgrid-swarm-api-{{.Task.Slot}}", "CALCGRID_LISTEN=:8080", "CALCGRID_REDIS_ADDR=calcgrid-swarm-redis:6379",
      "CALCGRID_REDIS_PASSWORD_FILE=/run/secrets/redis-password", "CALCGRID_REDIS_USERNAME=api"])
    && docker_service.this[0].task_spec[0].container_spec[0].healthcheck[0].test == tolist(["CMD", "/usr/local/bin/calcgrid", "probe", "http://127.0.0.1:8080/healthz"]))
    error_message = "a task gets its slot's instance name, listens on every interface (tasks cannot be pinned) and is probed on 127.0.0.1"
  }
  assert {
    condition = (toset([for s in docker_service.this[0].task_spec[0].container_spec[0].secrets : "${s.file_name}:${s.file_mode}:${s.file_uid}"]) == toset(["/run/secrets/redis-password:292:0", "/run/secrets/admin-token:292:0"])
      && toset([for s in docker_secret.this : s.name]) == toset(["calcgrid-swarm-api-admin-token", "calcgrid-swarm-api-redis-password"])
    && alltrue([for s in docker_secret.this : contains([for l in s.labels : "${l.label}=${l.value}"], "calcgrid.env=swarm")]))
    error_message = "secrets are Swarm secrets at the same /run/secrets/<name>, root's, 0444, labelled with the environment"
  }
  assert {
    condition = (docker_service.this[0].task_spec[0].container_spec[0].read_only && docker_service.this[0].task_spec[0].container_spec[0].cap_drop == tolist(["ALL"])
      && docker_service.this[0].task_spec[0].container_spec[0].user == "65532:65532"
      && docker_service.this[0].task_spec[0].resources[0].limits[0].memory_bytes == 128 * 1048576 && docker_service.this[0].task_spec[0].resources[0].limits[0].nano_cpus == 250000000
      && docker_service.this[0].task_spec[0].resources[0].reservation[0].memory_bytes == 128 * 1048576 && docker_service.this[0].task_spec[0].resources[0].reservation[0].nano_cpus == 62500000
    && docker_service.this[0].task_spec[0].log_driver[0].options == tomap({ "max-size" = "10m", "max-file" = "3" }))
    error_message = "a task is read-only, drops every capability, runs as the role's user, limited and reserved (all its memory, a quarter of its CPU), with rotated logs"
  }
  assert {
    condition = (docker_service.this[0].update_config[0].order == "start-first" && docker_service.this[0].update_config[0].parallelism == 1
      && docker_service.this[0].update_config[0].failure_action == "rollback" && docker_service.this[0].rollback_config[0].parallelism == 1
    && docker_service.this[0].task_spec[0].restart_policy[0].condition == "any")
    error_message = "one task at a time, start-first for the API, rolled back on failure; tasks restart on any exit"
  }
  assert {
    condition = (docker_service.this[0].task_spec[0].placement[0].prefs == toset(["spread=node.id"]) && length(docker_service.this[0].task_spec[0].placement[0].constraints) == 0
    && one([for m in docker_service.this[0].task_spec[0].container_spec[0].mounts : m.tmpfs_options[0] if m.type == "tmpfs"]) == { size_bytes = 16777216, mode = 511 })
    error_message = "app tasks spread over the nodes; the tmpfs keeps its size and mode"
  }
  assert {
    condition = (contains([for l in docker_service.this[0].labels : "${l.label}=${l.value}"], "calcgrid.env=swarm")
    && contains([for l in docker_service.this[0].task_spec[0].container_spec[0].labels : "${l.label}=${l.value}"], "calcgrid.role=api"))
    error_message = "the service and its tasks' containers carry calcgrid.env and calcgrid.role"
  }
}

run "swarm_stateful_role_on_the_manager" {
  command = plan

  variables {
    common       = { environment = "swarm", target = "swarm" }
    role         = "redis"
    replicas     = 1
    ports        = []
    networks     = [{ name = "calcgrid-swarm-data", aliases = ["redis"] }]
    volumes      = [{ target = "/data", sources = ["calcgrid-swarm-redis-data"] }]
    update_order = "start-first"
    secrets      = { "redis.conf" = { content = "port 6379" } }
  }
  assert {
    condition = (docker_service.this[0].task_spec[0].placement[0].constraints == toset(["node.role==manager"]) && docker_service.this[0].task_spec[0].placement[0].max_replicas == 1
    && docker_service.this[0].update_config[0].order == "stop-first" && docker_service.this[0].rollback_config[0].order == "stop-first")
    error_message = "redis stays on the manager (its volume), one task per node, and is always replaced stop-first: two never share the data"
  }
  assert {
    condition     = [for m in docker_service.this[0].task_spec[0].container_spec[0].mounts : "${m.type}:${m.source}:${m.target}" if m.type == "volume"] == ["volume:calcgrid-swarm-redis-data:/data"]
    error_message = "the task mounts the environment's data volume"
  }
}

run "swarm_edge_roles_stay_containers" {
  command = plan

  variables {
    common   = { environment = "swarm", target = "swarm" }
    role     = "loadbalancer"
    replicas = 1
    networks = [{ name = "calcgrid-swarm-edge" }]
  }
  assert {
    condition     = length(docker_service.this) == 0 && output.names == ["calcgrid-swarm-loadbalancer-1"] && output.service == null
    error_message = "the published edge stays a container on swarm (its port binds 127.0.0.1)"
  }
}

run "refuses_unknown_target" {
  command = plan

  variables {
    common = { environment = "dev", target = "k8s" }
  }
  expect_failures = [var.common]
}
