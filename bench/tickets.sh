#!/usr/bin/env bash
# Measures the ticket service over REST (wrk through the gateway): public fare quotes
# (cached), signed-in quotes (ticket asks transport each time) and purchases (profile,
# planner, one transaction with the ticket, Idempotency-Key and outbox rows), next to
# pgbench running an equivalent single-statement INSERT on the same PostgreSQL.
# usage: bench/tickets.sh [BUILD_DIR]   (SECONDS_PER_RUN, CONNECTIONS, RIDERS)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
seconds=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-32}
riders=${RIDERS:-32}
state=$(mktemp -d /tmp/metro-ticket-bench.XXXXXX)
trap 'bash "$root/scripts/stack.sh" stop "$state" >/dev/null 2>&1; rm -rf "$state"' EXIT

METRO_STACK_FREE_PORTS=1 METRO_LOG_LEVEL=warn METRO_DEMO_TRIP_DAYS=0 METRO_SCRYPT_LN=10 \
  METRO_AUTH_RATE_LIMIT_PER_MINUTE=0 METRO_REQUIRE_VERIFIED_EMAIL=false \
  bash "$root/scripts/stack.sh" start "$state" "$build" 2>/dev/null
. "$state/stack.env"
echo "# $(date -u +%Y-%m-%d) $(nproc) cores, loopback; wrk -t2 -c$conns -d${seconds}s; load generator on the same machine"

# Riders, each with a passenger profile (from user.created).
{
  echo "tokens = {"
  for i in $(seq 1 "$riders"); do
    name="bench$RANDOM$i$$"
    token=$(curl -fsS -X POST "$METRO_HTTP/v1/auth/register" -H 'Content-Type: application/json' \
      -d "{\"email\":\"$name@metro.test\",\"username\":\"$name\",\"password\":\"Saigon-Metro-2026\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}" |
      sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
    until curl -fsS "$METRO_HTTP/v1/users/me" -H "Authorization: Bearer $token" >/dev/null 2>&1; do sleep 0.05; done
    echo "  \"$token\","
  done
  echo "}"
} >"$state/tokens.lua"

journey='{"originStationId":"thao-dien","destinationStationId":"dam-sen","tripType":"return","passengers":{"adult":2,"child":1,"teenager":1}}'
purchase='{"originStationId":"thao-dien","destinationStationId":"dam-sen","tripType":"return","passengers":{"adult":2,"child":1,"teenager":1},"paymentMethod":"vnpay"}'

# mode "public": no token; "quote": a rider's token; "buy": a token and a fresh Idempotency-Key.
write_lua() { # file path body mode
  {
    cat "$state/tokens.lua"
    cat <<LUA
local path, body, mode = "$2", '$3', "$4"
local n, i, id = #tokens, 0, 0
local threads = 0
setup = function(thread) thread:set("id", threads); threads = threads + 1 end
request = function()
  i = i + 1
  local h = { ["Content-Type"] = "application/json" }
  if mode ~= "public" then h["Authorization"] = "Bearer " .. tokens[(id * 7919 + i) % n + 1] end
  if mode == "buy" then h["Idempotency-Key"] = "bench-" .. id .. "-" .. i .. "-" .. math.random(1, 1000000000) end
  return wrk.format("POST", path, h, body)
end
LUA
  } >"$1"
}
write_lua "$state/public.lua" /v1/fares:quote "$journey" public
write_lua "$state/quote.lua" /v1/tickets:quote "$journey" quote
write_lua "$state/buy.lua" /v1/tickets "$purchase" buy

run() { # label lua
  local out non2xx
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" --latency -s "$2" "$METRO_HTTP")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$rps" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")" "${non2xx:-0}"
}

# The same write as one statement: a ticket-sized row into a copy of the tickets table (same
# columns, defaults and indexes), pgbench with as many clients as wrk has connections.
psql -q "$METRO_PG_ADMIN_URL" -c "CREATE TABLE ticket.bench_tickets (LIKE ticket.tickets INCLUDING DEFAULTS INCLUDING INDEXES)"
cat >"$state/insert.sql" <<'SQL'
INSERT INTO ticket.bench_tickets (ticket_id, passenger_id, user_id, ticket_type, status, origin_station_id,
  destination_station_id, station_count, route_ids, total_passengers, original_price, passenger_discount_amount,
  promotion_discount_amount, total_price, quote, payment_method, payment_deadline, journeys_allowed)
VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'return', 'pending_payment', 'thao-dien', 'dam-sen',
  13, '{a,b,c}', 4, 204000, 51000, 0, 153000, decode(repeat('ab', 400), 'hex'), 'vnpay', now() + interval '15 minutes', 2);
SQL

curl -fsS -X POST "$METRO_HTTP/v1/fares:quote" -H 'Content-Type: application/json' -d "$journey" >/dev/null
echo
echo "| what | requests/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
run "POST /v1/fares:quote (public, cached)" "$state/public.lua"
run "POST /v1/tickets:quote (signed in: profile + planner)" "$state/quote.lua"
run "POST /v1/tickets (purchase, pending_payment, new Idempotency-Key each)" "$state/buy.lua"
buy_rps=$rps
pg=$(pgbench -n -c "$conns" -j 2 -T "$seconds" -f "$state/insert.sql" "$METRO_PG_ADMIN_URL" 2>&1)
tps=$(awk '/^tps = / {print $3}' <<<"$pg")
lat=$(awk '/latency average/ {print $4}' <<<"$pg")
printf '| pgbench: the equivalent single INSERT (%s clients) | %s | mean %sms | n/a | n/a |\n' "$conns" "$tps" "$lat"
echo
awk -v b="$buy_rps" -v t="$tps" 'BEGIN { if (t > 0) printf "purchase / single-INSERT TPS: %.2f\n", b / t }'
echo "tickets written: $(psql -tA "$METRO_PG_ADMIN_URL" -c 'SELECT count(*) FROM ticket.tickets')"
