#!/usr/bin/env bash
# make run-local: a private redis-server plus one api, one worker and the
# monitor as local processes (binary from `make build`), diagnostics enabled.
# Ctrl-C or SIGTERM stops all of them; so does any one of them exiting.
#
# Ports (all on 127.0.0.1) can be overridden:
#   API_PORT (8080)  WORKER_PORT (9090)  MONITOR_PORT (5555)  REDIS_PORT (a free one)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=.bin/calcgrid
dir=.cache/run-local
api_port=${API_PORT:-8080}
worker_port=${WORKER_PORT:-9090}
monitor_port=${MONITOR_PORT:-5555}

die() { printf 'run-local: %s\n' "$*" >&2; exit 1; }

[[ -x $bin ]] || die "$bin not found; run 'make build' (or 'make run-local', which builds first)"
command -v redis-server >/dev/null || die "redis-server not found; install it (Debian/Ubuntu: sudo apt-get install redis-server)"
command -v curl >/dev/null || die "curl not found; it is needed to wait for the services to become healthy"

# in_use succeeds when something accepts connections on 127.0.0.1:$1.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_port() { # name value
  if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > 65535)); then
    die "$1=$2 is not a port number (1..65535)"
  fi
  if in_use "$2"; then
    die "port $2 ($1) is already in use on 127.0.0.1; stop whatever listens there or pick another, e.g. $1=$(($2 + 1)) make run-local"
  fi
}

if [[ -n ${REDIS_PORT:-} ]]; then
  redis_port=$REDIS_PORT
else
  for _ in {1..50}; do
    redis_port=$((20000 + RANDOM % 40000))
    in_use "$redis_port" || break
  done
fi
check_port API_PORT "$api_port"
check_port WORKER_PORT "$worker_port"
check_port MONITOR_PORT "$monitor_port"
check_port REDIS_PORT "$redis_port"
ports=("$api_port" "$worker_port" "$monitor_port" "$redis_port")
(($(printf '%s\n' "${ports[@]}" | sort -u | wc -l) == ${#ports[@]})) || die "API_PORT, WORKER_PORT, MONITOR_PORT and REDIS_PORT must differ (got ${ports[*]})"

rm -rf "$dir"
mkdir -p "$dir/redis"

declare -A pids=()
apps=()
stopping=""

# start NAME CMD...: runs CMD in the background, its output prefixed with NAME
# on the terminal and kept in .cache/run-local/NAME.log.
start() {
  local name=$1
  shift
  # The log pipeline ignores Ctrl-C so that shutdown messages still show.
  "$@" > >(trap '' INT; tee "$dir/$name.log" | sed -u "s/^/$(printf '%-7s' "$name")| /") 2>&1 &
  pids[$name]=$!
}

# shellcheck disable=SC2317 # called from the traps below
stop() {
  [[ -n $stopping ]] && return
  stopping=1
  trap 'echo "run-local: killing everything"; kill -KILL "${pids[@]}" 2>/dev/null || true' INT TERM
  echo
  echo "run-local: stopping (the worker lets running tasks finish for up to 30s; Ctrl-C again to kill)"
  for name in "${apps[@]}"; do kill -TERM "${pids[$name]}" 2>/dev/null || true; done
  for name in "${apps[@]}"; do wait "${pids[$name]}" 2>/dev/null || true; done
  # Redis last, so that the worker can requeue what it could not finish.
  kill -TERM "${pids[redis]:-}" 2>/dev/null || true
  wait "${pids[redis]:-}" 2>/dev/null || true
  echo "run-local: stopped; logs are in $dir/"
}
# Ctrl-C and SIGTERM are the normal way to end a session, hence status 0.
trap 'stop; exit 0' INT TERM
trap 'stop' EXIT

# Its own session keeps the terminal's Ctrl-C from stopping Redis before the
# worker has shut down. Redis logs only to its file: its banner is noise here.
shield=()
command -v setsid >/dev/null && shield=(setsid)
"${shield[@]}" redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$dir/redis" \
  --save "" --appendonly no --protected-mode yes --logfile "$PWD/$dir/redis.log" &
pids[redis]=$!

# shellcheck disable=SC2317 # called through wait_for
redis_ready() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$redis_port" || return 1
  printf 'PING\r\n' >&3
  read -r -t 1 reply <&3 || reply=""
  exec 3>&-
  [[ $reply == +PONG* ]]
}

# wait_for NAME CHECK...: polls CHECK for up to 20 s while NAME is alive.
wait_for() {
  local name=$1
  shift
  for _ in {1..100}; do
    "$@" 2>/dev/null && return 0
    kill -0 "${pids[$name]}" 2>/dev/null || die "$name exited during start-up; see $dir/$name.log"
    sleep 0.2
  done
  die "$name did not become ready within 20s; see $dir/$name.log"
}
wait_for redis redis_ready

export CALCGRID_REDIS_ADDR=127.0.0.1:$redis_port CALCGRID_REDIS_URL="" CALCGRID_DIAGNOSTICS=1
start api env CALCGRID_LISTEN="127.0.0.1:$api_port" "$bin" api
start worker env CALCGRID_LISTEN="127.0.0.1:$worker_port" "$bin" worker
start monitor env CALCGRID_LISTEN="127.0.0.1:$monitor_port" "$bin" monitor
apps=(api worker monitor)

# shellcheck disable=SC2317 # called through wait_for
healthy() { curl -fsS -o /dev/null --max-time 1 "$1"; }
wait_for api healthy "http://127.0.0.1:$api_port/readyz"
wait_for worker healthy "http://127.0.0.1:$worker_port/readyz"
wait_for monitor healthy "http://127.0.0.1:$monitor_port/healthz"

api=http://127.0.0.1:$api_port
cat <<EOF

calcgrid is running locally (diagnostic task types enabled):
  API        $api/v1/task-types  (health: $api/healthz)
  worker     http://127.0.0.1:$worker_port/metrics
  dashboard  http://127.0.0.1:$monitor_port/
  redis      127.0.0.1:$redis_port (throw-away; logs of all four in $dir/)

Try:
  curl -s -X POST $api/v1/tasks -H 'Content-Type: application/json' \\
       -d '{"type": "diagnostic.sleep", "payload": {"ms": 500}}'
  curl -s $api/v1/tasks/<id from the answer above>
  curl -s $api/v1/queues

Ctrl-C stops everything.

EOF

# Any process ending on its own ends the session: a half-running stack misleads.
set +e
wait -n "${pids[@]}"
rc=$?
set -e
for name in redis "${apps[@]}"; do
  if ! kill -0 "${pids[$name]}" 2>/dev/null; then
    echo "run-local: $name exited (status $rc); see $dir/$name.log" >&2
    break
  fi
done
exit 1
