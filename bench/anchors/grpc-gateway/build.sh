#!/usr/bin/env bash
# Builds bench/compare.sh's anchor: a grpc-gateway v2 proxy generated from proto/metro with pinned
# generators and modules, everything under .cache/bench-anchor (a bench tool, never shipped).
# usage: bench/anchors/grpc-gateway/build.sh   prints the binary's path; does nothing when it is
# up to date with the protos, main.go, go.mod, go.sum and this script.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
cache=$root/.cache
out=$cache/bench-anchor
bin=$out/bin
src=$out/src
binary=$bin/metro-grpc-gateway
module=metro.bench/grpcgateway

# The generators: binary name, main package, pinned version.
generators=(
  "protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go v1.36.12"
  "protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2"
  "protoc-gen-grpc-gateway github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway v2.34.0"
)
# grpc-gateway's template parser rejects a literal after a variable in one segment
# ("/v1/reports/{report_id}.csv"): the report service gets no routes here.
gateway_skip=metro/report/v1/report.proto
# Include paths as gen/CMakeLists.txt has them (Debian's googleapis, grpc-proto, libprotobuf-dev).
googleapis=${GOOGLEAPIS_PROTO_DIR:-/usr/share/gocode/src/github.com/gogo/googleapis}
grpc_proto=${GRPC_PROTO_DIR:-/usr/share/grpc-proto}
protobuf_proto=${PROTOBUF_PROTO_DIR:-/usr/include}
# The googleapis protos carry no usable go_package: they map to the genproto packages.
google_packages=(
  "google/api/annotations.proto=google.golang.org/genproto/googleapis/api/annotations"
  "google/api/http.proto=google.golang.org/genproto/googleapis/api/annotations"
  "google/api/httpbody.proto=google.golang.org/genproto/googleapis/api/httpbody"
  "google/rpc/status.proto=google.golang.org/genproto/googleapis/rpc/status"
  "google/rpc/code.proto=google.golang.org/genproto/googleapis/rpc/code"
  "google/rpc/error_details.proto=google.golang.org/genproto/googleapis/rpc/errdetails"
  "google/type/latlng.proto=google.golang.org/genproto/googleapis/type/latlng"
  "google/type/date.proto=google.golang.org/genproto/googleapis/type/date"
  "google/type/money.proto=google.golang.org/genproto/googleapis/type/money"
)

command -v go >/dev/null 2>&1 || PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null 2>&1 || { echo "build.sh: go not found (run scripts/install-deps.sh)" >&2; exit 1; }
command -v protoc >/dev/null 2>&1 || { echo "build.sh: protoc not found" >&2; exit 1; }
# The module and build caches are the ones scripts/tools.sh fills.
export GOPATH=$cache/go GOMODCACHE=$cache/go/pkg/mod GOCACHE=$cache/go-build GOBIN=$bin
export GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0

cd "$root"
mapfile -t protos < <(find proto/metro -name '*.proto' | sort)
stamp=$(cat "${protos[@]}" "$here/main.go" "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -d' ' -f1)
if [ -x "$binary" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$binary"
  exit 0
fi

mkdir -p "$bin"
for row in "${generators[@]}"; do
  read -r name package version <<<"$row"
  have=$(go version -m "$bin/$name" 2>/dev/null | awk -F'\t' '$2 == "mod" {print $4}' || true)
  [ "$have" = "$version" ] && continue
  echo "build.sh: installing $name $version" >&2
  go install "$package@$version" >&2
done

# M options: each metro proto directory is one Go package of the module, named like
# metro/auth/v1 -> authv1; the googleapis protos go to genproto.
maps=()
for p in "${protos[@]}"; do
  rel=${p#proto/}
  dir=$(dirname "$rel")
  pkg=$(basename "$(dirname "$dir")")$(basename "$dir")
  maps+=("M$rel=$module/gen/$dir;$pkg")
done
for m in "${google_packages[@]}"; do maps+=("M$m"); done
opts=$(IFS=,; echo "module=$module,${maps[*]}")

gateway_protos=()
for p in "${protos[@]#proto/}"; do [ "$p" = "$gateway_skip" ] || gateway_protos+=("$p"); done

rm -rf "$src"
mkdir -p "$src"
cp "$here/main.go" "$here/go.mod" "$here/go.sum" "$src/"
includes=(-Iproto -I"$googleapis" -I"$grpc_proto" -I"$protobuf_proto")
protoc "${includes[@]}" --plugin=protoc-gen-go="$bin/protoc-gen-go" --plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
  --go_out="$src" --go_opt="$opts" --go-grpc_out="$src" --go-grpc_opt="$opts" "${protos[@]#proto/}"
protoc "${includes[@]}" --plugin=protoc-gen-grpc-gateway="$bin/protoc-gen-grpc-gateway" \
  --grpc-gateway_out="$src" --grpc-gateway_opt="$opts" "${gateway_protos[@]}"
echo "build.sh: building $binary" >&2
(cd "$src" && go build -mod=readonly -trimpath -o "$binary" .)
echo "$stamp" >"$out/stamp"
echo "$binary"
