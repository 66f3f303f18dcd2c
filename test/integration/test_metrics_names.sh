#!/usr/bin/env bash
# Every process of the stack on its admin port (METRO_<NAME>_METRICS in stack.env): `promtool check
# metrics` finds nothing to say; the standard names carry their labels (go-grpc-middleware's
# grpc_server_* / grpc_client_*, http_requests_total{code,method,route}, the domain counters);
# the gateway's REST port has no /metrics.
set -euo pipefail
. "$METRO_TEST_ENV"
promtool="$(bash "$METRO_SOURCE_DIR/scripts/tools.sh")/promtool"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
check() { passed=$((passed + 1)); echo "ok - $1"; }

scrape() { # NAME -> $work/NAME.prom
  local var="METRO_${1^^}_METRICS"
  [ -n "${!var:-}" ] || fail "stack.env has no $var"
  curl -fsS --max-time 10 "http://${!var}/metrics" >"$work/$1.prom" || fail "GET http://${!var}/metrics"
}
has_line() { # NAME REGEX: a sample line of NAME's scrape matches
  grep -qE "$2" "$work/$1.prom"
}
expect() { # NAME REGEX
  has_line "$1" "$2" || fail "$1: no line matches $2"
}

# Every process the stack lists, in stack.env's order.
processes=$(sed -n 's/^METRO_\([A-Z]*\)_METRICS=.*/\1/p' "$METRO_TEST_ENV" | tr 'A-Z' 'a-z')
[ "$(wc -w <<<"$processes")" -ge 13 ] || fail "stack.env lists $(wc -w <<<"$processes") metrics addresses: $processes"
grep -qw transcoder <<<"$processes" || fail "stack.env has no METRO_TRANSCODER_METRICS"
check "stack.env lists the admin port of the gateway and of every service"

# Traffic first: one public REST call (gateway -> public -> transport), and a path no route has.
code=$(curl -s -o /dev/null -w '%{http_code}' "$METRO_HTTP/v1/stations")
[ "$code" = 200 ] || fail "GET /v1/stations answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$METRO_HTTP/metrics")
[ "$code" = 404 ] || fail "GET /metrics on the REST port answered $code, expected 404"
check "the REST port answers 404 for /metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$METRO_TRANSCODER_METRICS/readyz")
[ "$code" = 200 ] || fail "GET /readyz on the gateway's admin port answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$METRO_HTTP/healthz")
[ "$code" = 200 ] || fail "GET /healthz on the REST port answered $code (probes and nginx use it)"
check "/healthz and /readyz answer on the REST port and the admin port"

# promtool: a parse error or a lint problem (names, suffixes, units, help, duplicates) fails.
for p in $processes; do
  scrape "$p"
  out=$("$promtool" check metrics <"$work/$p.prom" 2>&1) || fail "$p: promtool check metrics: $out"
  [ -z "$out" ] || fail "$p: promtool check metrics printed: $out"
done
check "promtool check metrics is clean on all $(wc -w <<<"$processes") processes"

# The gateway: http_* with code, method and the matched template; its client calls.
route='route="/v1/stations"'
labels='grpc_type="unary",grpc_service="metro.public.v1.PublicService",grpc_method="ListStations"'
expect transcoder "^http_requests_total\{code=\"200\",method=\"GET\",$route\} [1-9]"
expect transcoder '^http_requests_total\{code="404",method="GET",route="unmatched"\} [1-9]'
expect transcoder "^http_request_duration_seconds_bucket\{method=\"GET\",$route,le=\"\\+Inf\"\} [1-9]"
expect transcoder "^http_request_duration_seconds_count\{method=\"GET\",$route\} [1-9]"
expect transcoder "^grpc_client_started_total\{$labels\} [1-9]"
expect transcoder "^grpc_client_handled_total\{$labels,grpc_code=\"OK\"\} [1-9]"
expect transcoder "^grpc_client_handling_seconds_bucket\{$labels,le=\"\\+Inf\"\} [1-9]"
expect transcoder "^grpc_client_msg_sent_total\{$labels\} [1-9]"
expect transcoder "^grpc_client_msg_received_total\{$labels\} [1-9]"
grep -q '^metro_http_requests_total\|^metro_http_request_seconds' "$work/transcoder.prom" &&
  fail "transcoder: the old metro_http_* names are still there"
check "gateway: http_requests_total{code,method,route} and grpc_client_* of ListStations"

# The public service: the server side of that call (counted when its status is out: retry).
for _ in $(seq 1 50); do
  scrape public
  has_line public "^grpc_server_handled_total\{$labels,grpc_code=\"OK\"\} [1-9]" && break
  sleep 0.1
done
for m in started_total msg_received_total msg_sent_total; do expect public "^grpc_server_$m\{$labels\} [1-9]"; done
expect public "^grpc_server_handled_total\{$labels,grpc_code=\"OK\"\} [1-9]"
expect public "^grpc_server_handling_seconds_bucket\{$labels,le=\"0.0005\"\} [0-9]"
expect public "^grpc_server_handling_seconds_sum\{$labels\} "
check "public: grpc_server_handled_total{...,grpc_code=\"OK\"} and the other server series"

# An error code by grpc-go's name: the health check of a service the server does not have.
grpcurl="$(dirname "$promtool")/grpcurl"
"$grpcurl" -plaintext -d '{"service":"no.such.Service"}' "$METRO_AUTH_GRPC" grpc.health.v1.Health/Check >/dev/null 2>&1 || true
health='grpc_type="unary",grpc_service="grpc.health.v1.Health",grpc_method="Check"'
for _ in $(seq 1 50); do
  scrape auth
  has_line auth "^grpc_server_handled_total\{$health,grpc_code=\"NotFound\"\} [1-9]" && break
  sleep 0.1
done
expect auth "^grpc_server_handled_total\{$health,grpc_code=\"NotFound\"\} [1-9]"
grep -qE 'grpc_code="[A-Z]+_[A-Z_]+"' "$work/auth.prom" && fail "auth: a grpc_code in UPPER_SNAKE_CASE"
check "codes by grpc-go's name (NotFound), not UPPER_SNAKE_CASE"

# Every service: each of its methods at zero from the start, reflection as a bidi stream.
for p in $processes; do
  [ "$p" = transcoder ] && continue
  scrape "$p"
  for m in started_total handled_total msg_received_total msg_sent_total; do
    expect "$p" "^# TYPE grpc_server_$m counter$"
  done
  expect "$p" '^# TYPE grpc_server_handling_seconds histogram$'
  expect "$p" "^grpc_server_started_total\{$health\} "
  expect "$p" '^grpc_server_started_total\{grpc_type="bidi_stream",grpc_service="grpc.reflection.v1.ServerReflection",grpc_method="ServerReflectionInfo"\} '
  grep -q '^metro_grpc_server_handled_total\|^metro_grpc_server_handling_seconds' "$work/$p.prom" &&
    fail "$p: the old metro_grpc_server_* names are still there"
done
check "every service: grpc_server_* for every method, the old names gone"

# Client calls between services: public fetched the stations from transport.
expect public '^grpc_client_handled_total\{grpc_type="unary",grpc_service="metro.transport.v1.TransportService",grpc_method="[A-Za-z]+",grpc_code="OK"\} [1-9]'

check "service-to-service calls count as grpc_client_*"

# Domain counters, each in the process that owns it.
expect ticket '^# TYPE metro_tickets_sold_total counter$'
expect ticket '^metro_taps_total\{direction="entry",outcome="accepted",reason=""\} '
expect ticket '^metro_taps_total\{direction="exit",outcome="accepted",reason=""\} '
expect payment '^# TYPE metro_payments_total counter$'
for o in sent failed; do
  expect notification "^metro_emails_total\{outcome=\"$o\"\} "
  expect notification "^metro_sms_total\{outcome=\"$o\"\} "
done
expect scheduler '^# TYPE metro_job_runs_total counter$'
expect scheduler '^# TYPE metro_job_run_duration_seconds histogram$'
for p in auth user transport ticket payment webhook report control; do
  expect "$p" '^metro_outbox_pending [0-9]'
  expect "$p" '^metro_outbox_lag_seconds [0-9]'
done
check "domain counters: tickets sold, taps, payments, emails, SMS, job runs, outbox lag"

# Their label sets (other tests' sales and taps may or may not have run before this one).
sold=$(grep -c '^metro_tickets_sold_total{ticket_type="[a-z_]*",payment_method="[a-z]*"} ' "$work/ticket.prom" || true)
taps=$(grep -cE '^metro_taps_total\{direction="(entry|exit)",outcome="(accepted|refused)",reason="[A-Z_]*"\} ' "$work/ticket.prom" || true)
[ "$taps" -ge 2 ] || fail "ticket: metro_taps_total lines are not {direction,outcome,reason}"
grep -E '^metro_taps_total\{[^}]*outcome="accepted",reason="[^"]' "$work/ticket.prom" && fail "ticket: an accepted tap with a reason"
echo "ticket: $sold metro_tickets_sold_total series, $taps metro_taps_total series"
check "ticket counters carry bounded labels"

echo "$passed passed, 0 failed"
