#!/usr/bin/env bash
# Installs the pinned Go tools into .cache/tools/bin, skipping those already there at the pinned
# version; prints that bin directory. `make run` needs grpcurl and Mailpit; with --test (make test)
# also the checkers of the deployment and monitoring files: helm, kubeconform, promtool,
# prometheus and amtool (a few minutes of Go builds, once per clone).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=$root/.cache
bin=$cache/tools/bin

# One row per tool: binary name, module path of its main package, pinned version and the
# linker flags its own release builds use (grpcurl stamps its version into main.version).
tools=(
  "grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl v1.9.1 -X main.version=v1.9.1"
  "mailpit github.com/axllent/mailpit v1.33.1 -X github.com/axllent/mailpit/config.Version=v1.33.1"
)
test_tools=(
  # helm lint/template and kubeconform check the chart and k8s/ offline (test/deploy/test_chart.sh).
  "helm helm.sh/helm/v4/cmd/helm v4.3.2 -X helm.sh/helm/v4/internal/version.version=v4.3.2"
  "kubeconform github.com/yannh/kubeconform/cmd/kubeconform v0.8.0 -X main.version=v0.8.0"
  "promtool github.com/prometheus/prometheus/cmd/promtool v0.316.0 -X github.com/prometheus/common/version.Version=v0.316.0"
  # A real Prometheus (the API; its web UI's assets are not embedded) and amtool check monitoring/
  # against the test stack (test/monitoring/test_monitoring.sh).
  "prometheus github.com/prometheus/prometheus/cmd/prometheus v0.316.0 -X github.com/prometheus/common/version.Version=v0.316.0"
  "amtool github.com/prometheus/alertmanager/cmd/amtool v0.35.0 -X github.com/prometheus/common/version.Version=v0.35.0"
)

[ "${1:-}" != --test ] || tools+=("${test_tools[@]}")

command -v go >/dev/null 2>&1 || { echo "tools.sh: go not found (run scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$bin"
# Everything Go downloads or builds stays under .cache; the local toolchain is used as is.
export GOPATH=$cache/go GOMODCACHE=$cache/go/pkg/mod GOCACHE=$cache/go-build GOBIN=$bin
export GOFLAGS="-mod=mod -modcacherw" GOTOOLCHAIN=local CGO_ENABLED=0

# "VERSION LDFLAGS" a Go binary was built with, read from its embedded build info.
installed_build() {
  [ -x "$bin/$1" ] || return 0
  go version -m "$bin/$1" 2>/dev/null | awk -F'\t' '
    $2 == "mod" { version = $4 }
    $2 == "build" && $3 ~ /^-ldflags=/ { flags = substr($3, 10); gsub(/^"|"$/, "", flags) }
    END { print version, flags }'
}

for row in "${tools[@]}"; do
  read -r name module version ldflags <<<"$row"
  want="$version $ldflags"
  if [ "$(installed_build "$name")" = "$want" ]; then continue; fi
  echo "tools.sh: installing $name $version" >&2
  go install -ldflags="$ldflags" "$module@$version" >&2
  [ "$(installed_build "$name")" = "$want" ] || { echo "tools.sh: $name is not at $version after install" >&2; exit 1; }
done
echo "$bin"
