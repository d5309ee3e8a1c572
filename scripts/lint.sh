#!/usr/bin/env bash
# make lint: gofmt, go vet and staticcheck over every Go module in the repo
# (root and tests/), then `fmt -check` over the Terraform code. Every check
# runs; the script fails at the end if any of them did, listing which.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.bin
export PATH=$bin:$PATH

# Pinned so CI and laptops agree (checked against Go 1.26); bump it together
# with the go directive in go.mod.
staticcheck_version=v0.8.2

failed=()
step() { printf '==> %s\n' "$*"; }
fail() { failed+=("$1"); }

# Modules with Go code of their own; scripts/tools/* only pin tool versions.
modules=()
while IFS= read -r mod; do
  dir=$(dirname "$mod")
  if [[ -n $(git ls-files -co --exclude-standard -- "$dir/*.go" | head -1) ]]; then
    modules+=("$dir")
  fi
done < <(git ls-files -co --exclude-standard -- 'go.mod' '*/go.mod' | sort)

step "gofmt"
unformatted=$(git ls-files -co --exclude-standard -- '*.go' | xargs -r gofmt -l)
if [[ -n $unformatted ]]; then
  printf '%s\n' "$unformatted" | sed 's/^/  needs gofmt: /'
  echo "  fix with: gofmt -w <file>..."
  fail gofmt
fi

if ! staticcheck -version 2>/dev/null | grep -q "(${staticcheck_version#v})"; then
  step "installing staticcheck $staticcheck_version into .bin/"
  GOBIN=$bin go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi

for dir in "${modules[@]}"; do
  step "go vet ($dir)"
  (cd "$dir" && go vet ./...) || fail "go vet $dir"
  step "staticcheck ($dir)"
  (cd "$dir" && staticcheck ./...) || fail "staticcheck $dir"
done

tf=""
for candidate in tofu terraform; do
  if command -v "$candidate" >/dev/null 2>&1; then
    tf=$candidate
    break
  fi
done
tf_dirs=()
for dir in modules terraform environments tests; do
  [[ -d $dir ]] && tf_dirs+=("$dir")
done
if [[ -z $tf ]]; then
  step "terraform fmt: SKIPPED, neither tofu nor terraform is on PATH (make bootstrap provides one)"
else
  for dir in "${tf_dirs[@]}"; do
    step "$tf fmt -check -recursive $dir"
    # fmt reads no CLI configuration; unsetting it avoids warnings about a missing file.
    if ! env -u TF_CLI_CONFIG_FILE "$tf" fmt -check -recursive -list=true "$dir"; then
      echo "  fix with: $tf fmt -recursive $dir"
      fail "$tf fmt $dir"
    fi
  done
fi

if ((${#failed[@]})); then
  printf '\nlint FAILED:\n' >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nlint ok\n'
