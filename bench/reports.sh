#!/usr/bin/env bash
# Measures the report service's analytics over a month of facts (issue 13): TAPS ticket.used facts,
# TICKETS tickets with their lines and payments (~2% refunded) written straight into the read model
# (schema report) for last month, the tap rollup rebuilt, then GET /v1/reports/analytics through
# the gateway (monthly: the goal is under 200 ms; weekly; daily), and EXPLAIN (ANALYZE, BUFFERS) of
# each query of a monthly call (their SQL read from svc/report/analytics.c) next to the top
# stations counted straight from the taps (what the hourly rollup buys).
# usage: bench/reports.sh [BUILD_DIR]   (TAPS=1000000, TICKETS=100000, ROUNDS=20, MONTH=YYYY-MM;
#        STACK=DIR: use the stack running in DIR (its stack.env; admin METRO_ADMIN_EMAIL and
#        METRO_ADMIN_PASSWORD) instead of starting one: it is left running, with the facts)
#
# The facts (all in SQL as the PostgreSQL superuser, ids prefixed "bench-", earlier bench rows
# deleted first): TAPS/2 journeys, each an entry and, 8-58 minutes later, an exit at another
# station that completed the journey on 1 line (70%) or 2; days weighted 5 (Mon-Fri) to 3
# (Sat, Sun), entries 05:00-22:59 local weighted to the 07-09 and 17-19 rushes; stations from
# transport.stations skewed so some are busier; 0.5% of exits with a fare adjustment. Each
# journey rides one of the TICKETS tickets (40% oneway, 25% return, day, weekly and monthly
# passes), each created in the month with 1-2 line segments (passes none), paid once by vnpay,
# sepay or paypal, 2% refunded in full. hourly gets its tap rows from report.rebuild_hourly_taps()
# and its tickets_created rows recomputed from tickets for the month (what the consumer adds).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
taps=${TAPS:-1000000}
tickets=${TICKETS:-100000}
rounds=${ROUNDS:-20}
warmups=3
for n in "$taps" "$tickets" "$rounds"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "reports.sh: TAPS, TICKETS, ROUNDS are positive integers" >&2; exit 2; }
done
[ $((taps % 2)) -eq 0 ] || { echo "reports.sh: TAPS must be even (an entry and an exit a journey)" >&2; exit 2; }
for tool in psql curl jq; do command -v "$tool" >/dev/null || { echo "reports.sh: $tool not found" >&2; exit 1; }; done

export METRO_ADMIN_EMAIL=${METRO_ADMIN_EMAIL:-admin@metro.bench} METRO_ADMIN_PASSWORD=${METRO_ADMIN_PASSWORD:-'Bench-Adm1n!Passw0rd'}
work=$(mktemp -d /tmp/metro-reports-bench.XXXXXX) # the stack; call timings, the queries and their plans
# Open to the postgres user, so the cluster (~0.5 GB with the facts) lives in it and goes with it.
chmod 755 "$work"
state=${STACK:-$work/stack}
trap '[ -n "${STACK:-}" ] || bash "$root/scripts/stack.sh" stop "$state" >/dev/null 2>&1; rm -rf "$work"' EXIT
if [ -z "${STACK:-}" ]; then
  # The gateway's and the services' deadlines are raised so that a slow analytics call is
  # measured, not cut at 15 s.
  METRO_ADMIN_USERNAME=admin METRO_BACKEND_TIMEOUT_MS=120000 METRO_DEFAULT_TIMEOUT_MS=120000 METRO_STACK_FREE_PORTS=1 \
    METRO_LOG_LEVEL=warn METRO_DEMO_TRIP_DAYS=0 METRO_SCHEDULER_TICKER=false \
    bash "$root/scripts/stack.sh" start "$state" "$build" 2>/dev/null
fi
. "$state/stack.env"
token=$(curl -fsS -X POST "$METRO_HTTP/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"login\":\"$METRO_ADMIN_EMAIL\",\"password\":\"$METRO_ADMIN_PASSWORD\"}" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/')

# The month (default: the previous one in Asia/Ho_Chi_Minh), its bounds in unix seconds, and the
# day (the 15th) whose ISO week and day are timed too: both inside the month.
month=${MONTH:-$(TZ=Asia/Ho_Chi_Minh date -d "$(TZ=Asia/Ho_Chi_Minh date +%Y-%m-01) -1 month" +%Y-%m)}
first=$month-01
start_unix=$(TZ=Asia/Ho_Chi_Minh date -d "$first" +%s)
end_unix=$(TZ=Asia/Ho_Chi_Minh date -d "$first +1 month" +%s)
mid=$month-15

q() { psql -X -q -v ON_ERROR_STOP=1 -v month="$first" -v journeys=$((taps / 2)) -v tickets="$tickets" "$METRO_PG_ADMIN_URL" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

echo "# $(date -u +%Y-%m-%d) $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), loopback;" \
  "$(basename "$build"); PostgreSQL $(q -tA -c 'SHOW server_version'); month $month: $taps taps, $tickets tickets"
echo

# Every phase in one session of its own: SET search_path because report.rebuild_hourly_taps()
# and report.report_hour() name their tables and functions unqualified.
t0=$(now)
q <<'SQL'
SET search_path = report;
DELETE FROM money WHERE ticket_id LIKE 'bench-%';
DELETE FROM tickets WHERE ticket_id LIKE 'bench-%';
DELETE FROM taps WHERE ticket_id LIKE 'bench-%';
VACUUM taps, tickets, ticket_lines, money; -- a run again on the same stack reuses the space
SQL
t_clear=$(since "$t0")

# A ticket's type by its number k (shared by the tickets and the taps that ride them).
ticket_types="CREATE TEMP TABLE bench_types AS
  SELECT s - 1 AS slot, (ARRAY['oneway', 'oneway', 'oneway', 'oneway', 'oneway', 'oneway', 'oneway', 'oneway',
                               'return', 'return', 'return', 'return', 'return', 'day_pass', 'day_pass', 'day_pass',
                               'weekly_pass', 'weekly_pass', 'monthly_pass', 'monthly_pass'])[s] AS ticket_type
  FROM generate_series(1, 20) s;"
# The month's local day offsets weighted by weekday, and local hours weighted to the rushes:
# draw one with arr[1 + floor(random() * cardinality(arr))].
weights="CREATE TEMP TABLE bench_weights AS SELECT
  (SELECT array_agg(d ORDER BY d) FROM generate_series(0, ((date '$first' + interval '1 month')::date - date '$first') - 1) d,
     generate_series(1, CASE WHEN extract(isodow FROM date '$first' + d) >= 6 THEN 3 ELSE 5 END)) AS days,
  (SELECT array_agg(h ORDER BY h) FROM (VALUES (5, 2), (6, 6), (7, 14), (8, 12), (9, 6), (10, 4), (11, 4), (12, 4),
     (13, 4), (14, 4), (15, 4), (16, 6), (17, 12), (18, 14), (19, 8), (20, 5), (21, 3), (22, 2)) w(h, n),
     generate_series(1, n)) AS hours,
  (SELECT array_agg(station_id ORDER BY station_id) FROM transport.stations WHERE is_active) AS stations,
  (SELECT array_agg(route_id ORDER BY position) FROM transport.lines WHERE is_active) AS lines;"

t0=$(now)
q <<SQL
SET search_path = report;
$ticket_types
$weights
-- One row a journey: its random draws first (a subquery with random() is evaluated once a row).
CREATE TEMP TABLE bench_journeys AS
SELECT g, 'bench-t-' || (g % :tickets) AS ticket_id, ty.ticket_type,
       (date :'month' + w.days[1 + floor(r_day * cardinality(w.days))::int])::timestamp
         + make_interval(hours => w.hours[1 + floor(r_hour * cardinality(w.hours))::int]) + r_min * interval '1 hour'
         AS entry_local,
       (8 + r_ride * 50) * interval '1 minute' AS ride,
       w.stations[o] AS origin,
       w.stations[1 + (o + floor(r_dest * (cardinality(w.stations) - 1))::int) % cardinality(w.stations)] AS destination,
       CASE WHEN r_two < 0.3 AND cardinality(w.lines) > 1
            THEN ARRAY[w.lines[l1], w.lines[1 + (l1 + floor(r_l2 * (cardinality(w.lines) - 1))::int) % cardinality(w.lines)]]
            ELSE ARRAY[w.lines[l1]] END AS route_ids,
       CASE WHEN r_adj < 0.005 THEN (ARRAY[5000, 10000, 15000, 20000])[1 + floor(r_amt * 4)::int] ELSE 0 END AS adjustment
FROM (SELECT g, random() AS r_day, random() AS r_hour, random() AS r_min, random() AS r_ride, random() AS r_dest,
             random() AS r_two, random() AS r_l2, random() AS r_adj, random() AS r_amt,
             1 + floor((SELECT cardinality(stations) FROM bench_weights) * random() ^ 1.5)::int AS o,
             1 + floor((SELECT cardinality(lines) FROM bench_weights) * random())::int AS l1
      FROM generate_series(0, :journeys - 1) g) r
CROSS JOIN bench_weights w
JOIN bench_types ty ON ty.slot = (g % :tickets) % 20;
INSERT INTO taps (event_id, tap_at, ticket_id, ticket_type, station_id, direction, journey_completed, route_ids,
                  fare_adjustment_vnd)
SELECT gen_random_uuid(), (entry_local + CASE WHEN d.exit THEN ride ELSE interval '0' END) AT TIME ZONE 'Asia/Ho_Chi_Minh',
       ticket_id, ticket_type, CASE WHEN d.exit THEN destination ELSE origin END,
       CASE WHEN d.exit THEN 'exit' ELSE 'entry' END, d.exit,
       CASE WHEN d.exit THEN route_ids ELSE '{}' END, CASE WHEN d.exit THEN adjustment ELSE 0 END
FROM bench_journeys CROSS JOIN (VALUES (false), (true)) d(exit);
SQL
t_taps=$(since "$t0")

t0=$(now)
q <<SQL
SET search_path = report;
$ticket_types
$weights
CREATE TEMP TABLE bench_tickets AS
SELECT k, 'bench-t-' || k AS ticket_id, ticket_type, method, created_at, refunded, route1, route2, seg1, seg2,
       CASE ticket_type WHEN 'day_pass' THEN 20000 WHEN 'weekly_pass' THEN 80000 WHEN 'monthly_pass' THEN 300000
            WHEN 'return' THEN 2 * (seg1 + coalesce(seg2, 0)) ELSE seg1 + coalesce(seg2, 0) END AS amount
FROM (SELECT k, ty.ticket_type,
             CASE WHEN r_method < 0.5 THEN 'vnpay' WHEN r_method < 0.85 THEN 'sepay' ELSE 'paypal' END AS method,
             ((date :'month' + w.days[1 + floor(r_day * cardinality(w.days))::int])::timestamp
               + make_interval(hours => w.hours[1 + floor(r_hour * cardinality(w.hours))::int]) + r_min * interval '1 hour')
               AT TIME ZONE 'Asia/Ho_Chi_Minh' AS created_at,
             r_refund < 0.02 AS refunded,
             w.lines[l1] AS route1,
             CASE WHEN r_two < 0.3 AND cardinality(w.lines) > 1
                  THEN w.lines[1 + (l1 + floor(r_l2 * (cardinality(w.lines) - 1))::int) % cardinality(w.lines)] END AS route2,
             (ARRAY[6000, 8000, 10000, 12000])[1 + floor(r_seg1 * 4)::int] AS seg1,
             CASE WHEN r_two < 0.3 AND cardinality(w.lines) > 1 THEN (ARRAY[6000, 8000, 10000])[1 + floor(r_seg2 * 3)::int] END AS seg2
      FROM (SELECT k, random() AS r_method, random() AS r_day, random() AS r_hour, random() AS r_min, random() AS r_refund,
                   random() AS r_two, random() AS r_l2, random() AS r_seg1, random() AS r_seg2,
                   1 + floor((SELECT cardinality(lines) FROM bench_weights) * random())::int AS l1
            FROM generate_series(0, :tickets - 1) k) r
      CROSS JOIN bench_weights w
      JOIN bench_types ty ON ty.slot = k % 20) t;
INSERT INTO tickets (ticket_id, ticket_type, payment_method, amount, user_id, created_at)
  SELECT ticket_id, ticket_type, method, amount, 'bench-u-' || (k % 20000), created_at FROM bench_tickets;
INSERT INTO ticket_lines (ticket_id, seq, route_id, segment_price)
  SELECT ticket_id, 0, route1, seg1 FROM bench_tickets WHERE ticket_type NOT LIKE '%\_pass'
  UNION ALL
  SELECT ticket_id, 1, route2, seg2 FROM bench_tickets WHERE ticket_type NOT LIKE '%\_pass' AND route2 IS NOT NULL;
-- payment.completed a few seconds after the purchase; payment.refunded (no method: the query takes
-- its payment's) 1-72 hours later, within the month.
INSERT INTO money (event_id, kind, at, ticket_id, payment_id, method, amount)
  SELECT gen_random_uuid(), 'payment', created_at + (5 + random() * 115) * interval '1 second', ticket_id,
         'bench-p-' || k, method, amount
  FROM bench_tickets;
INSERT INTO money (event_id, kind, at, ticket_id, payment_id, method, amount)
  SELECT gen_random_uuid(), 'refund',
         least(created_at + (1 + random() * 71) * interval '1 hour',
               ((date :'month' + interval '1 month')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh') - interval '1 second'),
         ticket_id, 'bench-p-' || k, '', -amount
  FROM bench_tickets WHERE refunded;
-- The consumer's tickets_created counts for the month, recomputed from every ticket of the month.
DELETE FROM hourly WHERE metric = 'tickets_created'
  AND hour >= (date :'month')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
  AND hour < (date :'month' + interval '1 month')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh';
INSERT INTO hourly (hour, metric, key, n, amount)
  SELECT report_hour(created_at), 'tickets_created', ticket_type, count(*), 0 FROM tickets
  WHERE created_at >= (date :'month')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
    AND created_at < (date :'month' + interval '1 month')::timestamp AT TIME ZONE 'Asia/Ho_Chi_Minh'
  GROUP BY 1, 3;
SQL
t_tickets=$(since "$t0")

t0=$(now)
q -c 'SELECT report.rebuild_hourly_taps()' -c 'SELECT report.rebuild_revenue()' >/dev/null
t_rollup=$(since "$t0")
t0=$(now)
# What autovacuum would have done by the time anyone asks for last month's report.
q -c 'VACUUM ANALYZE report.taps, report.hourly, report.tickets, report.ticket_lines, report.money'
t_analyze=$(since "$t0")

counts=$(q -tA -F'|' -c "SELECT (SELECT count(*) FROM report.taps), (SELECT count(*) FROM report.tickets),
  (SELECT count(*) FROM report.ticket_lines), (SELECT count(*) FROM report.money),
  (SELECT count(*) FROM report.money WHERE kind = 'refund'), (SELECT count(*) FROM report.hourly),
  (SELECT count(*) FROM report.hourly WHERE hour >= to_timestamp($start_unix) AND hour < to_timestamp($end_unix)),
  pg_size_pretty(pg_total_relation_size('report.taps')), pg_size_pretty(pg_total_relation_size('report.hourly'))")
IFS='|' read -r n_taps n_tickets n_lines n_money n_refunds n_hourly n_hourly_month taps_size hourly_size <<<"$counts"

echo "Rows: taps $n_taps ($taps_size), tickets $n_tickets, ticket_lines $n_lines, money $n_money ($n_refunds refunds)," \
  "hourly $n_hourly ($n_hourly_month in $month; $hourly_size)"
echo
echo "| generation phase | s |"
echo "|---|---:|"
echo "| delete earlier bench rows | $t_clear |"
echo "| $((taps / 2)) journeys -> $taps taps | $t_taps |"
echo "| $tickets tickets, their lines, payments and refunds; tickets_created rollup | $t_tickets |"
echo "| report.rebuild_hourly_taps() and report.rebuild_revenue() | $t_rollup |"
echo "| VACUUM ANALYZE | $t_analyze |"
echo "| total | $(echo "$t_clear $t_taps $t_tickets $t_rollup $t_analyze" | awk '{ printf "%.1f", $1 + $2 + $3 + $4 + $5 }') |"
echo

# The figures the monthly call answers, against the facts.
answer=$(curl -fsS "$METRO_HTTP/v1/reports/analytics?period=monthly&date=$first" -H "Authorization: Bearer $token")
jq -r '"Monthly answer (\(.startDate)..\(.endDate), \(.granularity), \(.series | length) points): taps \(.totals.taps),"
  + " completed journeys \(.totals.ticketsUsed), fare adjustments \(.totals.fareAdjustments) (\(.totals.fareAdjustmentsVnd) VND),"
  + " revenue \(.totals.revenueVnd) VND (refunds \(.totals.refundsVnd)); busiest \(.topStations[0].name) \(.topStations[0].count),"
  + " lines \([.topLines[] | "\(.key) \(.count)"] | join(", "))"' <<<"$answer"
echo "(${#answer} bytes of JSON)"
echo

# The report service's own time for GetAnalytics (its gRPC handling histogram): sum and count.
report_metrics=$(sed -n 's/^declare -x METRO_METRICS_PORT="\([0-9]*\)"$/\1/p' "$state/run/report.sh")
handling() {
  curl -fsS "http://127.0.0.1:$report_metrics/metrics" |
    awk '/^grpc_server_handling_seconds_(sum|count)\{grpc_type="unary",grpc_service="metro.report.v1.ReportService",grpc_method="GetAnalytics"\}/ {
           if ($1 ~ /_sum/) s = $2; else c = $2 } END { printf "%s %s\n", s + 0, c + 0 }'
}
time_calls() { # label period date: warm-up calls, then timed ones: min, median, p95 (nearest rank), max in
  # ms of the answers 200, the other answers, and the service's mean handling time over the timed calls
  local url="$METRO_HTTP/v1/reports/analytics?period=$2&date=$3" i s0 c0 s1 c1
  for i in $(seq 1 "$warmups"); do curl -sS -o /dev/null "$url" -H "Authorization: Bearer $token" || true; done
  read -r s0 c0 <<<"$(handling)"
  for i in $(seq 1 "$rounds"); do
    curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' "$url" -H "Authorization: Bearer $token" || true
  done >"$work/times"
  read -r s1 c1 <<<"$(handling)"
  sort -k2,2g "$work/times" | awk -v label="$1" -v s="$(awk -v a="$s0" -v b="$s1" -v m="$c0" -v n="$c1" \
    'BEGIN { if (n > m) printf "%.1f", (b - a) * 1000 / (n - m); else print "n/a" }')" '
    $1 == 200 { t[++n] = $2 * 1000; next } { other[$1]++ }
    END { for (c in other) bad = bad (bad ? ", " : "") other[c] " x " c;
          if (!n) { printf "| %s | - | - | - | - | %s | %s |\n", label, bad, s; exit }
          p95 = int(0.95 * n + 0.999999);
          median = n % 2 ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2;
          printf "| %s | %.1f | %.1f | %.1f | %.1f | %s | %s |\n", label, t[1], median, t[p95], t[n], bad ? bad : 0, s }'
}
echo "GET /v1/reports/analytics through the gateway, $warmups warm-up then $rounds timed calls each (curl time_total):"
echo
echo "| period | min ms | median ms | p95 ms | max ms | not 200 | service's mean handling ms |"
echo "|---|---:|---:|---:|---:|---|---:|"
time_calls "monthly ($month)" monthly "$first"
time_calls "weekly (ISO week of $mid)" weekly "$mid"
time_calls "daily ($mid, hourly series)" daily "$mid"
echo

# Where a monthly call's time goes: each query of svc/report/analytics.c (the SQL text of the
# pg_exec call in each query_* function, read from the source so it stays the service's own; the
# binary under test should be built from it) prepared with the month's parameters ($1 start, $2 end,
# $3 the series step, as the service passes them) and run once under EXPLAIN (ANALYZE, BUFFERS).
queries=$(python3 - "$root/svc/report/analytics.c" "$work" <<'PY'
import re, sys
src, out = open(sys.argv[1]).read(), sys.argv[2]
literal = r'"(?:[^"\\]|\\.)*"'
unescape = lambda s: re.sub(r'\\(.)', lambda m: {'n': '\n', 't': '\t'}.get(m.group(1), m.group(1)), s[1:-1])
for fn in re.finditer(r'^static rpc_status (query_\w+)\(', src, re.M):
    body = src[fn.end():src.find('\n}\n', fn.end())]
    m = re.search(r'pg_exec\(\s*ctx->arena,\s*&\w+,\s*((?:' + literal + r'\s*)+),', body)
    if m:
        open(f'{out}/{fn.group(1)}.sql', 'w').write(''.join(unescape(l) for l in re.findall(literal, m.group(1))))
        print(fn.group(1))
PY
)
[ -n "$queries" ] || { echo "reports.sh: no query_* SQL found in svc/report/analytics.c" >&2; exit 1; }
explain() { # name: the plan of that query for the month
  local sql params args
  sql=$(cat "$work/$1.sql")
  params=$(grep -o '\$[0-9]' <<<"$sql" | tr -d '$' | sort -n | tail -1)
  args=$(echo "$start_unix $end_unix 86400" | cut -d' ' -f"1-$params" | tr ' ' ,)
  q -c 'SET search_path = report' -c 'SET jit = off' -c "PREPARE bench_q AS $sql" -c "EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_q($args)"
}
echo "The queries of one monthly call, each run once here (EXPLAIN ANALYZE; JIT: compilation time inside it):"
echo
echo "| query (svc/report/analytics.c) | execution ms | of which JIT ms | shared buffers hit | rows scanned at the bottom |"
echo "|---|---:|---:|---:|---|"
slowest="" slowest_ms=0
for name in $queries; do
  explain "$name" >"$work/$name.plan"
  ms=$(sed -n 's/^ *Execution Time: \([0-9.]*\) ms/\1/p' "$work/$name.plan")
  jit=$(sed -n 's/^ *Timing: .*Total \([0-9.]*\) ms/\1/p' "$work/$name.plan")
  hit=$(sed -n 's/^ *Buffers: shared hit=\([0-9]*\).*/\1/p' "$work/$name.plan" | head -1)
  # "Seq Scan on money: 3398 rows x 150 loops; ..." for every scan node of the plan
  scans=$(grep -oE '(Seq|Index|Index Only|Bitmap Heap) Scan (using [a-z_]+ )?on [a-z_]+( [a-z_0-9]+)? .*actual time=[0-9.]+\.\.[0-9.]+ rows=[0-9]+ loops=[0-9]+' "$work/$name.plan" |
    sed -E 's/ +\(cost=[^)]*\)//; s/ \(actual time=[0-9.]+\.\.[0-9.]+ rows=([0-9]+) loops=([0-9]+)/: \1 rows x \2 loops/' |
    paste -sd ';' | sed 's/;/; /g')
  echo "| $name | $ms | ${jit:-0} | ${hit:-0} | $scans |"
  if awk -v a="$ms" -v b="$slowest_ms" 'BEGIN { exit !(a > b) }'; then slowest=$name slowest_ms=$ms; fi
done
echo
echo "EXPLAIN (ANALYZE, BUFFERS) of query_rollup, the monthly totals, top lists and revenue over the hourly rollup:"
echo
sed 's/^/    /' "$work/query_rollup.plan"
if [ "$slowest" != query_rollup ]; then
  echo
  echo "EXPLAIN (ANALYZE, BUFFERS) of $slowest, the slowest of the month's queries:"
  echo
  sed 's/^/    /' "$work/$slowest.plan"
fi
echo
raw_taps() {
  q -c "EXPLAIN (ANALYZE, BUFFERS)
SELECT station_id, count(*) FROM report.taps
WHERE tap_at >= to_timestamp($start_unix) AND tap_at < to_timestamp($end_unix)
GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
}
cold=$(raw_taps | sed -n 's/^ *Execution Time: \([0-9.]*\) ms/\1/p')
echo "EXPLAIN (ANALYZE, BUFFERS): the top 10 stations of the month straight from the taps (no rollup);" \
  "first run $cold ms, the plan of the second:"
echo
raw_taps | sed 's/^/    /'
