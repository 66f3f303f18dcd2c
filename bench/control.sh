#!/usr/bin/env bash
# Measures schedule generation (issue 11): POST /v1/schedules:generate for all 7 lines x 7 days
# through the gateway into metro-control, which plans each (line, date) with the shared generator
# and writes it through transport's BulkUpsertTrips. Runs on a stack of its own with no demo
# trips: a fresh week (every day created), the same week again (all kept: the daily run's usual
# case), then ROUNDS replaces of the next 7 days with the fallback and with a model (14 days of
# demand written straight into control.demand for every line).
# usage: bench/control.sh [BUILD_DIR]   (ROUNDS, default 3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
rounds=${ROUNDS:-3}
state=$(mktemp -d /tmp/metro-control-bench.XXXXXX)
trap 'bash "$root/scripts/stack.sh" stop "$state" >/dev/null 2>&1; rm -rf "$state"' EXIT

export METRO_ADMIN_EMAIL=admin@metro.bench METRO_ADMIN_PASSWORD='Bench-Adm1n!Passw0rd' METRO_ADMIN_USERNAME=admin
# The gateway's 15 s default deadline is raised: a loaded 2-core box can need more for a fresh week.
METRO_BACKEND_TIMEOUT_MS=120000 METRO_STACK_FREE_PORTS=1 METRO_LOG_LEVEL=warn METRO_DEMO_TRIP_DAYS=0 METRO_SCHEDULER_TICKER=false \
  bash "$root/scripts/stack.sh" start "$state" "$build" 2>/dev/null
. "$state/stack.env"
token=$(curl -fsS -X POST "$METRO_HTTP/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"login\":\"$METRO_ADMIN_EMAIL\",\"password\":\"$METRO_ADMIN_PASSWORD\"}" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')
tomorrow=$(TZ=Asia/Ho_Chi_Minh date -d tomorrow +%F)
echo "# $(date -u +%Y-%m-%d) $(nproc) cores, loopback; $(basename "$build"); 7 lines x 7 days per call"
echo
echo "| run | wall s | of which in transport's BulkUpsertTrips | (line, date) runs | trips created | trips kept | ms per (line, date) | trips written/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
# transport's own account of BulkUpsertTrips (its handling-time histogram), to split the time.
transport_metrics=$(sed -n 's/^declare -x METRO_METRICS_PORT="\([0-9]*\)"$/\1/p' "$state/run/transport.sh")
upsert_seconds() {
  curl -fsS "http://127.0.0.1:$transport_metrics/metrics" |
    awk '/^grpc_server_handling_seconds_sum\{grpc_type="unary",grpc_service="metro.transport.v1.TransportService",grpc_method="BulkUpsertTrips"\}/ {print $2; f=1} END {if (!f) print 0}'
}

run() { # label body
  local t u0 u1
  u0=$(upsert_seconds)
  t=$(curl -fsS -o "$state/answer.json" -w '%{time_total}' -X POST "$METRO_HTTP/v1/schedules:generate" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$2")
  u1=$(upsert_seconds)
  python3 - "$1" "$t" "$state/answer.json" "$u0" "$u1" <<'PY'
import json, sys
label, t = sys.argv[1], float(sys.argv[2])
r = json.load(open(sys.argv[3]))
upsert = float(sys.argv[5]) - float(sys.argv[4])
runs, created, kept = len(r.get("runs", [])), r.get("tripsCreated", 0), r.get("tripsKept", 0)
print(f"| {label} | {t:.2f} | {upsert:.2f} | {runs} | {created:,} | {kept:,} | {1000 * t / max(runs, 1):.0f} | {created / t:,.0f} |")
PY
}

run "fresh week (today + 6), fallback" '{"days":7}'
run "same week again (all kept)" '{"days":7}'
for i in $(seq 1 "$rounds"); do
  run "replace next 7 days, fallback ($i)" "{\"date\":\"$tomorrow\",\"days\":7,\"replace\":true}"
done
# 14 days of demand on every line: a busy morning and evening (D 3,000-6,000 an hour).
psql -X -q "$METRO_PG_ADMIN_URL" <<'SQL'
INSERT INTO control.demand (route_id, service_date, direction, hour, passengers)
SELECT l.route_id, (now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - d, dir, h,
       CASE WHEN h IN (7, 8, 17, 18) THEN 3000 + 1000 * (d % 4) ELSE 800 END
FROM transport.lines l, generate_series(1, 14) d, unnest(ARRAY['outbound', 'inbound']) dir, generate_series(5, 22) h
ON CONFLICT DO NOTHING;
SQL
for i in $(seq 1 "$rounds"); do
  run "replace next 7 days, model ($i)" "{\"date\":\"$tomorrow\",\"days\":7,\"replace\":true}"
done
