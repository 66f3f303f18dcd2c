#!/usr/bin/env bash
# Monitoring shipped as files (monitoring/), proved with the real tools and the running stack:
# promtool checks and unit-tests the rules, amtool the Alertmanager config and its routes, the
# dashboards and the promtail config are checked by monitoring_check.py; then a real Prometheus
# scrapes every process of the stack (1 s scrapes and evaluations, the rules' `for:` cut to 1 s in
# a copy), every metric a dashboard or a rule names must be exposed, and an extra scheduler
# replica frozen with SIGSTOP must fire MetroTargetDown (and stop firing after SIGCONT).
set -euo pipefail
set -a
# shellcheck disable=SC1090
. "$METRO_TEST_ENV"
set +a
src=$METRO_SOURCE_DIR
mon=$src/monitoring
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$(bash "$src/scripts/tools.sh")
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
passed=0
check() { passed=$((passed + 1)); echo "ok - $1"; }
replica_log=$METRO_STACK_DIR/logs/scheduler-monitoring.log # beside the stack's: its sanitizer check reads it
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log "$replica_log"; do [ -e "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}
free_port() { bash "$src/scripts/free-port.sh"; }
wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "nothing listens on $1"
}

# ---- 1. the files, offline ----
"$tools/promtool" check rules "$mon"/prometheus/rules/*.yml >"$work/check-rules.log" 2>&1 || fail "promtool check rules"
check "promtool check rules: $(grep -c SUCCESS "$work/check-rules.log") files"
"$tools/promtool" test rules "$mon"/prometheus/tests/*.yml >"$work/test-rules.log" 2>&1 || fail "promtool test rules"
check "promtool test rules"
"$tools/amtool" check-config "$mon/alertmanager/alertmanager.yml" >"$work/amtool.log" 2>&1 || fail "amtool check-config"
check "amtool check-config"
routes_to() { "$tools/amtool" config routes test --config.file="$mon/alertmanager/alertmanager.yml" "$@"; }
[ "$(routes_to severity=info alertname=MetroGatewayBackendFailures)" = null ] || fail "info is not sent to null: $(routes_to severity=info)"
[ "$(routes_to severity=warning alertname=MetroJobFailing)" = team-email ] || fail "warning: $(routes_to severity=warning)"
[ "$(routes_to severity=critical alertname=MetroServiceDown)" = "oncall-webhook,team-email" ] ||
  fail "critical: $(routes_to severity=critical)"
check "routes: info to null, warning by email, critical to the on-call webhook and email"
if grep -nE '(password|secret|token|api_key|url): *[^ /#]' "$mon/alertmanager/alertmanager.yml" | grep -v '_file:'; then
  fail "a secret written in alertmanager.yml"
fi
check "no secret in alertmanager.yml (files only)"

python3 "$here/monitoring_check.py" static "$src" "$METRO_STACK_DIR/logs/auth.log" || fail "dashboards or promtail config"
check "dashboards and promtail config"

# ---- 2. a real Prometheus on the stack ----
# Each process's metrics address: METRO_<NAME>_METRICS in stack.env; else the port its run script
# exports, or (a gateway serving /metrics on its REST port) the REST address, if /metrics answers
# there (the echo service inherits a port it does not serve).
metrics_of() { # name -> host:port, empty when the process serves no metrics
  local var="METRO_${1^^}_METRICS" port addr=""
  if [ -n "${!var:-}" ]; then echo "${!var#http://}"; return; fi
  [ -f "$METRO_STACK_DIR/run/$1.sh" ] || return 0
  port=$(sed -n 's/^declare -x METRO_METRICS_PORT="\([0-9]*\)"$/\1/p' "$METRO_STACK_DIR/run/$1.sh")
  [ -z "$port" ] || [ "$port" = 0 ] || addr=127.0.0.1:$port
  [ -n "$addr" ] || [ "$1" != transcoder ] || addr=${METRO_HTTP#http://}
  if [ -n "$addr" ] && curl -fsS -m 2 -o /dev/null "http://$addr/metrics" 2>/dev/null; then echo "$addr"; fi
}

# The replica nobody else uses: a scheduler that ticks nothing, on the stack's database.
replica_grpc=$(free_port)
replica_metrics=$(free_port)
METRO_GRPC_ADDR=127.0.0.1:$replica_grpc METRO_METRICS_PORT=$replica_metrics METRO_PG_URL=$METRO_SCHEDULER_PG_URL \
  METRO_IDENTITY_SECRET=$(cat "$METRO_STACK_DIR/secrets/identity.secret") METRO_SCHEDULER_TICKER=false \
  METRO_SCHEDULER_REPLICA=monitoring-test METRO_LOG_LEVEL=warn \
  "$METRO_BUILD_DIR/svc/scheduler/metro-scheduler" >>"$replica_log" 2>&1 &
replica_pid=$!
pids+=("$replica_pid")
wait_port "$replica_metrics"
replica=127.0.0.1:$replica_metrics

{
  echo "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}"
  echo "rule_files: ['$work/rules/*.yml']"
  echo "scrape_configs:"
  targets=0
  for name in $({ sed -n 's/^METRO_\([A-Z]*\)_\(GRPC\|METRICS\)=.*/\1/p' "$METRO_TEST_ENV"; echo TRANSCODER; } | tr 'A-Z' 'a-z' | sort -u); do
    addr=$(metrics_of "$name")
    [ -n "$addr" ] || continue
    extra=""
    [ "$name" != scheduler ] || extra=", '$replica'"
    echo "  - job_name: metro-$name"
    echo "    static_configs: [{targets: ['$addr'$extra]}]"
    targets=$((targets + 1))
  done
} >"$work/prometheus.yml"
# The rules as shipped, but every `for:` 1 s and every group evaluated each second.
mkdir -p "$work/rules"
for f in "$mon"/prometheus/rules/*.yml; do
  sed -E -e 's/^( *)for: .*/\1for: 1s/' -e 's/^( *)interval: .*/\1interval: 1s/' "$f" >"$work/rules/$(basename "$f")"
done
"$tools/promtool" check config "$work/prometheus.yml" >"$work/check-config.log" 2>&1 || fail "the generated config"

prom_port=$(free_port)
prom=http://127.0.0.1:$prom_port
"$tools/prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do
  if curl -fsS "$prom/-/ready" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
curl -fsS "$prom/-/ready" >/dev/null || fail "Prometheus never became ready"
ask() { python3 "$here/monitoring_check.py" "$1" "$prom" "${@:2}"; } # value|alert|unhealthy ...

# Traffic through the gateway (REST, gRPC servers and clients), a 404 included.
for path in /v1/stations /v1/lines /v1/stations /v1/no-such-route /healthz; do
  curl -sS -o /dev/null "$METRO_HTTP$path" || true
done
expected=$((targets + 1))
for i in $(seq 1 100); do
  up=$(ask value 'count(up == 1)')
  [ "$up" = "$expected" ] && break
  [ "$i" -lt 100 ] || fail "$up of $expected targets up: $(ask unhealthy targets)"
  sleep 0.2
done
check "Prometheus scrapes all $expected targets of the stack (and the replica)"
for _ in $(seq 1 50); do
  [ "$(ask value 'count({__name__=~"http_requests_total|metro_http_requests_total"})')" != 0 ] && break
  sleep 0.2
done
sleep 2 # a second scrape of each target, and an evaluation of every group

python3 "$here/monitoring_check.py" names "$src" "$prom" ||
  fail "a dashboard or a rule names a metric the stack does not expose (see above)"
check "every metric the dashboards and rules name is exposed by the stack"
problems=$(ask unhealthy rules)
[ -z "$problems" ] || fail "$problems"
check "every rule evaluates without error"

[ -z "$(ask alert MetroTargetDown "instance=$replica")" ] || fail "MetroTargetDown before any fault"
kill -STOP "$replica_pid"
for i in $(seq 1 100); do
  [ "$(ask alert MetroTargetDown "instance=$replica")" = firing ] && break
  [ "$i" -lt 100 ] || fail "MetroTargetDown did not fire for the frozen replica"
  sleep 0.2
done
[ -z "$(ask alert MetroServiceDown job=metro-scheduler)" ] || fail "MetroServiceDown for metro-scheduler (the stack's scheduler is up)"
check "a frozen (SIGSTOP) replica fires MetroTargetDown within $((i * 200)) ms; MetroServiceDown stays silent"
kill -CONT "$replica_pid"
for i in $(seq 1 100); do
  [ -z "$(ask alert MetroTargetDown "instance=$replica")" ] && break
  [ "$i" -lt 100 ] || fail "MetroTargetDown still $(ask alert MetroTargetDown "instance=$replica") after SIGCONT"
  sleep 0.2
done
check "MetroTargetDown resolves once the replica answers again"
kill -TERM "$replica_pid"
wait "$replica_pid" || fail "the replica exited $? on SIGTERM"
pids=("${pids[@]/$replica_pid/}")

echo "$passed passed, 0 failed"
