#!/usr/bin/env bash
# Measures the public read API over REST (wrk through the gateway): cached reads of the
# station list and of one journey, and journey plans over every station pair, once from
# the cache and once with Redis stopped (public then asks transport's planner each time).
# usage: bench/public.sh [BUILD_DIR]   (SECONDS_PER_RUN, CONNECTIONS)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
seconds=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-64}
state=$(mktemp -d /tmp/metro-public-bench.XXXXXX)
trap 'bash "$root/scripts/stack.sh" stop "$state" >/dev/null 2>&1; rm -rf "$state"' EXIT

METRO_STACK_FREE_PORTS=1 METRO_LOG_LEVEL=warn METRO_DEMO_TRIP_DAYS=1 \
  bash "$root/scripts/stack.sh" start "$state" "$build" 2>/dev/null
. "$state/stack.env"
journey="$METRO_HTTP/v1/journeys?originStationId=ben-thanh&destinationStationId=ben-xe-suoi-tien"
echo "# $(date -u +%Y-%m-%d) $(nproc) cores, loopback; wrk -t2 -c$conns -d${seconds}s; load generator on the same machine"

# Every ordered pair of stations, cycled through by each wrk thread from its own offset.
ids=$(curl -fsS "$METRO_HTTP/v1/stations" | grep -o '"stationId":"[^"]*"' | cut -d'"' -f4)
{
  echo "local ids = {"
  for id in $ids; do echo "  \"$id\","; done
  echo "}"
  cat <<'LUA'
local n, i = #ids, 0
local threads = 0
setup = function(thread) thread:set("offset", threads * 5003); threads = threads + 1 end
request = function()
  local k = (offset + i) % (n * (n - 1)); i = i + 1
  local a = math.floor(k / (n - 1)) + 1
  local b = k % (n - 1) + 1
  if b >= a then b = b + 1 end
  return wrk.format("GET", "/v1/journeys?originStationId=" .. ids[a] .. "&destinationStationId=" .. ids[b])
end
LUA
} >"$state/pairs.lua"

run() { # label url [lua]
  local out
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$3" "$2")
  else
    out=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency "$2")
  fi
  local non2xx
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" "${non2xx:-0}"
}

# Warm the caches: the list, the one journey, and every pair.
curl -fsS "$METRO_HTTP/v1/stations" >/dev/null
curl -fsS "$journey" >/dev/null
wrk -t2 -c16 -d"${seconds}s" -s "$state/pairs.lua" "$METRO_HTTP" >/dev/null

echo
echo "| REST route | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
run "GET /v1/stations (cached, $(curl -fsS "$METRO_HTTP/v1/stations" | wc -c) bytes)" "$METRO_HTTP/v1/stations"
run "GET /v1/journeys, one pair (cached)" "$journey"
run "GET /v1/journeys, all 10,506 pairs (cached)" "$METRO_HTTP" "$state/pairs.lua"
bash "$root/scripts/redis.sh" stop "$state/redis" >/dev/null
run "GET /v1/journeys, all pairs, Redis stopped (planner every time)" "$METRO_HTTP" "$state/pairs.lua"
