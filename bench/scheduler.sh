#!/usr/bin/env bash
# Measures the scheduler's own cost per job run (issue 11): TRIGGERS runs of a cheap job
# (promotion-expiry -> TicketService/ExpirePromotions, nothing to expire) triggered over REST on a
# stack of its own; the run's recorded duration (claim, target call, record) against the target's
# own handling time from the ticket service's metrics gives the overhead of a run.
# usage: bench/scheduler.sh [BUILD_DIR]   (TRIGGERS, default 200)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
triggers=${TRIGGERS:-200}
state=$(mktemp -d /tmp/metro-scheduler-bench.XXXXXX)
trap 'bash "$root/scripts/stack.sh" stop "$state" >/dev/null 2>&1; rm -rf "$state"' EXIT

export METRO_ADMIN_EMAIL=admin@metro.bench METRO_ADMIN_PASSWORD='Bench-Adm1n!Passw0rd' METRO_ADMIN_USERNAME=admin
METRO_STACK_FREE_PORTS=1 METRO_LOG_LEVEL=warn METRO_DEMO_TRIP_DAYS=0 METRO_SCHEDULER_TICKER=false \
  bash "$root/scripts/stack.sh" start "$state" "$build" 2>/dev/null
. "$state/stack.env"
token=$(curl -fsS -X POST "$METRO_HTTP/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"login\":\"$METRO_ADMIN_EMAIL\",\"password\":\"$METRO_ADMIN_PASSWORD\"}" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')
ticket_metrics=$(sed -n 's/^declare -x METRO_METRICS_PORT="\([0-9]*\)"$/\1/p' "$state/run/ticket.sh")
target_seconds() { # sum and count of ExpirePromotions' handling time in the ticket service
  curl -fsS "http://127.0.0.1:$ticket_metrics/metrics" |
    awk '/^grpc_server_handling_seconds_(sum|count)\{grpc_type="unary",grpc_service="metro.ticket.v1.TicketService",grpc_method="ExpirePromotions"\}/ {
           if ($1 ~ /_sum/) s = $2; else c = $2 } END { printf "%s %s\n", s + 0, c + 0 }'
}
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | head -1)
read -r s0 c0 <<<"$(target_seconds)"
start=$(date +%s.%N)
for _ in $(seq 1 "$triggers"); do
  curl -fsS -o /dev/null -X POST "$METRO_HTTP/v1/jobs/promotion-expiry:trigger" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{}'
done
end=$(date +%s.%N)
read -r s1 c1 <<<"$(target_seconds)"
stats=$("$psql_bin" -Atq "$METRO_PG_ADMIN_URL" -c "SELECT count(*), round(avg(extract(epoch FROM finished_at - started_at)) * 1000, 2),
  round(((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))) * 1000)::numeric, 2)
  FROM scheduler.runs WHERE job = 'promotion-expiry' AND outcome = 'succeeded'")
IFS='|' read -r runs avg_ms p99_ms <<<"$stats"
calls=$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')
target_ms=$(awk -v a="$s0" -v b="$s1" -v n="$calls" 'BEGIN { if (n > 0) printf "%.2f", (b - a) * 1000 / n; else print "n/a" }')
wall_ms=$(awk -v a="$start" -v b="$end" -v n="$triggers" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')
echo "# $(date -u +%Y-%m-%d) $(nproc) cores, loopback; $(basename "$build"); $triggers triggers of promotion-expiry"
echo
echo "| runs recorded | trigger round trip (REST) ms | run recorded ms avg / p99 | target's own handling ms | scheduler overhead per run ms |"
echo "|---:|---:|---:|---:|---:|"
overhead=$(awk -v r="$avg_ms" -v t="$target_ms" 'BEGIN { if (t == "n/a") print "n/a"; else printf "%.2f", r - t }')
echo "| $runs | $wall_ms | $avg_ms / $p99_ms | $target_ms | $overhead |"
