#!/usr/bin/env bash
# Starts or stops the whole Metro stack on loopback for `make run` and the integration
# tests: PostgreSQL, Redis, a schema and role per service, keys, every service, the gateway.
set -euo pipefail

usage() {
  cat >&2 <<USAGE
usage: $0 start DIR BUILD_DIR | stop DIR
  DIR        state: databases, keys, logs, pids and DIR/stack.env (the addresses)
  BUILD_DIR  where the metro-* binaries were built
Environment:
  METRO_STACK_FREE_PORTS=1  pick free ports (tests) instead of the documented defaults
  METRO_STACK_TESTING=1     also start the test echo service behind metro-transcoder-testing
  METRO_HTTP_PORT           REST port (default 8080)
  METRO_TRANSCODER_METRICS_PORT  the gateway's admin port: /metrics, /healthz, /readyz (default 9100)
  METRO_ADMIN_EMAIL, METRO_ADMIN_PASSWORD, METRO_ADMIN_USERNAME  bootstrap admin
  MAILPIT_SMTP_PORT, MAILPIT_HTTP_PORT  Mailpit's ports (Mailpit, which catches every email,
                            always runs; default 1025 and 8025, free ones with METRO_STACK_FREE_PORTS)
  METRO_STACK_PROVIDERS=1   also start the payment-provider emulators (test/providers) and
                            point the payment and webhook services at them
  METRO_STACK_MANAGEMENT_EXTRA  more METRO_MANAGEMENT_SERVICES entries for metro-management
                            ("public=127.0.0.1:1": an instance nothing answers at, for tests)
USAGE
  exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# The services, started in this order: name|gRPC port|metrics port|binary under BUILD_DIR.
# A new service adds one row.
service_table=(
  "auth|50051|9101|svc/auth/metro-auth"
  "user|50052|9102|svc/user/metro-user"
  "transport|50053|9103|svc/transport/metro-transport"
  "ticket|50054|9104|svc/ticket/metro-ticket"
  "payment|50056|9106|svc/payment/metro-payment"
  "webhook|50057|9107|svc/webhook/metro-webhook"
  "notification|50058|9108|svc/notification/metro-notification"
  "control|50060|9110|svc/control/metro-control"
  "report|50059|9109|svc/report/metro-report"
  "public|50055|9105|svc/public/metro-public"
  "scheduler|50061|9111|svc/scheduler/metro-scheduler"
  "management|50062|9112|svc/management/metro-management"
)
services=()
for row in "${service_table[@]}"; do services+=("${row%%|*}"); done

port_for() { # name default; a free port is never handed out twice in one stack (the gateway's is
  # chosen first but bound last, and the kernel may offer it again meanwhile)
  if [ "${METRO_STACK_FREE_PORTS:-0}" != 1 ]; then echo "$2"; return; fi
  local p
  mkdir -p "$dir"
  touch "$dir/ports.used"
  for _ in $(seq 1 20); do
    p=$("$here/free-port.sh")
    grep -qx "$p" "$dir/ports.used" || break
  done
  echo "$p" >>"$dir/ports.used"
  echo "$p"
}

stop_pid() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop_all() {
  for f in "$dir"/pids/*.pid; do [ -e "$f" ] && stop_pid "$f"; done
  [ -d "$dir/providers" ] && "$here/providers.sh" stop "$dir/providers" >/dev/null 2>&1 || true
  [ -d "$dir/mailpit" ] && "$here/mailpit.sh" stop "$dir/mailpit" >/dev/null 2>&1 || true
  [ -d "$dir/redis" ] && "$here/redis.sh" stop "$dir/redis" >/dev/null 2>&1 || true
  [ -d "$dir/pg" ] && "$here/pg.sh" stop "$dir/pg" >/dev/null 2>&1 || true
}

# start_process NAME BINARY: runs it in the background with the current environment, and
# writes DIR/run/NAME.sh, which starts it again the same way (tests restart services with it).
start_process() {
  local name=$1 bin=$2
  mkdir -p "$dir/run"
  (
    umask 077
    {
      echo "#!/usr/bin/env bash"
      echo "# Starts $name again as scripts/stack.sh did (its environment holds secrets: mode 0700)."
      export -p
      echo "echo \$\$ >'$dir/pids/$name.pid'"
      echo "exec '$bin' >>'$dir/logs/$name.log' 2>&1"
    } >"$dir/run/$name.sh"
  )
  chmod 700 "$dir/run/$name.sh"
  "$bin" >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
}

wait_grpc() { # name port
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "$(cat "$dir/pids/$1.pid")" 2>/dev/null || { echo "stack: $1 exited; see $dir/logs/$1.log" >&2; tail -n 20 "$dir/logs/$1.log" >&2; return 1; }
    sleep 0.1
  done
  echo "stack: $1 did not start listening on $2" >&2
  return 1
}

case $cmd in
start)
  [ $# -eq 3 ] || usage
  build=$(realpath -- "$3")
  mkdir -p "$dir/logs" "$dir/pids"
  chmod 755 "$dir"
  "$here/pg.sh" start "$dir/pg" >/dev/null
  # shellcheck disable=SC1091
  . "$dir/pg/env"
  "$here/redis.sh" start "$dir/redis" >/dev/null
  # shellcheck disable=SC1091
  . "$dir/redis/env.redis"
  declare -A pg_url
  provisioned=("${services[@]}")
  # Tests: the event probe (test/integration/event_probe.c) gets a schema and role like a service.
  [ "${METRO_STACK_TESTING:-0}" != 1 ] || provisioned+=(probe)
  while read -r name url; do pg_url[$name]=$url; done < <("$here/pg-provision.sh" "$METRO_PG_ADMIN_URL" "$dir/secrets" "${provisioned[@]}")

  mkdir -p "$dir/secrets"
  chmod 700 "$dir/secrets"
  [ -s "$dir/secrets/jwt-ed25519.pem" ] || (umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/secrets/jwt-ed25519.pem")
  [ -s "$dir/secrets/qr-ed25519.pem" ] || (umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/secrets/qr-ed25519.pem")
  [ -s "$dir/secrets/identity.secret" ] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/secrets/identity.secret")

  export METRO_IDENTITY_SECRET; METRO_IDENTITY_SECRET=$(cat "$dir/secrets/identity.secret")
  export METRO_REDIS_HOST=$REDIS_HOST METRO_REDIS_PORT=$REDIS_PORT
  export METRO_LOG_LEVEL=${METRO_LOG_LEVEL:-info}

  export METRO_JWT_PRIVATE_KEY_FILE=$dir/secrets/jwt-ed25519.pem
  export METRO_QR_KEY_FILE=$dir/secrets/qr-ed25519.pem
  # The gateway's port is chosen first: providers call back to it and send buyers back to it.
  http_port=${METRO_HTTP_PORT:-$(port_for http 8080)}
  export METRO_PUBLIC_BASE_URL=${METRO_PUBLIC_BASE_URL:-http://127.0.0.1:$http_port}
  # Mailpit catches every email the notification service sends (METRO_SMTP_URL), in tests and
  # in `make run` alike: it is cheap, and its UI shows the messages.
  MAILPIT_SMTP_PORT=${MAILPIT_SMTP_PORT:-$(port_for mailpit-smtp 1025)} \
    MAILPIT_HTTP_PORT=${MAILPIT_HTTP_PORT:-$(port_for mailpit-http 8025)} \
    "$here/mailpit.sh" start "$dir/mailpit" >/dev/null
  set -a
  # shellcheck disable=SC1091
  . "$dir/mailpit/env"
  set +a
  if [ "${METRO_STACK_PROVIDERS:-0}" = 1 ]; then
    "$here/providers.sh" start "$dir/providers" "$METRO_PUBLIC_BASE_URL" >/dev/null
    set -a
    # shellcheck disable=SC1091
    . "$dir/providers/env"
    set +a
  fi
  backends=""
  declare -A grpc_port metrics_port
  for row in "${service_table[@]}"; do
    IFS='|' read -r name default_port default_metrics binary <<<"$row"
    grpc_port[$name]=$(port_for "$name" "$default_port")
    metrics_port[$name]=$(port_for "$name-metrics" "$default_metrics")
    (
      export METRO_GRPC_ADDR=127.0.0.1:${grpc_port[$name]} METRO_PG_URL=${pg_url[$name]}
      export METRO_METRICS_PORT=${metrics_port[$name]}
      # management (started last) watches every service before it, itself, and any extra entries.
      [ "$name" != management ] || export METRO_MANAGEMENT_SERVICES="$backends,$name=127.0.0.1:${grpc_port[$name]}${METRO_STACK_MANAGEMENT_EXTRA:+,$METRO_STACK_MANAGEMENT_EXTRA}"
      start_process "$name" "$build/$binary"
    )
    wait_grpc "$name" "${grpc_port[$name]}"
    # Services started later find this one here (public reads METRO_TRANSPORT_GRPC).
    export "METRO_${name^^}_GRPC=127.0.0.1:${grpc_port[$name]}"
    backends="$backends${backends:+,}$name=127.0.0.1:${grpc_port[$name]}"
  done
  gateway=$build/transcoder/metro-transcoder
  echo_port=""
  if [ "${METRO_STACK_TESTING:-0}" = 1 ]; then
    echo_port=$(port_for echo 0)
    (
      export METRO_GRPC_ADDR=127.0.0.1:$echo_port
      start_process echo "$build/test/integration/metro-echo-test"
    )
    wait_grpc echo "$echo_port"
    backends="$backends,testing=127.0.0.1:$echo_port"
    gateway=$build/transcoder/metro-transcoder-testing
  fi
  # The gateway's /metrics is on its admin port only, never on the REST port.
  metrics_port[transcoder]=${METRO_TRANSCODER_METRICS_PORT:-$(port_for transcoder-metrics 9100)}
  (
    export METRO_HTTP_PORT=$http_port METRO_BACKENDS=$backends METRO_METRICS_PORT=${metrics_port[transcoder]}
    start_process transcoder "$gateway"
  )
  for i in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1; then break; fi
    kill -0 "$(cat "$dir/pids/transcoder.pid")" 2>/dev/null || { echo "stack: the gateway exited" >&2; tail -n 20 "$dir/logs/transcoder.log" >&2; exit 1; }
    [ "$i" -lt 300 ] || { echo "stack: the gateway never became ready" >&2; exit 1; }
    sleep 0.1
  done
  {
    echo "METRO_HTTP=http://127.0.0.1:$http_port"
    # Every process's Prometheus endpoint (host:port, GET /metrics), for tests and scrapers.
    echo "METRO_TRANSCODER_METRICS=127.0.0.1:${metrics_port[transcoder]}"
    for name in "${services[@]}"; do
      echo "METRO_${name^^}_GRPC=127.0.0.1:${grpc_port[$name]}"
      echo "METRO_${name^^}_METRICS=127.0.0.1:${metrics_port[$name]}"
      echo "METRO_${name^^}_PG_URL=${pg_url[$name]}"
    done
    [ -z "$echo_port" ] || echo "METRO_ECHO_GRPC=127.0.0.1:$echo_port"
    [ -z "${METRO_STACK_MANAGEMENT_EXTRA:-}" ] || echo "METRO_STACK_MANAGEMENT_EXTRA=$METRO_STACK_MANAGEMENT_EXTRA"
    [ -z "${pg_url[probe]:-}" ] || echo "METRO_PROBE_PG_URL=${pg_url[probe]}"
    echo "METRO_PG_ADMIN_URL=$METRO_PG_ADMIN_URL"
    echo "METRO_REDIS_PORT=$REDIS_PORT"
    echo "METRO_STACK_DIR=$dir"
    [ -z "${METRO_KAFKA_BROKERS:-}" ] || echo "METRO_KAFKA_BROKERS=$METRO_KAFKA_BROKERS"
    [ ! -s "$dir/providers/env" ] || cat "$dir/providers/env"
    [ ! -s "$dir/mailpit/env" ] || cat "$dir/mailpit/env"
  } >"$dir/stack.env"
  ;;
stop)
  stop_all
  # Sanitizer builds: a report from any service (they print to their logs) fails the stop.
  if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$dir"/logs/*.log 2>/dev/null; then
    echo "stack: sanitizer reports in the logs above" >&2
    exit 1
  fi
  ;;
*) usage ;;
esac
