#!/usr/bin/env bash
# A second Docker Swarm node on this machine, for the swarm environment spread
# over two nodes (docs/scale-out.md, "More than one node"). This engine
# refuses privileged containers (no Docker-in-Docker), so node 2 is a second
# dockerd in a network namespace of the project's own:
#
#   netns calcgrid-node2, veth cgn2-host (10.231.99.1/30, root namespace)
#   <-> cgn2-peer (10.231.99.2/30, in the netns); the daemon's data root,
#   exec root, socket, pidfile, config and log under .cache/node2/.
#
# Usage: scripts/swarm-nodes.sh up     netns + veth, node 2's dockerd, `docker swarm init`
#                                      on 10.231.99.1 (this engine, the manager), node 2
#                                      joined, the app image loaded there when it exists
#        scripts/swarm-nodes.sh load [IMAGE...]
#                                      copies images to node 2 (docker save | load; default:
#                                      the image the swarm environment's services run)
#        scripts/swarm-nodes.sh crash  node 2 fails at once: its dockerd, containerd and
#                                      every task's process SIGKILLed (a node losing power)
#        scripts/swarm-nodes.sh down   both nodes leave the swarm, node 2's processes,
#                                      mounts and files, the veth and the netns go (idempotent,
#                                      also after a crash or an interrupted up)
#        scripts/swarm-nodes.sh demo   up; make up ENV=swarm spread over both nodes; a
#                                      sleep on node 2 and a stream of short tasks; crash;
#                                      measures rescheduling and recovery; make down,
#                                      destroy-data and down (make demo-multinode)
#
# `up` refuses an engine already in a swarm: this one must be made on the
# veth address, which node 2 can reach (the driver's own single-node swarm
# advertises 127.0.0.1). `make up ENV=swarm` then finds an active swarm and
# leaves it alone; `down` leaves it (leaving a swarm breaks Docker's DNS on
# the bridge networks existing then, Docker 20.10: it says which).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N2="$ROOT/.cache/node2"
STATE="$N2/state"
NS=calcgrid-node2
NODE2_HOST=calcgrid-node2
VETH_HOST=cgn2-host
VETH_PEER=cgn2-peer
HOST_IP=10.231.99.1
PEER_IP=10.231.99.2
PREFIX=30
SOCK="$N2/docker.sock"
PIDFILE="$N2/docker.pid"
EXEC_ROOT="$N2/exec"
DATA_ROOT="$N2/data"
API=http://127.0.0.1:18084
ENV_NAME=swarm

say() { printf '%s\n' "$*"; }
warn() { printf 'swarm-nodes: warning: %s\n' "$*" >&2; }
die() { printf 'swarm-nodes: %s\n' "$*" >&2; exit 1; }
d2() { docker -H "unix://$SOCK" "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# state KEY: the value recorded at `up` (empty when none).
state() { if [[ -f $STATE ]]; then sed -n "s/^$1=//p" "$STATE" | tail -n1; fi; }
record() { mkdir -p "$N2" && printf '%s=%s\n' "$1" "$2" >>"$STATE"; }

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
node2_pid() { if [[ -f $PIDFILE ]]; then cat "$PIDFILE"; fi; }
swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

cmd_up() {
  if ! command -v nsenter >/dev/null || ! command -v unshare >/dev/null; then die "nsenter and unshare (util-linux) are needed"; fi
  # containerd's socket lives at $EXEC_ROOT/containerd/containerd.sock: a
  # unix socket path has at most 107 bytes.
  ((${#EXEC_ROOT} + 30 < 107)) || die "the clone's path is too long for node 2's sockets: $EXEC_ROOT"
  if alive "$(node2_pid)" && [[ $(swarm_state) == active && $(docker info --format '{{.Swarm.NodeAddr}}') == "$HOST_IP" ]]; then
    say "node 2 is up already (down first to start again)"
    return
  fi
  [[ $(swarm_state) == inactive ]] || die "this engine is in a swarm already ($(swarm_state)): leave it first (docker swarm leave --force), a second node can only join one advertised on $HOST_IP"
  [[ ! -e $N2 ]] || die "$N2 is left from an earlier run: scripts/swarm-nodes.sh down first"
  mkdir -p "$N2"
  local t0
  t0=$(now)
  record netns_dir_existed "$([[ -d /run/netns ]] && echo 1 || echo 0)"
  record gwbridge_existed "$(docker network inspect docker_gwbridge >/dev/null 2>&1 && echo 1 || echo 0)"

  say "==> netns $NS, veth $VETH_HOST ($HOST_IP/$PREFIX) <-> $VETH_PEER ($PEER_IP/$PREFIX)"
  ip netns add "$NS"
  record netns "$NS"
  ip link add "$VETH_HOST" type veth peer name "$VETH_PEER"
  record veth "$VETH_HOST"
  ip link set "$VETH_PEER" netns "$NS"
  ip addr add "$HOST_IP/$PREFIX" dev "$VETH_HOST"
  ip link set "$VETH_HOST" up
  # Not `ip netns exec`: it remounts /sys, and a dockerd started under it
  # fails ("Devices cgroup isn't mounted").
  nsenter --net="/run/netns/$NS" ip addr add "$PEER_IP/$PREFIX" dev "$VETH_PEER"
  nsenter --net="/run/netns/$NS" ip link set "$VETH_PEER" up
  nsenter --net="/run/netns/$NS" ip link set lo up

  say "==> node 2's dockerd (-H unix://$SOCK)"
  local driver
  driver=$(docker info --format '{{.Driver}}')
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
  # Its own config file, so the host's /etc/docker/daemon.json (which names
  # the host's data root) is not read; the storage driver must match what
  # this filesystem supports, as the first daemon's does.
  printf '{"storage-driver": "%s", "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}\n' "$driver" >"$N2/daemon.json"
  # Its own UTS namespace: the node's host name tells the nodes apart in
  # `docker node ls` and `docker service ps`. No default bridge and no
  # iptables: the stack's networks on node 2 are internal overlays.
  # shellcheck disable=SC2016 # $1 and $@ are the inner shell's
  setsid nsenter --net="/run/netns/$NS" \
    unshare --uts -- sh -c 'hostname "$1" && shift && exec "$@"' sh "$NODE2_HOST" \
    dockerd --config-file "$N2/daemon.json" --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" \
    --pidfile "$PIDFILE" -H "unix://$SOCK" --bridge none --iptables=false \
    </dev/null >"$N2/dockerd.log" 2>&1 &
  local i
  for ((i = 0; i < 120; i++)); do
    d2 version >/dev/null 2>&1 && break
    sleep 0.5
  done
  d2 version >/dev/null 2>&1 || { tail -n 20 "$N2/dockerd.log" >&2; die "node 2's dockerd did not answer within 60 s (log: $N2/dockerd.log)"; }

  say "==> docker swarm init --advertise-addr $HOST_IP --listen-addr $HOST_IP:2377"
  docker swarm init --advertise-addr "$HOST_IP" --listen-addr "$HOST_IP:2377" >/dev/null
  record swarm_initialised 1
  local token
  token=$(docker swarm join-token -q worker)
  say "==> node 2 joins (advertising $PEER_IP)"
  d2 swarm join --token "$token" --advertise-addr "$PEER_IP" --listen-addr "$PEER_IP:2377" "$HOST_IP:2377" >/dev/null
  record node2_id "$(d2 info --format '{{.Swarm.NodeID}}')"
  for ((i = 0; i < 60; i++)); do
    [[ $(docker node inspect -f '{{.Status.State}}' "$(state node2_id)" 2>/dev/null) == ready ]] && break
    sleep 0.5
  done
  if docker image inspect "calcgrid-app:$ENV_NAME" >/dev/null 2>&1; then
    cmd_load "calcgrid-app:$ENV_NAME"
  fi
  docker node ls
  say "up in $(secs "$t0" "$(now)") s"
}

# load [IMAGE...]: each image (default: the one the swarm environment's
# worker service runs) onto node 2, unless it has that image ID already.
cmd_load() {
  local refs=("$@")
  if ((${#refs[@]} == 0)); then
    refs=("$(docker service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "calcgrid-$ENV_NAME-worker")")
  fi
  local ref id tag
  for ref in "${refs[@]}"; do
    id=$(docker image inspect -f '{{.Id}}' "$ref")
    if d2 image inspect "$id" >/dev/null 2>&1; then
      say "node 2 has $ref (${id:7:12}) already"
      continue
    fi
    # By a tag when there is one: node 2 then has the tag and the same ID.
    tag=$(docker image inspect -f '{{range .RepoTags}}{{.}} {{end}}' "$id" | awk '{print $1}')
    local t0
    t0=$(now)
    docker save "${tag:-$id}" | d2 load -q >/dev/null
    say "loaded ${tag:-$id} (${id:7:12}) into node 2 in $(secs "$t0" "$(now)") s"
  done
}

# crash: node 2 fails as a machine losing power would: its dockerd first (no
# more heartbeats, nothing restarts), then every container's process and
# its containerd. The shims, mounts and files stay for `down`.
cmd_crash() {
  local pid ids cpids=()
  pid=$(node2_pid)
  alive "$pid" || die "node 2's dockerd is not running"
  ids=$(d2 ps -q)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086 # one argument per container ID
    mapfile -t cpids < <(d2 inspect -f '{{.State.Pid}}' $ids)
  fi
  local cd_pid
  cd_pid=$(cat "$EXEC_ROOT/containerd/containerd.pid" 2>/dev/null || true)
  kill -KILL "$pid"
  for p in "${cpids[@]}"; do
    if [[ $p =~ ^[1-9][0-9]*$ ]]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  if alive "$cd_pid"; then kill -KILL "$cd_pid"; fi
  say "node 2 crashed: dockerd $pid, containerd ${cd_pid:-?} and ${#cpids[@]} task processes SIGKILLed"
}

# pids_under DIR: processes whose command line names DIR (node 2's
# containerd, shims, fuse-overlayfs mounts), by PID.
pids_under() {
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$1"; then
      printf '%s\n' "${p#/proc/}"
    fi
  done
}

cmd_down() {
  local pid gw_existed netns_dir_existed initialised
  gw_existed=$(state gwbridge_existed)
  netns_dir_existed=$(state netns_dir_existed)
  initialised=$(state swarm_initialised)

  pid=$(node2_pid)
  if alive "$pid"; then
    say "==> node 2 leaves the swarm and its dockerd stops"
    timeout 30 docker -H "unix://$SOCK" swarm leave --force >/dev/null 2>&1 || true
    kill -TERM "$pid"
    for ((i = 0; i < 60; i++)); do alive "$pid" || break; sleep 0.5; done
    if alive "$pid"; then kill -KILL "$pid"; fi
  fi

  # This engine leaves the swarm made on the veth address (recorded, or
  # recognised by that address when the record is gone).
  if [[ $(swarm_state) != inactive ]] && { [[ $initialised == 1 ]] || [[ $(docker info --format '{{.Swarm.NodeAddr}}') == "$HOST_IP" ]]; }; then
    local bridged=0 net
    for net in $(docker network ls --filter driver=bridge --format '{{.Name}}'); do
      [[ $net == docker_gwbridge ]] || bridged=$((bridged + $(docker ps -q --filter "network=$net" | wc -l)))
    done
    say "==> docker swarm leave --force"
    docker swarm leave --force >/dev/null
    ((bridged == 0)) || warn "$bridged containers run on bridge networks: on Docker 20.10, leaving a swarm breaks their name resolution until their networks are recreated"
    if [[ $gw_existed == 0 ]] && docker network inspect docker_gwbridge >/dev/null 2>&1; then
      docker network rm docker_gwbridge >/dev/null || warn "could not remove docker_gwbridge, which swarm init created"
    fi
  fi

  if [[ -d $N2 ]]; then
    # After a crash: task processes still running (their init.pid), then
    # containerd and the shims, then the mounts (container root filesystems
    # through fuse-overlayfs, shm, network namespaces), deepest first, then
    # whatever still names node 2's directory (fuse-overlayfs).
    local task_dir=$EXEC_ROOT/containerd/daemon/io.containerd.runtime.v2.task/moby c h p m left
    for c in "$task_dir"/*; do
      [[ -f $c/init.pid ]] || continue
      p=$(cat "$c/init.pid")
      if [[ $p =~ ^[1-9][0-9]*$ ]]; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    mapfile -t left < <(pids_under "$EXEC_ROOT/containerd")
    for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    # The shims' sockets are outside: /run/containerd/s/<sha256 of
    # containerd's address/namespace/container ID> (containerd 1.6).
    for c in "$task_dir"/*; do
      [[ -e $c ]] || continue
      h=$(printf '%s' "$EXEC_ROOT/containerd/containerd.sock/moby/${c##*/}" | sha256sum | cut -c1-64)
      rm -f "/run/containerd/s/$h"
    done
    sleep 0.5
    awk -v d="$N2/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || warn "could not unmount $m"
    done
    mapfile -t left < <(pids_under "$N2")
    for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    case $N2 in "$ROOT"/.cache/node2) rm -rf "$N2" ;; esac
  fi

  if ip link show "$VETH_HOST" >/dev/null 2>&1; then ip link del "$VETH_HOST"; fi
  if [[ -e /run/netns/$NS ]]; then ip netns del "$NS"; fi
  # `ip netns add` made /run/netns and mounted it on itself (shared).
  if [[ $netns_dir_existed == 0 && -d /run/netns ]] && [[ -z $(ls -A /run/netns) ]]; then
    while mountpoint -q /run/netns; do umount /run/netns || break; done
    rmdir /run/netns 2>/dev/null || true
  fi
  say "node 2 gone: no netns $NS, no veth $VETH_HOST, swarm $(swarm_state)"
}

# --- demo -------------------------------------------------------------------

post() { # body -> "status id"
  local out code
  out=$(curl -s --max-time 10 -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$1" "$API/v1/tasks" || true)
  code=${out##*$'\n'}
  printf '%s %s\n' "${code:-000}" "$(jq -r '.id // empty' <<<"${out%$'\n'*}" 2>/dev/null || true)"
}
get() { curl -s --max-time 10 "$API/v1/tasks/$1"; }

# on_node2 SERVICE: node 2's running task containers of a service.
on_node2() { d2 ps -q --filter "label=com.docker.swarm.service.name=$1"; }

# started_on_node2 TASK: the node-2 worker container that logged the task's start.
started_on_node2() {
  local c
  for c in $(on_node2 "calcgrid-$ENV_NAME-worker"); do
    if d2 logs "$c" 2>&1 | jq -c --arg id "$1" 'select(.task_id == $id and .msg == "task started")' 2>/dev/null | grep -q .; then
      printf '%s\n' "$c"
      return
    fi
  done
}

show_tasks() {
  local s
  for s in api worker redis; do
    docker service ps "calcgrid-$ENV_NAME-$s" --filter desired-state=running --format '{{.Name}}  {{.Node}}  {{.CurrentState}}'
  done
}

# running_on NODE SERVICE...: every replica of each service runs on NODE.
all_on() {
  local node=$1 s want got
  shift
  for s in "$@"; do
    want=$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "$s")
    got=$(docker service ps "$s" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | grep -c "^$node Running" || true)
    ((got == want)) || return 1
  done
}

cmd_demo() {
  # Globals: the EXIT trap reads them after this function returned.
  make=${MAKE:-make} dir="$ROOT/.cache/demo-multinode" stream_pid=
  images_before=$(docker image ls -q --no-trunc --filter "label=calcgrid.env=$ENV_NAME" | sort -u)
  volume_existed=0
  docker volume inspect "calcgrid-$ENV_NAME-redis-data" >/dev/null 2>&1 && volume_existed=1
  rm -rf "$dir"
  mkdir -p "$dir"
  demo_cleanup() {
    local rc=$?
    set +e
    if [[ -n ${stream_pid:-} ]]; then kill "$stream_pid" 2>/dev/null; fi
    say "==> cleanup: make down ENV=$ENV_NAME, destroy-data, images, node 2"
    "$make" -C "$ROOT" --no-print-directory down ENV="$ENV_NAME" || rc=1
    if ((volume_existed == 0)); then "$make" -C "$ROOT" --no-print-directory destroy-data ENV="$ENV_NAME" || rc=1; fi
    local img
    for img in $(docker image ls -q --no-trunc --filter "label=calcgrid.env=$ENV_NAME" | sort -u); do
      grep -qxF "$img" <<<"$images_before" || docker image rm -f "$img" >/dev/null || true
    done
    cmd_down || rc=1
    exit "$rc"
  }
  trap demo_cleanup EXIT

  cmd_up
  local n2
  n2=$(state node2_id)
  # Node 2 takes tasks once it has the image the services run: the app
  # image is built by the apply, so node 2 is drained until it is loaded.
  docker node update --availability drain "$n2" >/dev/null
  say "==> $make up ENV=$ENV_NAME (node 2 drained until it has the app image)"
  "$make" -C "$ROOT" --no-print-directory up ENV="$ENV_NAME"
  cmd_load
  docker node update --availability active "$n2" >/dev/null
  say "==> spreading the api and worker tasks over both nodes (docker service update --force)"
  local t0 s updates=()
  t0=$(now)
  for s in api worker; do
    timeout 300 docker service update --force --quiet --detach=false "calcgrid-$ENV_NAME-$s" >/dev/null &
    updates+=($!)
  done
  # Those two only: node 2's dockerd is a child of this shell too.
  wait "${updates[@]}"
  say "spread in $(secs "$t0" "$(now)") s"
  say "==> docker node ls"
  docker node ls --format 'table {{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}\t{{.ManagerStatus}}'
  say "==> running tasks (name, node, state)"
  show_tasks | tee "$dir/tasks-before.txt"
  [[ -n $(on_node2 "calcgrid-$ENV_NAME-worker") ]] || die "no worker task runs on node 2"

  # A stream of short tasks, 5 a second, from before the crash to after the recovery.
  say "==> a stream of diagnostic.noop, and diagnostic.sleep (20 s) until one runs on node 2"
  (
    while :; do
      post '{"type":"diagnostic.noop","payload":{}}' >>"$dir/stream.txt"
      sleep 0.2
    done
  ) &
  stream_pid=$!
  local id code sleeps=() victim="" sleep_id="" j
  # Up to 6 (3 workers x concurrency 2), each given 5 s to start somewhere.
  while [[ -z $victim ]] && ((${#sleeps[@]} < 6)); do
    read -r code id < <(post '{"type":"diagnostic.sleep","payload":{"ms":20000},"priority":"high"}')
    [[ $code == 202 ]] || die "diagnostic.sleep submission answered $code"
    sleeps+=("$id")
    for ((j = 0; j < 20; j++)); do
      sleep 0.25
      for s in "${sleeps[@]}"; do
        victim=$(started_on_node2 "$s")
        if [[ -n $victim ]]; then sleep_id=$s; break; fi
      done
      [[ -z $victim ]] || break
    done
  done
  [[ -n $victim ]] || die "none of ${#sleeps[@]} sleeps started on node 2"
  say "task $sleep_id (diagnostic.sleep 20000 ms) runs on node 2's worker ${victim:0:12}; ${#sleeps[@]} sleeps submitted"
  sleep 3

  say "==> node 2 crashes"
  local t_kill t_down="" t_resched="" t_rerun="" t_done="" st att node1 give_up
  node1=$(docker info --format '{{.Name}}')
  t_kill=$(now)
  give_up=$(($(date +%s) + 150))
  cmd_crash
  while [[ -z $t_done || -z $t_resched ]]; do
    sleep 0.5
    local t
    t=$(now)
    if [[ -z $t_down && $(docker node inspect -f '{{.Status.State}}' "$n2") == down ]]; then
      t_down=$t
      say "+$(secs "$t_kill" "$t") s  node 2 is down (manager's view)"
    fi
    if [[ -z $t_resched ]] && all_on "$node1" "calcgrid-$ENV_NAME-api" "calcgrid-$ENV_NAME-worker"; then
      t_resched=$t
      say "+$(secs "$t_kill" "$t") s  every api and worker task runs on node 1"
    fi
    st="" att=0
    read -r st att < <(get "$sleep_id" | jq -r '"\(.state) \(.attempts)"' 2>/dev/null) || true
    if [[ -z $t_rerun && ${att:-0} -ge 2 ]]; then
      t_rerun=$t
      say "+$(secs "$t_kill" "$t") s  task $sleep_id attempt $att started (state $st)"
    fi
    if [[ -z $t_done && $st == completed ]]; then
      t_done=$t
      say "+$(secs "$t_kill" "$t") s  task $sleep_id completed after $att attempts"
    fi
    (($(date +%s) < give_up)) || die "no recovery within 150 s of the crash"
  done
  sleep 5
  kill "$stream_pid"
  wait "$stream_pid" 2>/dev/null || true
  stream_pid=
  say "==> running tasks after the crash"
  show_tasks | tee "$dir/tasks-after.txt"

  # Every accepted short task and every sleep completes.
  local accepted pending=() codes
  codes=$(awk '{print $1}' "$dir/stream.txt" | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')
  mapfile -t pending < <(awk '$1 == 202 {print $2}' "$dir/stream.txt")
  accepted=${#pending[@]}
  pending+=("${sleeps[@]}")
  local deadline=$(($(date +%s) + 90)) left=()
  while ((${#pending[@]} > 0)) && (($(date +%s) < deadline)); do
    left=()
    for id in "${pending[@]}"; do
      [[ $(get "$id" | jq -r .state) == completed ]] || left+=("$id")
    done
    pending=("${left[@]}")
    ((${#pending[@]} == 0)) || sleep 1
  done
  local sleep_attempts
  sleep_attempts=$(get "$sleep_id" | jq -r .attempts)
  say "==> figures"
  say "node 2 crashed at +0 s; marked down +$(secs "$t_kill" "${t_down:-$t_kill}") s; all api and worker tasks running on node 1 +$(secs "$t_kill" "$t_resched") s"
  say "sleep $sleep_id: attempt 2 started +$(secs "$t_kill" "$t_rerun") s, completed +$(secs "$t_kill" "$t_done") s, attempts $sleep_attempts"
  say "short tasks (diagnostic.noop, 5/s from before the crash to 5 s after the recovery): answers by status: ${codes%, }; $accepted accepted"
  say "not completed within 90 s (of the $accepted short tasks and ${#sleeps[@]} sleeps): ${pending[*]:-none}"
  ((${#pending[@]} == 0)) || die "${#pending[@]} tasks did not complete"
  ((sleep_attempts >= 2)) || die "the sleep on node 2 completed after $sleep_attempts attempts, want 2 or more"
  say "demo passed"
}

case ${1:-} in
  up) cmd_up ;;
  load) shift; cmd_load "$@" ;;
  crash) cmd_crash ;;
  down) cmd_down ;;
  demo) cmd_demo ;;
  *) die "usage: $0 up|load [IMAGE...]|crash|down|demo" ;;
esac
