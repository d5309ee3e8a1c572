#!/usr/bin/env bash
# make lint: gofmt, go vet and staticcheck over every Go module in the repo
# (root and tests/), shellcheck over the shell scripts, actionlint over the
# GitHub workflows, promtool over the alerting rules (check and unit tests),
# then `fmt -check`, `validate` and tflint over the Terraform code (the IaC
# binary is the one the bootstrap chose, run through the stack driver). Every
# check runs; the script fails at the end if any of them did, listing which.
# The distribution provides shellcheck and promtool (the bootstrap's
# prerequisites for make test); the Go tools are built here, pinned below.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.bin
export PATH=$bin:$PATH

# Pinned so CI and laptops agree (checked against Go 1.26); bump it together
# with the go directive in go.mod.
# The `renovate:` comments let Renovate propose bumps (.github/renovate.json).
# renovate: datasource=go depName=honnef.co/go/tools
staticcheck_version=v0.8.2
# renovate: datasource=go depName=github.com/terraform-linters/tflint
tflint_version=v0.64.0
# renovate: datasource=go depName=github.com/rhysd/actionlint
actionlint_version=v1.7.12
stack=$bin/calcgrid-stack

failed=()
step() { printf '==> %s\n' "$*"; }
fail() { failed+=("$1"); }

# go_tool NAME PACKAGE VERSION VERSION-FLAG: makes NAME at VERSION the one on
# PATH, building PACKAGE@VERSION into .bin/ (Go's build cache makes a rebuild
# cheap) unless `NAME VERSION-FLAG` already reports that version.
go_tool() {
  local name=$1 pkg=$2 version=$3 have
  # Captured first: grep -q would close the pipe early and, under pipefail,
  # fail the check even when the version matches.
  have=$("$name" "$4" 2>/dev/null || true)
  if [[ $have != *"${version#v}"* ]]; then
    step "installing $name $version into .bin/"
    GOBIN=$bin go install "$pkg@$version"
  fi
}

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

go_tool staticcheck honnef.co/go/tools/cmd/staticcheck "$staticcheck_version" -version

for dir in "${modules[@]}"; do
  step "go vet ($dir)"
  (cd "$dir" && go vet ./...) || fail "go vet $dir"
  step "staticcheck ($dir)"
  (cd "$dir" && staticcheck ./...) || fail "staticcheck $dir"
done

step "shellcheck"
# The provider's import.sh are one-line snippets tfplugindocs shows in the
# docs as they are, not scripts.
mapfile -t scripts < <(git ls-files -co --exclude-standard -- '*.sh' '.ci/run' ':!provider/examples/**/import.sh')
shellcheck -x "${scripts[@]}" || fail shellcheck

# actionlint runs shellcheck over each workflow's run: scripts as well.
go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$actionlint_version" -version
step "actionlint (.github/workflows)"
actionlint || fail actionlint

step "promtool check rules, promtool test rules (monitoring/rules)"
mapfile -t rules < <(git ls-files -co --exclude-standard -- 'monitoring/*.rules.yml')
mapfile -t rule_tests < <(git ls-files -co --exclude-standard -- 'monitoring/*.rules.test.yml')
if ! command -v promtool >/dev/null 2>&1; then
  echo "  promtool is missing: make bootstrap BOOTSTRAP_FOR=test installs it (Debian package prometheus)"
  fail promtool
else
  promtool check rules "${rules[@]}" || fail "promtool check rules"
  promtool test rules "${rule_tests[@]}" || fail "promtool test rules"
fi

[[ -x $stack ]] || { echo "  $stack is missing: run make bootstrap" >&2; exit 1; }
for dir in modules terraform environments tests provider/examples; do
  [[ -d $dir ]] || continue
  step "fmt -check -recursive $dir"
  if ! "$stack" tf . fmt -check -recursive -list=true "$dir"; then
    echo "  fix with: .bin/calcgrid-stack tf . fmt -recursive $dir"
    fail "fmt $dir"
  fi
done

step "validate (every module and the root module)"
"$stack" validate || fail validate

go_tool tflint github.com/terraform-linters/tflint "$tflint_version" --version
for dir in modules/*/ terraform/ terraform/control/; do
  step "tflint $dir"
  tflint --chdir="$dir" --config="$root/.tflint.hcl" || fail "tflint $dir"
done

if ((${#failed[@]})); then
  printf '\nlint FAILED:\n' >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nlint ok\n'
