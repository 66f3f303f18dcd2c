#!/usr/bin/env bash
# Measures the transcoder's cost: one unary method (AuthService/GetJwks, no database)
# over REST through the gateway (wrk), through the nginx edge with TLS (wrk over https), and
# over gRPC directly (metro-grpc-bench, h2load).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
seconds=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-64}
state=$(mktemp -d /tmp/metro-bench.XXXXXX)
trap 'bash "$root/scripts/nginx.sh" stop "$state/nginx" >/dev/null 2>&1; bash "$root/scripts/stack.sh" stop "$state" >/dev/null 2>&1; rm -rf "$state"' EXIT

METRO_STACK_FREE_PORTS=1 METRO_LOG_LEVEL=warn bash "$root/scripts/stack.sh" start "$state" "$build" 2>/dev/null
. "$state/stack.env"
echo "# $(date -u +%Y-%m-%d) $(nproc) cores, loopback; $conns connections, ${seconds}s per run; load generator on the same machine"

rest=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency "$METRO_HTTP/v1/auth/jwks")
rest_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$rest")
rest_p50=$(awk '$1 == "50%" {print $2}' <<<"$rest")
rest_p99=$(awk '$1 == "99%" {print $2}' <<<"$rest")

# The edge: nginx terminating TLS in front of the gateway (its per-client limit lifted: one
# client address makes every request here).
METRO_STACK_FREE_PORTS=1 METRO_EDGE_RATE=1000000r/s METRO_EDGE_BURST=1000000 \
  bash "$root/scripts/nginx.sh" start "$state/nginx" "${METRO_HTTP#http://}" >/dev/null
. "$state/nginx/env"
edge=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency "$METRO_EDGE_HTTPS/v1/auth/jwks")
edge_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$edge")
edge_p50=$(awk '$1 == "50%" {print $2}' <<<"$edge")
edge_p99=$(awk '$1 == "99%" {print $2}' <<<"$edge")

grpc=$("$build/bench/metro-grpc-bench" "$METRO_AUTH_GRPC" "$conns" "$seconds")
grpc_rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$grpc")
grpc_p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$grpc")
grpc_p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$grpc")

body=$state/empty.grpc
printf '\x00\x00\x00\x00\x00' >"$body" # gRPC frame: uncompressed, length 0 (an empty GetJwksRequest)
h2=$(h2load -D "$seconds" -c "$conns" -m 4 -t 2 -d "$body" -H 'content-type: application/grpc' -H 'te: trailers' \
  "http://$METRO_AUTH_GRPC/metro.auth.v1.AuthService/GetJwks" 2>&1)
h2_rps=$(awk '/finished in/ {print $4}' <<<"$h2")
h2_mean=$(awk '/time for request:/ {print $6}' <<<"$h2")

echo
echo "| path | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
echo "| REST via transcoder (wrk, HTTP/1.1 keep-alive) | $rest_rps | $rest_p50 | $rest_p99 |"
echo "| REST via nginx (TLS) and transcoder (wrk, keep-alive) | $edge_rps | $edge_p50 | $edge_p99 |"
echo "| gRPC direct (metro-grpc-bench, $conns blocking callers) | $grpc_rps | ${grpc_p50}ms | ${grpc_p99}ms |"
echo "| gRPC direct (h2load, $conns conns x 4 streams) | $h2_rps | mean $h2_mean | n/a |"
echo
awk -v r="$rest_rps" -v g="$grpc_rps" 'BEGIN { if (g > 0) printf "REST/gRPC throughput ratio (same concurrency): %.2f\n", r / g }'
