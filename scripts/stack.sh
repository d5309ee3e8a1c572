#!/usr/bin/env bash
# Runs the calcgrid stack through Terraform/OpenTofu, one workspace per
# environment. Called by the Makefile; see `make help`.
#
#   stack.sh up ENV               build, apply, wait for health, print endpoints
#   stack.sh down ENV             destroy containers and networks (Redis volume stays)
#   stack.sh destroy-data ENV     delete ENV's Redis volume (after down)
#   stack.sh status ENV           containers, health, endpoints
#   stack.sh logs ENV [ROLE]      follow logs (api|worker|redis|loadbalancer|monitor)
#   stack.sh promote FROM TO      run FROM's app image ID in TO, without a rebuild
#   stack.sh test-modules         terraform/tofu test of every module (mocked providers)
#   stack.sh test-stack           terratest suite (RUN=regex picks scenarios)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TF_DIR="$ROOT/terraform"
IMAGES_VARS="$ROOT/.cache/images.auto.tfvars.json"
VOLUME_ADDR='module.redis.docker_volume.data'
STARTED=$SECONDS

# bootstrap.sh writes TF_BINARY (and TF_CLI_CONFIG_FILE when it built a provider mirror).
if [[ -f "$ROOT/.cache/env.sh" ]]; then
  # shellcheck source=/dev/null
  source "$ROOT/.cache/env.sh"
fi

step() { printf '\n==> [%3ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'stack.sh: %s\n' "$*" >&2; exit 1; }

tf_binary() {
  if [[ -n "${TF_BINARY:-}" ]]; then
    [[ -x "$TF_BINARY" ]] || die "TF_BINARY=$TF_BINARY is not executable; run 'make bootstrap'"
    echo "$TF_BINARY"
  elif command -v terraform >/dev/null; then
    command -v terraform
  elif command -v tofu >/dev/null; then
    command -v tofu
  else
    die "neither terraform nor tofu found; run 'make bootstrap'"
  fi
}
TF="$(tf_binary)"

tf() { "$TF" -chdir="$TF_DIR" "$@"; }

check_env() {
  local env="${1:-}"
  [[ -n "$env" ]] || die "missing environment (dev, staging, prod)"
  [[ -f "$ROOT/environments/$env.tfvars" ]] ||
    die "unknown environment '$env': no environments/$env.tfvars (have: $(for f in "$ROOT"/environments/*.tfvars; do basename "$f" .tfvars; done | xargs))"
}

var_args() {
  local env=$1
  local args=(-var-file="$ROOT/environments/$env.tfvars")
  [[ -f "$IMAGES_VARS" ]] && args+=(-var-file="$IMAGES_VARS")
  # The capacity check compares the limits with the real Docker host.
  local mem cpus
  mem="$(docker info --format '{{.MemTotal}}')"
  cpus="$(docker info --format '{{.NCPU}}')"
  args+=(-var "host_memory_mb=$((mem / 1024 / 1024))" -var "host_cpus=$cpus")
  printf '%s\n' "${args[@]}"
}

init() {
  tf init -input=false -no-color >"$ROOT/.cache/tf-init.log" 2>&1 ||
    { cat "$ROOT/.cache/tf-init.log" >&2; die "init failed (provider mirror missing? run 'make bootstrap')"; }
}

# Selects ENV for this process only (TF_WORKSPACE), so two environments can be
# applied from the same checkout at once; the workspace is created if needed.
use_workspace() {
  local env=$1 create=${2:-create}
  unset TF_WORKSPACE
  local workspaces
  workspaces="$(tf workspace list | sed 's/^[* ] *//')"
  if ! grep -qx "$env" <<<"$workspaces"; then
    [[ "$create" == create ]] || die "workspace '$env' does not exist: nothing was deployed there"
    # `workspace new` also selects the new workspace for the whole checkout;
    # put the previous selection back so that other runs (plain terraform,
    # terratest) keep the workspace they chose.
    local selected
    selected="$(tf workspace show)"
    tf workspace new "$env" >/dev/null
    tf workspace select "$selected" >/dev/null
  fi
  export TF_WORKSPACE="$env"
}

wait_http() {
  local url=$1 timeout=$2 deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null --max-time 2 "$url"; do
    ((SECONDS < deadline)) || die "$url did not answer 200 within ${timeout}s (try: make status ENV=$ENV; make logs ENV=$ENV)"
    sleep 1
  done
}

cmd_up() {
  ENV=$1
  check_env "$ENV"
  mkdir -p "$ROOT/.cache"
  step "init ($(basename "$TF"), $("$TF" version | head -n1))"
  init
  step "workspace $ENV"
  use_workspace "$ENV"
  local args
  mapfile -t args < <(var_args "$ENV")
  step "apply environments/$ENV.tfvars (builds the app image when sources changed, waits for every container to be healthy)"
  tf apply -input=false -auto-approve "${args[@]}" "${@:2}"
  local endpoint monitor
  endpoint="$(tf output -raw endpoint)"
  monitor="$(tf output -raw monitor_url)"
  step "health through nginx: $endpoint/healthz"
  wait_http "$endpoint/healthz" 60
  step "$ENV is up in $((SECONDS - STARTED))s"
  cat <<MSG
  endpoint     $endpoint
  monitor      $monitor   (user $(tf output -raw monitor_user); password:
               TF_WORKSPACE=$ENV $(basename "$TF") -chdir=terraform output -raw monitor_password)
  app image    $(tf output -raw app_image)

  try:
    curl -s -XPOST $endpoint/v1/tasks -H 'Content-Type: application/json' \\
         -d '{"type":"diagnostic.noop","payload":{}}' -i
    curl -s $endpoint/v1/tasks/<id from the Location header>
MSG
}

cmd_down() {
  ENV=$1
  check_env "$ENV"
  init
  use_workspace "$ENV" nocreate
  # The volume is protected (prevent_destroy); forgetting it here keeps the data.
  local state
  state="$(tf state list 2>/dev/null || true)"
  if grep -qx "$VOLUME_ADDR" <<<"$state"; then
    step "keeping the Redis volume (make destroy-data ENV=$ENV deletes it)"
    tf state rm "$VOLUME_ADDR" >/dev/null
  fi
  local args
  mapfile -t args < <(var_args "$ENV")
  step "destroy $ENV"
  tf destroy -input=false -auto-approve "${args[@]}"
  remove_leftovers "$ENV"
  step "$ENV is down"
}

# Containers and networks labelled for ENV that Terraform no longer tracks
# (an interrupted apply, a test that died) are removed too.
remove_leftovers() {
  local env=$1 ids
  ids="$(docker ps -aq --filter "label=calcgrid.env=$env")"
  if [[ -n "$ids" ]]; then
    step "removing leftover containers of $env"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
  ids="$(docker network ls -q --filter "label=calcgrid.env=$env")"
  if [[ -n "$ids" ]]; then
    step "removing leftover networks of $env"
    # shellcheck disable=SC2086
    docker network rm $ids >/dev/null
  fi
}

cmd_destroy_data() {
  ENV=$1
  check_env "$ENV"
  local volume="calcgrid-$ENV-redis-data"
  [[ -z "$(docker ps -aq --filter "label=calcgrid.env=$ENV")" ]] ||
    die "$ENV still has containers: run 'make down ENV=$ENV' first"
  if docker volume inspect "$volume" >/dev/null 2>&1; then
    docker volume rm "$volume" >/dev/null
    step "deleted volume $volume"
  else
    step "volume $volume does not exist; nothing to delete"
  fi
}

cmd_status() {
  ENV=$1
  check_env "$ENV"
  docker ps -a --filter "label=calcgrid.env=$ENV" \
    --format 'table {{.Names}}\t{{.Label "calcgrid.role"}}\t{{.Status}}\t{{.Ports}}'
  if [[ -d "$TF_DIR/terraform.tfstate.d/$ENV" ]]; then
    init
    use_workspace "$ENV" nocreate
    printf '\nendpoint    %s\nmonitor     %s\napp image   %s\n' \
      "$(tf output -raw endpoint 2>/dev/null || echo -)" \
      "$(tf output -raw monitor_url 2>/dev/null || echo -)" \
      "$(tf output -raw app_image 2>/dev/null || echo -)"
  fi
}

cmd_logs() {
  ENV=$1
  local role=${2:-}
  check_env "$ENV"
  local filter=(--filter "label=calcgrid.env=$ENV")
  [[ -z "$role" ]] || filter+=(--filter "label=calcgrid.role=$role")
  local names
  mapfile -t names < <(docker ps --format '{{.Names}}' "${filter[@]}" | sort)
  ((${#names[@]} > 0)) || die "no running containers for ENV=$ENV${role:+ ROLE=$role}"
  trap 'kill $(jobs -p) 2>/dev/null' EXIT INT TERM
  local n
  for n in "${names[@]}"; do
    docker logs -f --tail 20 "$n" 2>&1 | sed -u "s/^/$n | /" &
  done
  wait
}

cmd_promote() {
  local from=$1 to=$2
  check_env "$from"
  check_env "$to"
  [[ "$from" != "$to" ]] || die "FROM and TO are both '$from'"
  init
  use_workspace "$from" nocreate
  local image
  image="$(tf output -raw app_image 2>/dev/null)" || die "$from has no app_image output: run 'make up ENV=$from' first"
  docker image inspect "$image" >/dev/null 2>&1 || die "image $image of $from is not on this Docker host"
  step "promoting $from's app image $image to $to (no rebuild)"
  cmd_up "$to" -var "app_image_override=$image"
}

cmd_test_modules() {
  local dir rc=0
  for dir in "$ROOT"/modules/*/ "$TF_DIR"/; do
    [[ -d "$dir/tests" ]] || continue
    step "test ${dir#"$ROOT"/}"
    "$TF" -chdir="$dir" init -input=false -no-color >/dev/null
    # The root module's workspace guard compares with the workspace; tests run in "default".
    TF_WORKSPACE=default "$TF" -chdir="$dir" test -no-color || rc=1
  done
  ((rc == 0)) || die "module tests failed"
}

cmd_test_stack() {
  step "terratest suite (tests/, RUN=${RUN:-all})"
  cd "$ROOT/tests"
  # RUN picks scenarios (subtests of TestStack); deploy and teardown always run.
  go test -v -count=1 -timeout 60m -run "^TestStack\$/(${RUN:-.})" ./...
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down "${2:-}" ;;
  destroy-data) cmd_destroy_data "${2:-}" ;;
  status) cmd_status "${2:-}" ;;
  logs) cmd_logs "${2:-}" "${3:-}" ;;
  promote) cmd_promote "${2:-}" "${3:-}" ;;
  test-modules) cmd_test_modules ;;
  test-stack) cmd_test_stack ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
