#!/usr/bin/env bash
# Measures the event path (ev_publish -> outbox -> relay -> backend -> consumer, effects
# committed) on a throwaway PostgreSQL; on Kafka too when METRO_KAFKA_BROKERS is set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
state=$(mktemp -d /tmp/metro-event-bench.XXXXXX)
trap 'bash "$root/scripts/pg.sh" stop "$state/pg" >/dev/null 2>&1; rm -rf "$state"' EXIT

bash "$root/scripts/pg.sh" start "$state/pg" >/dev/null
. "$state/pg/env"
url=$(bash "$root/scripts/pg-provision.sh" "$METRO_PG_ADMIN_URL" "$state/secrets" bench | awk '$1 == "bench" {print $2}')
echo "# $(date -u +%Y-%m-%d) $(nproc) cores; PostgreSQL $(psql -X -tA "$METRO_PG_ADMIN_URL" -c 'SHOW server_version')" \
  "(scripts/pg.sh settings); BENCH_EVENTS=${BENCH_EVENTS:-20000} BENCH_TX=${BENCH_TX:-10}" \
  "BENCH_RATE=${BENCH_RATE:-200} BENCH_PACED_S=${BENCH_PACED_S:-10}; producer, relay and consumer in one process"
METRO_PG_URL=$url METRO_KAFKA_BROKERS= "$build/bench/metro-event-bench"
if [ -n "${METRO_KAFKA_BROKERS:-}" ]; then
  METRO_PG_URL=$url "$build/bench/metro-event-bench"
fi
