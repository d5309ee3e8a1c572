#!/usr/bin/env bash
# Makes everything `make up` (and `make test`) needs available, online or air-gapped:
#   1. Docker engine        must answer (nothing to build)
#   2. stack driver         .bin/calcgrid-stack, built from tests/cmd/calcgrid-stack
#   3. prerequisites        the distribution's programs that are missing (debootstrap when
#                           images must be built; redis-server, shellcheck and promtool for
#                           make test; wrk and the baseline's Python for make bench): installed with apt-get as root or through passwordless
#                           sudo, else a stop at once with the command to run
#   4. terraform / tofu     from PATH, else OpenTofu built from scripts/tools/tofu into .bin/
#   5. docker provider      from the registry, else built from scripts/tools/docker-provider
#                           into a filesystem mirror (.cache/terraform/)
#   6. calcgrid provider    built by `make provider` (provider/) and installed into the same
#                           mirror as registry.calcgrid.local/calcgrid/calcgrid, which no registry
#                           serves; a generated CLI config points init at the mirror for the
#                           providers it holds
#   7. base images          official pinned tags, else built from Debian packages
#                           (debootstrap + docker import + scripts/images/*)
#   8. .cache/bootstrap.json (and .cache/images.auto.tfvars.json), read by the stack driver
#
# Usage: scripts/bootstrap.sh [--for up|test|bench] bootstrap (idempotent; a warm run only checks)
#        scripts/bootstrap.sh --doctor          report each piece and prerequisite, change nothing
#        scripts/bootstrap.sh --recheck         forget remembered registry probes, probe again
#
# Environment: TF_BINARY (terraform, tofu or a path) picks the IaC binary;
# DEBIAN_MIRROR overrides the Debian mirror read from the host's apt sources.
# No registry or mirror host is named here: they come from the host at run time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/.bin"
CACHE="$ROOT/.cache"
STATE="$CACHE/bootstrap"
TOOLS="$ROOT/scripts/tools"
IMAGES_SRC="$ROOT/scripts/images"

PROVIDER_VERSION=4.6.0
DEBIAN_SUITE=bookworm

# The official images are the root module's variable defaults
# (terraform/variables.tf), read by the stack driver: one place pins them.
declare -A OFFICIAL=()
IMAGE_KEYS=() # the variables' names, in the driver's order
# Air-gapped replacements: tag and scripts/images/<dir>; the tag carries the
# version Debian (or the host's Go toolchain) actually provides.
AIRGAP_BASE=calcgrid-airgap/debian:$DEBIAN_SUITE
# Where Debian-family hosts keep locally added certificate authorities.
LOCAL_CA_DIR=/usr/local/share/ca-certificates
declare -A AIRGAP_DIR=([redis_image]=redis [nginx_image]=nginx [go_builder_image]=go [runtime_image]=runtime
  [prometheus_image]=prometheus)

STEP=0
STEPS=8
STACK="$BIN/calcgrid-stack"
PURPOSE=up
T0=$(date +%s%N)

say()  { printf '%s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
fmt_ms() { printf '%d.%01ds' $(( $1 / 1000 )) $(( ($1 % 1000) / 100 )); }

# step NAME: prints the header of the next step and starts its clock.
step() {
  STEP=$((STEP + 1))
  STEP_T0=$(date +%s%N)
  printf '==> [%d/%d] %s\n' "$STEP" "$STEPS" "$1"
}
# done_step RESULT: closes the current step with its result and duration.
done_step() {
  printf '    %s (%s)\n' "$1" "$(fmt_ms "$(ms_since "$STEP_T0")")"
}

# run_logged LOG CMD...: runs a long command with its output in LOG; on
# failure shows the log's tail so the cause is visible without digging.
run_logged() {
  local log=$1; shift
  mkdir -p "$(dirname "$log")"
  if ! "$@" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "'$*' failed (full log: ${log#"$ROOT"/})"
  fi
}

sha() { sha256sum | cut -c1-16; }

# files_hash FILE...: a short content hash of inputs, to rebuild on change.
files_hash() { cat "$@" | sha; }

remember() { mkdir -p "$STATE"; printf '%s\n' "$2" >"$STATE/$1"; }
recall()   { cat "$STATE/$1" 2>/dev/null || true; }

host_goos_goarch() { echo "$(go env GOOS)_$(go env GOARCH)"; }

require_go() {
  command -v go >/dev/null 2>&1 || die "Go is needed to build $1 (install Go $(awk '/^go /{print $2}' "$TOOLS/tofu/go.mod") or newer)"
}

load_official_images() {
  local key value
  IMAGE_KEYS=()
  while IFS='=' read -r key value; do
    OFFICIAL[$key]=$value
    IMAGE_KEYS+=("$key")
  done < <("$STACK" official-images)
  ((${#IMAGE_KEYS[@]} > 0)) || die "the stack driver names no official image"
  for key in "${IMAGE_KEYS[@]}"; do
    [[ -n ${AIRGAP_DIR[$key]:-} ]] || die "no air-gapped build for $key: add scripts/images/<dir> and its entry in AIRGAP_DIR and airgap_tag"
  done
}

# ---------------------------------------------------------------- stack driver
# build_driver: the Go side of the stack (tests/stack); go build is a no-op
# when nothing changed.
build_driver() {
  require_go "the stack driver"
  mkdir -p "$BIN"
  run_logged "$CACHE/logs/driver-build.log" go build -C "$ROOT/tests" -o "$STACK" ./cmd/calcgrid-stack
}

# ---------------------------------------------------------------- docker
docker_engine() {
  docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null
}

# ---------------------------------------------------------------- IaC binary
# resolve_tf prints the IaC binary to use, or "build:tofu" when OpenTofu must
# be built: TF_BINARY wins, then terraform, then tofu on PATH (.bin/ included).
resolve_tf() {
  local want=${TF_BINARY:-} found
  if [[ -n $want ]]; then
    if found=$(command -v "$want" 2>/dev/null); then echo "$found"; return; fi
    if [[ $want == tofu ]]; then
      if [[ -x $BIN/tofu ]]; then echo "$BIN/tofu"; else echo build:tofu; fi
      return
    fi
    die "TF_BINARY=$want is not an executable on PATH (use terraform, tofu or a path)"
  fi
  for want in terraform tofu; do
    if found=$(command -v "$want" 2>/dev/null); then echo "$found"; return; fi
  done
  if [[ -x $BIN/tofu ]]; then echo "$BIN/tofu"; return; fi
  echo build:tofu
}

tofu_inputs() { files_hash "$TOOLS/tofu/go.mod" "$TOOLS/tofu/go.sum"; }

build_tofu() {
  require_go "OpenTofu"
  say "    building OpenTofu $(grep -o 'opentofu/opentofu v[0-9.]*' "$TOOLS/tofu/go.mod" | cut -d" " -f2) from its Go module into .bin/tofu (several minutes cold)"
  mkdir -p "$BIN"
  run_logged "$CACHE/logs/tofu-build.log" \
    go build -C "$TOOLS/tofu" -trimpath \
      -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" -o "$BIN/tofu.tmp" github.com/opentofu/opentofu/cmd/tofu
  mv "$BIN/tofu.tmp" "$BIN/tofu"
  remember tofu.inputs "$(tofu_inputs)"
}

ensure_tf() {
  step "IaC binary (terraform / OpenTofu)"
  TF=$(resolve_tf)
  if [[ $TF == "$BIN/tofu" && $(recall tofu.inputs) != "$(tofu_inputs)" ]]; then
    TF=build:tofu # the pinned version changed since .bin/tofu was built
  fi
  if [[ $TF == build:tofu ]]; then
    build_tofu
    TF=$BIN/tofu
  fi
  done_step "$(user_cli_config_env "$TF" version 2>/dev/null | head -n1) at $TF"
}

tf_kind() { [[ $(basename "$1") == tofu* ]] && echo tofu || echo terraform; }

# ---------------------------------------------------------------- provider
MIRROR="$CACHE/terraform/mirror"
CLI_CONFIG="$CACHE/terraform/cli.tfrc"
PROVIDER_HOSTS=(registry.terraform.io registry.opentofu.org)
# calcgrid's own provider: its address (provider.Address in
# provider/internal/provider; tests/stack's TestCalcgridProviderFromTheMirror
# inits provider/examples against this mirror, so the two cannot part) and
# where `make provider` builds it.
CALCGRID_PROVIDER=registry.calcgrid.local/calcgrid/calcgrid
CALCGRID_PROVIDER_BIN="$BIN/terraform-provider-calcgrid"
# The provider addresses the mirror serves, written into the CLI config.
MIRRORED=()

# mirror_file ADDRESS VERSION: where the binary of the provider
# HOST/NAMESPACE/TYPE goes in the filesystem mirror (its unpacked layout).
mirror_file() {
  echo "$MIRROR/$1/$2/$(host_goos_goarch)/terraform-provider-${1##*/}_v$2"
}

provider_mirror_file() { mirror_file "$1/kreuzwerker/docker" "$PROVIDER_VERSION"; }

# user_cli_config_env runs a command with the user's own CLI configuration,
# minus a TF_CLI_CONFIG_FILE that points nowhere (terraform warns about it).
user_cli_config_env() {
  if [[ -n ${TF_CLI_CONFIG_FILE:-} && ! -f $TF_CLI_CONFIG_FILE ]]; then
    env -u TF_CLI_CONFIG_FILE "$@"
  else
    "$@"
  fi
}

# provider_registry_reachable: a throwaway `init` that asks for the provider
# exactly as the root module does, through the user's normal CLI config.
provider_registry_reachable() {
  local dir rc
  dir=$(mktemp -d)
  cat >"$dir/main.tf" <<EOF
terraform {
  required_providers {
    docker = { source = "kreuzwerker/docker", version = "$PROVIDER_VERSION" }
  }
}
EOF
  rc=0
  (cd "$dir" && user_cli_config_env timeout 30 "$TF" init -backend=false -input=false -no-color) \
    >"$dir/init.log" 2>&1 || rc=$?
  mkdir -p "$CACHE/logs" && cp "$dir/init.log" "$CACHE/logs/provider-probe.log"
  rm -rf "$dir"
  return "$rc"
}

provider_inputs() { files_hash "$TOOLS/docker-provider/go.mod" "$TOOLS/docker-provider/go.sum"; }

build_provider() {
  require_go "the docker provider"
  local out host
  out=$(provider_mirror_file "${PROVIDER_HOSTS[0]}")
  say "    building kreuzwerker/docker $PROVIDER_VERSION from its Go module into the local mirror (a few minutes cold)"
  mkdir -p "$(dirname "$out")"
  run_logged "$CACHE/logs/provider-build.log" \
    go build -C "$TOOLS/docker-provider" -o "$out.tmp" github.com/terraform-providers/terraform-provider-docker
  mv "$out.tmp" "$out"
  # terraform and tofu look the provider up under their own registry host.
  for host in "${PROVIDER_HOSTS[@]:1}"; do
    mkdir -p "$(dirname "$(provider_mirror_file "$host")")"
    ln -f "$out" "$(provider_mirror_file "$host")" 2>/dev/null || cp "$out" "$(provider_mirror_file "$host")"
  done
  remember provider.inputs "$(provider_inputs)"
}

# write_cli_config: a CLI config that takes the MIRRORED providers from the
# local mirror and everything else from its usual place.
write_cli_config() {
  local includes
  includes=$(printf '"%s", ' "${MIRRORED[@]}")
  includes=${includes%, }
  mkdir -p "$(dirname "$CLI_CONFIG")"
  cat >"$CLI_CONFIG.tmp" <<EOF
# Generated by scripts/bootstrap.sh: these providers come from a mirror built
# from source (calcgrid's own, and kreuzwerker/docker when its registry was
# unreachable); everything else still comes from its usual place.
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = [$includes]
  }
  direct {
    exclude = [$includes]
  }
}
EOF
  # Keep the rest of the user's own CLI configuration (credentials, plugin
  # cache) unless it has its own provider_installation, which would clash.
  local user_config=${TF_CLI_CONFIG_FILE:-$HOME/.terraformrc}
  if [[ $user_config != "$CLI_CONFIG" && -f $user_config ]] && ! grep -q provider_installation "$user_config"; then
    printf '\n# From %s:\n' "$user_config" >>"$CLI_CONFIG.tmp"
    cat "$user_config" >>"$CLI_CONFIG.tmp"
  fi
  mv "$CLI_CONFIG.tmp" "$CLI_CONFIG"
}

ensure_provider() {
  step "kreuzwerker/docker provider $PROVIDER_VERSION"
  local mode
  mode=$(recall provider.mode)
  if [[ -z $mode ]]; then
    if provider_registry_reachable; then mode=registry; else mode=mirror; fi
    remember provider.mode "$mode"
  fi
  if [[ $mode == registry ]]; then
    done_step "from the provider registry (online)"
    return
  fi
  if [[ ! -x $(provider_mirror_file "${PROVIDER_HOSTS[0]}") || $(recall provider.inputs) != "$(provider_inputs)" ]]; then
    build_provider
  fi
  local host
  for host in "${PROVIDER_HOSTS[@]}"; do MIRRORED+=("$host/kreuzwerker/docker"); done
  done_step "from the local mirror (air-gapped)"
}

# calcgrid_provider_version: the version the built binary reports, the one
# place it is set (provider/main.go).
calcgrid_provider_version() { "$CALCGRID_PROVIDER_BIN" -version; }

# ensure_calcgrid_provider: `make provider` (the one build recipe; a no-op
# when nothing changed), then the binary into the mirror under the version
# it reports, for Terraform and OpenTofu alike (the address names its host).
ensure_calcgrid_provider() {
  step "calcgrid provider ($CALCGRID_PROVIDER)"
  require_go "the calcgrid provider"
  run_logged "$CACHE/logs/calcgrid-provider-build.log" make -C "$ROOT" --no-print-directory provider
  local version out
  version=$(calcgrid_provider_version) || die "$CALCGRID_PROVIDER_BIN -version failed"
  out=$(mirror_file "$CALCGRID_PROVIDER" "$version")
  if ! cmp -s "$CALCGRID_PROVIDER_BIN" "$out"; then
    mkdir -p "$(dirname "$out")"
    cp "$CALCGRID_PROVIDER_BIN" "$out.tmp"
    mv "$out.tmp" "$out"
    # A rebuild keeps the version and changes the checksum, which the lock
    # file of terraform/control's last init would refuse (git-ignored: the
    # checksum is this machine's build).
    rm -f "$ROOT/terraform/control/.terraform.lock.hcl"
  fi
  MIRRORED+=("$CALCGRID_PROVIDER")
  write_cli_config
  done_step "$version in the local mirror, CLI config ${CLI_CONFIG#"$ROOT"/}"
}

# ---------------------------------------------------------------- images
image_label() { docker image inspect --format "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
image_present() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect --format '{{.Id}}' "$1"; }

# DEB822_AWK prints the first URI of an enabled deb822 stanza (apt's
# *.sources format) whose Suites include the suite in `want`.
# shellcheck disable=SC2016 # an awk program, not shell
DEB822_AWK='
  function check() {
    if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " want " ") && uris != "") {
      split(uris, u, " "); print u[1]; exit
    }
    types = suites = uris = ""; enabled = "yes"
  }
  BEGIN { enabled = "yes" }
  /^[[:space:]]*#/ { next }
  /^[[:space:]]*$/ { check(); next }
  { key = tolower($1); $1 = "" }
  key == "types:" { types = $0 }
  key == "uris:" { uris = $0 }
  key == "suites:" { suites = $0 }
  key == "enabled:" { enabled = tolower($2) }
  END { check() }'

# debian_mirror KIND prints the host's Debian mirror for the suite (KIND=main)
# or its security suite (KIND=security), from deb822 and one-line apt sources.
debian_mirror() {
  local suite=$DEBIAN_SUITE
  [[ $1 == security ]] && suite=$DEBIAN_SUITE-security
  if [[ $1 == main && -n ${DEBIAN_MIRROR:-} ]]; then echo "$DEBIAN_MIRROR"; return; fi
  local f found
  found=$(
    for f in /etc/apt/sources.list.d/*.sources; do
      if [[ -f $f ]]; then awk -v want="$suite" "$DEB822_AWK" "$f"; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      if [[ -f $f ]]; then
        sed -E 's/\[[^]]*\]//' "$f" | awk -v want="$suite" '$1 == "deb" && $3 == want { print $2; exit }'
      fi
    done
  )
  echo "${found%%$'\n'*}"
}

# build_debian_base: debootstrap a minimal Debian into .cache and import it.
# The rootfs tarball is kept, so a deleted image is re-imported without a
# download.
build_debian_base() {
  local inputs=$1 tar="$CACHE/images/debian-$DEBIAN_SUITE.tar" rootfs mirror security
  if [[ ! -s $tar || $(recall debian.inputs) != "$inputs" ]]; then
    command -v debootstrap >/dev/null 2>&1 || die "no image registry answers and debootstrap is missing: install debootstrap (apt-get install debootstrap) or make a registry reachable"
    mirror=$(debian_mirror main)
    [[ -n $mirror ]] || die "no Debian $DEBIAN_SUITE mirror in the host's apt sources; set DEBIAN_MIRROR=<mirror URL>"
    security=$(debian_mirror security)
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    rootfs="$CACHE/images/rootfs-$DEBIAN_SUITE"
    "${sudo[@]}" rm -rf "$rootfs"
    mkdir -p "$CACHE/images"
    say "    debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (a few minutes)"
    local t
    t=$(date +%s%N)
    run_logged "$CACHE/logs/debootstrap.log" \
      "${sudo[@]}" debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$mirror"
    say "    debootstrap done ($(fmt_ms "$(ms_since "$t")"))"
    # Point apt inside the image at the host's mirrors (never written into
    # the repository), keep services from starting during package installs,
    # and drop the downloaded packages.
    {
      printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" "$DEBIAN_SUITE" "$DEBIAN_SUITE"
      [[ -z $security ]] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$security" "$DEBIAN_SUITE"
    } | "${sudo[@]}" tee "$rootfs/etc/apt/sources.list.d/debian.sources" >/dev/null
    "${sudo[@]}" rm -f "$rootfs/etc/apt/sources.list"
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$rootfs/usr/sbin/policy-rc.d" >/dev/null
    "${sudo[@]}" chmod 755 "$rootfs/usr/sbin/policy-rc.d"
    "${sudo[@]}" sh -c "rm -rf '$rootfs'/var/cache/apt/archives/*.deb '$rootfs'/var/lib/apt/lists/* '$rootfs'/var/log/*.log"
    "${sudo[@]}" tar -C "$rootfs" --numeric-owner -cf "$tar.tmp" .
    "${sudo[@]}" chown "$(id -u):$(id -g)" "$tar.tmp"
    mv "$tar.tmp" "$tar"
    "${sudo[@]}" rm -rf "$rootfs"
    remember debian.inputs "$inputs"
  fi
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change 'LABEL calcgrid.airgap=true' \
    --change "LABEL calcgrid.airgap.inputs=$inputs" \
    "$tar" "$AIRGAP_BASE" >/dev/null
}

ensure_debian_base() {
  # Bump the recipe when the debootstrap call above changes.
  local inputs
  inputs=$(printf '%s minbase recipe-1' "$DEBIAN_SUITE" | sha)
  if [[ $(image_label "$AIRGAP_BASE" calcgrid.airgap.inputs) == "$inputs" ]]; then
    say "    $AIRGAP_BASE: up to date"
    return
  fi
  local t
  t=$(date +%s%N)
  build_debian_base "$inputs"
  say "    $AIRGAP_BASE: built ($(fmt_ms "$(ms_since "$t")"))"
}

# airgap_tag KEY: the air-gapped image name, versioned by what Debian or the
# host's Go toolchain provide.
airgap_tag() {
  case $1 in
    redis_image)      echo "calcgrid-airgap/redis:7.0-$DEBIAN_SUITE" ;;
    nginx_image)      echo "calcgrid-airgap/nginx:1.22-$DEBIAN_SUITE" ;;
    go_builder_image) echo "calcgrid-airgap/golang:$(go env GOVERSION | sed 's/^go//')-$DEBIAN_SUITE" ;;
    runtime_image)    echo "calcgrid-airgap/static:nonroot" ;;
    prometheus_image) echo "calcgrid-airgap/prometheus:2.42-$DEBIAN_SUITE" ;;
  esac
}

# build_airgap_image KEY: builds scripts/images/<dir> on the Debian base when
# the image is missing or its inputs (Dockerfile, files, base image) changed.
build_airgap_image() {
  local key=$1 dir="$IMAGES_SRC/${AIRGAP_DIR[$1]}" tag inputs
  tag=$(airgap_tag "$key")
  inputs=$( {
    find "$dir" -type f -print0 | sort -z | xargs -0 cat
    image_id "$AIRGAP_BASE"
    if [[ $key == go_builder_image ]]; then go env GOROOT GOVERSION; cat "$LOCAL_CA_DIR"/*.crt 2>/dev/null || true; fi
  } | sha)
  if [[ $(image_label "$tag" calcgrid.airgap.inputs) == "$inputs" ]]; then
    say "    $tag: up to date"
    echo "$tag" >"$STATE/image.$key"
    return
  fi
  local t log="$CACHE/logs/image-${AIRGAP_DIR[$key]}.log" previous
  t=$(date +%s%N)
  previous=$(image_id "$tag" 2>/dev/null || true)
  local args=(build --build-arg "BASE_IMAGE=$AIRGAP_BASE" --label calcgrid.airgap=true
    --label "calcgrid.airgap.inputs=$inputs" -t "$tag")
  say "    $tag: building (log: ${log#"$ROOT"/})"
  if [[ $key == go_builder_image ]]; then
    require_go "the Go builder image"
    # The context is the Dockerfile, the host's locally added CAs as
    # extra-ca/ and the host's GOROOT (without tests and docs) as goroot/.
    local goroot stage
    goroot=$(go env GOROOT)
    stage=$(mktemp -d)
    cp "$dir/Dockerfile" "$stage/"
    mkdir "$stage/extra-ca"
    cp "$LOCAL_CA_DIR"/*.crt "$stage/extra-ca/" 2>/dev/null || true
    # shellcheck disable=SC2016 # expanded by the inner bash
    run_logged "$log" bash -c '
      tar -cf - -C "$1" Dockerfile extra-ca -C "$2" --exclude=./test --exclude=./doc --exclude=./api \
        --transform "s,^\./,goroot/," . | docker "${@:3}" -' _ "$stage" "$goroot" "${args[@]}"
    rm -rf "$stage"
  else
    run_logged "$log" docker "${args[@]}" "$dir"
  fi
  echo "$tag" >"$STATE/image.$key"
  # The replaced build is now untagged; drop it unless something still uses it.
  [[ -z $previous || $previous == "$(image_id "$tag")" ]] || docker rmi "$previous" >/dev/null 2>&1 || true
  say "    $tag: built ($(fmt_ms "$(ms_since "$t")"))"
}

ensure_images() {
  step "base images (${IMAGE_KEYS[*]/%_image/})"
  mkdir -p "$STATE"
  local key missing=() mode
  for key in "${IMAGE_KEYS[@]}"; do
    image_present "${OFFICIAL[$key]}" || missing+=("$key")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    for key in "${IMAGE_KEYS[@]}"; do echo "${OFFICIAL[$key]}" >"$STATE/image.$key"; done
    done_step "official images, all present locally"
    return
  fi
  # The prerequisites step probed the registry (it decides whether debootstrap is needed).
  mode=$(recall images.mode)
  [[ -n $mode ]] || die "the image registry was not probed (.cache/bootstrap/images.mode); run scripts/bootstrap.sh --recheck"
  for key in "${IMAGE_KEYS[@]}"; do echo "${OFFICIAL[$key]}" >"$STATE/image.$key"; done
  if [[ $mode == registry ]]; then
    for key in "${missing[@]}"; do
      say "    pulling ${OFFICIAL[$key]}"
      run_logged "$CACHE/logs/pull-${AIRGAP_DIR[$key]}.log" docker pull "${OFFICIAL[$key]}"
    done
    done_step "official images (pulled ${#missing[@]})"
    return
  fi
  ensure_debian_base
  for key in "${missing[@]}"; do build_airgap_image "$key"; done
  done_step "air-gapped images for: ${missing[*]/%_image/}"
}

# ---------------------------------------------------------------- outputs
write_outputs() {
  step "record (.cache/bootstrap.json, .cache/images.auto.tfvars.json)"
  local key args=(-tf-binary "$TF" -go-proxy "$(go env GOPROXY)" -go-flags "$(go env GOFLAGS)")
  [[ ! -f $CLI_CONFIG ]] || args+=(-cli-config "$CLI_CONFIG")
  for key in "${IMAGE_KEYS[@]}"; do args+=(-image "$key=$(cat "$STATE/image.$key")"); done
  "$STACK" record-bootstrap "${args[@]}"
  done_step "TF_BINARY=$TF"
}

# ---------------------------------------------------------------- doctor
doctor() {
  local ok=0 tf mode key img kind
  # Not in a $(...) each: a subshell could not set ok.
  local found
  found=$(docker_engine) || { ok=1; found='NOT REACHABLE (start Docker)'; }
  printf '%-18s %s\n' "docker engine" "$found"
  found=$(go version 2>/dev/null) || { ok=1; found='MISSING: install Go (the version in go.mod or newer)'; }
  printf '%-18s %s\n' "go" "$found"

  tf=$(TF_BINARY=${TF_BINARY:-} resolve_tf 2>/dev/null || echo "missing")
  case $tf in
    build:tofu) ok=1; printf '%-18s %s\n' "IaC binary" "none on PATH: bootstrap will build OpenTofu into .bin/tofu" ;;
    "$BIN"/*)   printf '%-18s %s\n' "IaC binary" "$(user_cli_config_env "$tf" version | head -n1), built into .bin/ (air-gapped)" ;;
    *)          printf '%-18s %s\n' "IaC binary" "$(user_cli_config_env "$tf" version | head -n1), found on PATH at $tf" ;;
  esac

  "$STACK" prereqs -for test || ok=1

  mode=$(recall provider.mode)
  case $mode in
    registry) printf '%-18s %s\n' "docker provider" "$PROVIDER_VERSION from the provider registry (online)" ;;
    mirror)
      if [[ -x $(provider_mirror_file "${PROVIDER_HOSTS[0]}") && -f $CLI_CONFIG ]]; then
        printf '%-18s %s\n' "docker provider" "$PROVIDER_VERSION from the local mirror (air-gapped), CLI config ${CLI_CONFIG#"$ROOT"/}"
      else
        ok=1; printf '%-18s %s\n' "docker provider" "registry unreachable and mirror not built yet: run make bootstrap"
      fi ;;
    *) ok=1; printf '%-18s %s\n' "docker provider" "not probed yet: run make bootstrap" ;;
  esac
  local version
  if version=$(calcgrid_provider_version 2>/dev/null) && [[ -x $(mirror_file "$CALCGRID_PROVIDER" "$version") && -f $CLI_CONFIG ]]; then
    printf '%-18s %s\n' "calcgrid provider" "$version in the local mirror as $CALCGRID_PROVIDER, CLI config ${CLI_CONFIG#"$ROOT"/}"
  else
    ok=1; printf '%-18s %s\n' "calcgrid provider" "not built or not in the mirror: run make bootstrap"
  fi

  for key in "${IMAGE_KEYS[@]}"; do
    img=$(cat "$STATE/image.$key" 2>/dev/null || echo "${OFFICIAL[$key]}")
    if ! image_present "$img"; then
      ok=1; printf '%-18s %s\n' "${key%_image} image" "$img MISSING: run make bootstrap"
      continue
    fi
    if [[ $(image_label "$img" calcgrid.airgap) == true ]]; then kind="air-gapped build"; else kind="official"; fi
    printf '%-18s %s (%s, user %s)\n' "${key%_image} image" "$img" "$kind" \
      "$(docker image inspect --format '{{if .Config.User}}{{.Config.User}}{{else}}root{{end}}' "$img")"
  done
  if image_present "$AIRGAP_BASE"; then
    printf '%-18s %s (air-gapped base, from debootstrap)\n' "debian base" "$AIRGAP_BASE"
  fi
  if [[ -f $CACHE/bootstrap.json ]]; then
    printf '%-18s %s\n' "settings" ".cache/bootstrap.json, .cache/images.auto.tfvars.json"
  else
    ok=1; printf '%-18s %s\n' "settings" "not generated yet: run make bootstrap"
  fi
  return "$ok"
}

# ---------------------------------------------------------------- main
main() {
  local cmd=bootstrap
  case ${1:-} in
    "") ;;
    --for)
      PURPOSE=${2:-}
      [[ $PURPOSE == up || $PURPOSE == test || $PURPOSE == bench ]] || die "--for takes up, test or bench, not '$PURPOSE'" ;;
    --doctor) cmd=doctor ;;
    --recheck) rm -f "$STATE/provider.mode" "$STATE/images.mode" ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (use --doctor, --recheck or --help)" ;;
  esac
  mkdir -p "$CACHE" "$STATE"
  if [[ $cmd == doctor ]]; then
    docker_engine >/dev/null || die "the Docker engine does not answer: start Docker (docker version must work)"
    build_driver
    load_official_images
    doctor
    return
  fi

  # One bootstrap at a time: make up and the test runner may start together.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/bootstrap.lock"
    flock 9
  fi

  step "Docker engine"
  local engine
  engine=$(docker_engine) || die "the Docker engine does not answer: start Docker (docker version must work)"
  done_step "$engine"
  step "stack driver (.bin/calcgrid-stack)"
  build_driver
  load_official_images
  done_step "built"
  step "prerequisites (for make $PURPOSE)"
  "$STACK" prereqs -for "$PURPOSE" -install || die "prerequisites missing (see above); nothing was built"
  done_step "all present"
  ensure_tf
  ensure_provider
  ensure_calcgrid_provider
  ensure_images
  write_outputs
  say "bootstrap complete in $(fmt_ms "$(ms_since "$T0")") (make doctor shows the mode of each piece)"
}

main "$@"
