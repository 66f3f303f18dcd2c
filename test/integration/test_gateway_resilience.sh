#!/usr/bin/env bash
# The gateway against failing backends, with real processes: two instances of a service behind
# one gateway (round robin, idempotent GETs retried) lose one to SIGKILL without a failed GET; a
# frozen service (SIGSTOP) opens its circuit (fast 503 CIRCUIT_OPEN with Retry-After), and the
# circuit closes again after SIGCONT.
set -euo pipefail
set -a
# shellcheck disable=SC1090
. "$METRO_TEST_ENV"
set +a
build=$METRO_BUILD_DIR
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
  exit 1
}
free_port() { bash "$METRO_SOURCE_DIR/scripts/free-port.sh"; }
wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "nothing listens on $1"
}

export METRO_IDENTITY_SECRET; METRO_IDENTITY_SECRET=$(cat "$METRO_STACK_DIR/secrets/identity.secret")

start_echo() { # port -> pid in $echo_pid
  METRO_GRPC_ADDR=127.0.0.1:$1 "$build/test/integration/metro-echo-test" >"$work/echo-$1.log" 2>&1 &
  echo_pid=$!
  pids+=("$echo_pid")
  wait_port "$1"
}
a_port=$(free_port)
start_echo "$a_port"
a_pid=$echo_pid
b_port=$(free_port)
start_echo "$b_port"
b_pid=$echo_pid

# A gateway of its own: short deadline, a circuit that opens after 3 failures for 1.5 s.
backends=""
for name in auth user transport ticket payment webhook notification control public scheduler management; do
  var="METRO_${name^^}_GRPC"
  backends="$backends${backends:+,}$name=${!var}"
done
http_port=$(free_port)
metrics_port=$(free_port) # its admin port: /metrics is never on the REST port
METRO_HTTP_PORT=$http_port METRO_METRICS_PORT=$metrics_port METRO_BACKENDS="$backends,testing=127.0.0.1:$a_port|127.0.0.1:$b_port" \
  METRO_BACKEND_TIMEOUT_MS=2000 METRO_BREAKER_FAILURES=3 METRO_BREAKER_OPEN_MS=1500 METRO_GATEWAY_REPORT_MS=0 \
  METRO_REDIS_PORT=$METRO_REDIS_PORT "$build/transcoder/metro-transcoder-testing" >"$work/gateway.log" 2>&1 &
pids+=("$!")
base=http://127.0.0.1:$http_port
for _ in $(seq 1 100); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null || fail "the gateway never became ready"

# 1. Two instances, one killed mid-stream: every GET still answers 200.
for _ in $(seq 1 20); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/echo?tags=warm")
  [ "$code" = 200 ] || fail "warm-up GET answered $code"
done
(
  for i in $(seq 1 300); do
    curl -s -o /dev/null -w '%{http_code}\n' "$base/v1/echo?tags=n$i"
  done
) >"$work/codes.txt" &
loop=$!
sleep 0.4
kill -KILL "$b_pid"
wait "$loop"
total=$(wc -l <"$work/codes.txt")
failed=$(grep -vc '^200$' "$work/codes.txt" || true)
echo "round robin over two instances, one SIGKILLed: $total GETs, $failed not 200"
[ "$total" = 300 ] || fail "expected 300 answers, got $total"
[ "$failed" = 0 ] || fail "$failed GETs failed after an instance died: $(sort "$work/codes.txt" | uniq -c | tr '\n' ' ')"

# 2. The remaining instance frozen: three calls time out, then the circuit is open.
kill -STOP "$a_pid"
# SIGSTOP lands asynchronously: wait until every thread of the process is stopped.
stopped=""
for _ in $(seq 1 100); do
  if ! grep -h '^State:' /proc/"$a_pid"/task/*/status | grep -qv 'T (stopped)'; then stopped=1; break; fi
  sleep 0.02
done
[ -n "$stopped" ] || fail "the echo service did not stop"
frozen=()
for i in 1 2 3; do
  curl -s -o /dev/null -w '%{http_code}\n' "$base/v1/echo?tags=frozen$i" >"$work/frozen$i.txt" &
  frozen+=("$!")
done
wait "${frozen[@]}"
for i in 1 2 3; do
  code=$(cat "$work/frozen$i.txt")
  [ "$code" = 504 ] || [ "$code" = 503 ] || fail "a call to the frozen service answered $code, expected 504"
done
start=$(date +%s%N)
curl -s -D "$work/open.headers" -o "$work/open.json" "$base/v1/echo?tags=open" || true
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q '^HTTP/1.1 503' "$work/open.headers" || fail "open circuit: expected 503, got $(head -n1 "$work/open.headers")"
grep -qi '^Retry-After: [1-9]' "$work/open.headers" || fail "open circuit: no Retry-After"
grep -q '"reason":"CIRCUIT_OPEN"' "$work/open.json" || fail "open circuit: body $(cat "$work/open.json")"
[ "$elapsed_ms" -lt 500 ] || fail "open circuit: the 503 took $elapsed_ms ms, expected an immediate answer"
echo "frozen service: 3 timeouts, then 503 CIRCUIT_OPEN in $elapsed_ms ms"
reported=""
for _ in $(seq 1 15); do # the gauges are refreshed every second
  if curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -q '^metro_gateway_breaker_state{service="testing"} 1'; then reported=1; break; fi
  sleep 0.2
done
[ -n "$reported" ] || fail "metrics: the testing breaker is not reported open"

# 3. Thawed: after the open period a probe goes through and the circuit closes.
kill -CONT "$a_pid"
ok=""
for _ in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/echo?tags=thawed")
  if [ "$code" = 200 ]; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || fail "the circuit never closed after SIGCONT"
for _ in $(seq 1 10); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/echo?tags=after")
  [ "$code" = 200 ] || fail "after recovery a GET answered $code"
done
echo "thawed service: the circuit closed again"
echo "PASS"
