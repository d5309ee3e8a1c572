#!/usr/bin/env bash
# make lint: gofmt, go vet and staticcheck over every Go module in the repo
# (root and tests/), shellcheck over the shell scripts, then `fmt -check`,
# `validate` and tflint over the Terraform code (the IaC binary is the one the
# bootstrap chose, run through the stack driver). Every check runs; the script
# fails at the end if any of them did, listing which.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.bin
export PATH=$bin:$PATH

# Pinned so CI and laptops agree (checked against Go 1.26); bump it together
# with the go directive in go.mod.
staticcheck_version=v0.8.2
tflint_version=v0.64.0
stack=$bin/calcgrid-stack

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

step "shellcheck"
mapfile -t scripts < <(git ls-files -co --exclude-standard -- '*.sh' '.ci/run')
shellcheck -x "${scripts[@]}" || fail shellcheck

[[ -x $stack ]] || { echo "  $stack is missing: run make bootstrap" >&2; exit 1; }
for dir in modules terraform environments tests; do
  [[ -d $dir ]] || continue
  step "fmt -check -recursive $dir"
  if ! "$stack" tf . fmt -check -recursive -list=true "$dir"; then
    echo "  fix with: .bin/calcgrid-stack tf . fmt -recursive $dir"
    fail "fmt $dir"
  fi
done

step "validate (every module and the root module)"
"$stack" validate || fail validate

# Captured first: grep -q would close the pipe early and, under pipefail,
# fail the check even when the version matches.
have_tflint=$(tflint --version 2>/dev/null || true)
if [[ $have_tflint != *"version ${tflint_version#v}"* ]]; then
  step "installing tflint $tflint_version into .bin/"
  GOBIN=$bin go install "github.com/terraform-linters/tflint@$tflint_version"
fi
for dir in modules/*/ terraform/; do
  step "tflint $dir"
  tflint --chdir="$dir" --config="$root/.tflint.hcl" || fail "tflint $dir"
done

if ((${#failed[@]})); then
  printf '\nlint FAILED:\n' >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nlint ok\n'
