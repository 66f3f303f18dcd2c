#!/usr/bin/env bash
# Sepay callbacks through the gateway into the webhook log and the payment saga (issue 9), on a
# stack of its own per event backend: callbacks per second, and the time from a callback to its
# ticket being active. Notes on the method below.
set -euo pipefail
usage() {
  cat >&2 <<USAGE
usage: bench/payments.sh [BUILD_DIR]
Environment (defaults):
  BACKEND=both          postgres (embedded PostgreSQL event log), kafka (scripts/kafka.sh broker) or both
  TICKETS=3000          tickets paid in the burst (one callback each, as fast as wrk goes)
  PACED_TICKETS=500     tickets paid first at PACED_RATE callbacks/s (0: no paced run)
  PACED_RATE=100
  WARMUP_TICKETS=20     tickets paid (20/s) before anything is measured
  CONNECTIONS=32 THREADS=4   wrk's -c and -t for the callbacks
  RIDERS=20             accounts the tickets are bought with
  SETTLE_TIMEOUT_S=300  how long to wait for every paid ticket to be active
  KEEP=1                keep the state directory (logs, databases) after a successful run
USAGE
  exit 2
}
# The method.
#  - Stack: scripts/stack.sh on free ports with the provider emulators (METRO_STACK_PROVIDERS=1),
#    which configures the webhook and payment services for Sepay (API key, account); the
#    emulator itself is not in the path: wrk plays Sepay and POSTs /v1/webhooks/sepay with
#    `Authorization: Apikey ...` and the transfer JSON of test/providers/README.md. For the Kafka
#    run a single-node broker (scripts/kafka.sh) is started first and METRO_KAFKA_BROKERS handed
#    to the stack. METRO_PAYMENT_DEADLINE_S=3600 keeps the tickets payable throughout.
#  - Tickets: WARMUP_TICKETS + PACED_TICKETS + TICKETS pending Sepay tickets (Bến Thành -> Ba Son, one adult,
#    10,000 VND) bought with wrk (bench/payments.lua, mode=create, which records ticketId and
#    totalPrice); then the script waits until each has its payment (PENDING) and each ticket
#    has recorded its payment id (ticket.payment_ready applied), so the saga is idle when the
#    callbacks start.
#  - Callbacks: wrk (mode=pay) sends exactly one webhook per ticket, a unique transfer id each
#    and the ticket's exact amount, each thread a disjoint slice of the list; the run ends when
#    the list is done (see the Lua header: no filler requests, so wrk's latency is the
#    callbacks'). Callbacks/s = answers 200 {"success":true} / (last answer - first send).
#    First WARMUP_TICKETS at 20/s, not measured: the first payment.completed creates its topic,
#    and on Kafka the ticket consumer only fetches from it about a second later (seen as a
#    ~1 s p99 of the paced run without the warm-up). Then a paced run (PACED_RATE/s: latency of
#    an idle path), then the burst (TICKETS as fast as CONNECTIONS go: throughput, and the
#    end-to-end latency under the backlog it builds).
#  - End to end, on PostgreSQL's clock (one server holds every schema): per ticket,
#    ticket.tickets.updated_at (set to now() by the activation, the ticket's last change:
#    ticket.payment_ready only writes while payment_id is NULL, which it no longer is) minus
#    webhook.callbacks.received_at (the webhook service's clock when the request arrived, same
#    machine), matched on callbacks.payment_ref = ticket id; split at payments.completed_at
#    (the inline ApplyCallback) into callback -> payment COMPLETED and COMPLETED -> ticket
#    active (payment.completed through the outbox, relay, backend and the ticket consumer).
#    Percentiles with percentile_cont. The script waits (bounded) for every ticket to be
#    active and reports the tail: last activation - last callback received.
#  - CPU: /proc ticks of the stack's processes (services, gateway, PostgreSQL with its
#    backends, Redis, the broker), of wrk and of the whole machine, from the burst's start to
#    the last activation; "others" is what the rest of the machine used meanwhile (other
#    engineers' work, and short-lived processes such as this script's psql polls).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -le 1 ] || usage
case ${1:-} in -h | --help) usage ;; esac
build=$(realpath -- "${1:-$root/build}")
backend=${BACKEND:-both}
tickets=${TICKETS:-3000}
paced_tickets=${PACED_TICKETS:-500}
paced_rate=${PACED_RATE:-100}
warmup=${WARMUP_TICKETS:-20}
conns=${CONNECTIONS:-32}
threads=${THREADS:-4}
riders=${RIDERS:-20}
settle_timeout=${SETTLE_TIMEOUT_S:-300}
case $backend in
both) backends=(postgres kafka) ;;
postgres | kafka) backends=("$backend") ;;
*) usage ;;
esac
for n in "$tickets" "$paced_tickets" "$paced_rate" "$warmup" "$conns" "$threads" "$riders" "$settle_timeout"; do
  [[ $n =~ ^[0-9]+$ ]] || usage
done
[ "$tickets" -ge 1 ] && [ "$threads" -ge 1 ] && [ "$conns" -ge "$threads" ] && [ "$riders" -ge 1 ] || usage
[ "$paced_tickets" -eq 0 ] || [ "$paced_rate" -ge 1 ] || usage
for tool in wrk psql curl; do command -v "$tool" >/dev/null || { echo "payments.sh: $tool not found" >&2; exit 1; }; done
for bin in svc/payment/metro-payment svc/webhook/metro-webhook transcoder/metro-transcoder; do
  [ -x "$build/$bin" ] || { echo "payments.sh: $build/$bin missing (cmake --build build)" >&2; exit 1; }
done
lua=$root/bench/payments.lua
hz=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/metro-payments-bench.XXXXXX)
run_pid=""
descendants() { local p; for p in $(ps -o pid= --ppid "$1"); do descendants "$p"; echo "$p"; done; }
cleanup() {
  local rc=$?
  set +e
  # A run interrupted: its subshell and what it started (wrk, curl, psql) end first.
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM $(descendants "$run_pid") "$run_pid" 2>/dev/null
    wait "$run_pid" 2>/dev/null
  fi
  for d in "$work"/*/; do
    [ ! -d "$d/stack" ] || bash "$root/scripts/stack.sh" stop "$d/stack" >/dev/null 2>&1
    [ ! -d "$d/broker" ] || bash "$root/scripts/kafka.sh" stop "$d/broker" >/dev/null 2>&1
  done
  if [ "$rc" -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
    echo "payments.sh: state and logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "payments.sh: $*" >&2; }
q() { psql -X -q -tA -F' ' -v ON_ERROR_STOP=1 "$METRO_PG_ADMIN_URL" -c "$1"; }
json_field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/"; }
get() { awk -v k="$1" '$1 == k {print $2}' "$2"; } # key file: the value of a "key value" line
wait_for() { # description timeout_s sql expected: polls until the query answers expected
  local start=$SECONDS got
  while :; do
    got=$(q "$3") || return 1
    [ "$got" != "$4" ] || return 0
    if [ $((SECONDS - start)) -ge "$2" ]; then log "$1: $got, expected $4, after ${2}s"; return 1; fi
    sleep 0.2
  done
}

ticks() { # pid: user + system ticks so far (0 when gone)
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  awk '{print $12 + $13}' <<<"${s##*) }"
}
cpu_snapshot() { # dir: "name pid ticks" for the stack's processes and "machine 0 busy ticks"
  local d=$1 f pid pgroot pm
  for f in "$d"/stack/pids/*.pid "$d"/stack/redis/redis.pid; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    echo "$(basename "$f" .pid) $pid $(ticks "$pid")"
  done
  pgroot=$d/stack/pg
  [ ! -s "$pgroot/pgroot" ] || pgroot=$(cat "$pgroot/pgroot")
  if [ -s "$pgroot/data/postmaster.pid" ]; then
    pm=$(sed -n 1p "$pgroot/data/postmaster.pid")
    echo "postgres $pm $(ticks "$pm")"
    for pid in $(ps -o pid= --ppid "$pm"); do echo "postgres $pid $(ticks "$pid")"; done
  fi
  [ ! -s "$d/broker/kafka.pid" ] || echo "kafka $(cat "$d/broker/kafka.pid") $(ticks "$(cat "$d/broker/kafka.pid")")"
  awk '$1 == "cpu" {print "machine 0", $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
cpu_split() { # before after seconds wrk_ticks: "name %" (of one core), busiest first
  awk -v hz="$hz" -v s="$3" -v w="$4" '
    NR == FNR { before[$1 " " $2] = $3; next }
    { d = $3 - before[$1 " " $2]; if (d < 0) d = 0; sum[$1] += d; if ($1 != "machine") ours += d }
    END {
      sum["wrk"] = w; others = sum["machine"] - ours - w; if (others < 0) others = 0
      printf "machine %.0f\n", 100 * sum["machine"] / (hz * s)
      for (n in sum) if (n != "machine") printf "%s %.0f\n", n, 100 * sum[n] / (hz * s)
      printf "others %.0f\n", 100 * others / (hz * s)
    }' "$1" "$2" | sort -k2,2nr -k1,1 | awk 'NR == 1 || $2 > 0'
}
log_summary() { # stack dir: warn/error lines of the saga's services, the three commonest messages each
  local f name
  for name in transcoder webhook payment ticket; do
    f=$1/logs/$name.log
    [ -f "$f" ] || continue
    for level in error warn; do
      local n
      n=$(grep -c "\"level\":\"$level\"" "$f" || true)
      [ "$n" -gt 0 ] || continue
      echo "$name: $n $level lines; commonest:"
      grep "\"level\":\"$level\"" "$f" | sed -E 's/.*"msg":"(.*)"\}$/\1/' |
        sed -E 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uuid>/g; s/[0-9]+/N/g' |
        sort | uniq -c | sort -rn | head -n 3 | sed 's/^/    /'
    done
  done
}

child_ticks() { # pid: ticks of that shell's waited-for children (cutime + cstime)
  local s
  s=$(cat "/proc/$1/stat")
  awk '{print $14 + $15}' <<<"${s##*) }"
}
run_wrk() { # out_file connections seconds_bound args...: wrk with payments.lua; its CPU ticks in out_file.ticks
  local out=$1 c=$2 bound=$3 t0 t1 me=$BASHPID
  shift 3
  rm -f "$out.done"
  t0=$(child_ticks "$me")
  wrk -t"$threads" -c"$c" -d"${bound}s" --timeout "${bound}s" -s "$lua" "$METRO_HTTP" -- \
    threads="$threads" done="$out.done" "$@" >"$out"
  t1=$(child_ticks "$me")
  echo $((t1 - t0)) >"$out.ticks"
}

e2e_sql() { # first_transfer_id last_transfer_id: the percentiles of the callbacks in that id range
  cat <<SQL
WITH e AS (
  SELECT extract(epoch FROM t.updated_at - c.received_at) * 1000 AS total,
         extract(epoch FROM p.completed_at - c.received_at) * 1000 AS pay,
         extract(epoch FROM t.updated_at - p.completed_at) * 1000 AS saga,
         c.received_at, t.updated_at
  FROM webhook.callbacks c
  JOIN ticket.tickets t ON t.ticket_id::text = lower(c.payment_ref) AND t.status = 'active'
  JOIN payment.payments p ON p.ticket_id = t.ticket_id
  WHERE c.provider = 'sepay' AND c.provider_event_id::bigint BETWEEN $1 AND $2)
SELECT count(*),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY total)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY total)::numeric, 1),
  round(max(total)::numeric, 1),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY pay)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY pay)::numeric, 1),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY saga)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY saga)::numeric, 1),
  round(extract(epoch FROM max(updated_at) - max(received_at))::numeric, 2),
  round((count(*) / nullif(extract(epoch FROM max(updated_at) - min(received_at)), 0))::numeric, 0),
  round((count(*) FILTER (WHERE updated_at > (SELECT max(received_at) FROM e)) /
    nullif(extract(epoch FROM max(updated_at) - max(received_at)), 0))::numeric, 0)
FROM e
SQL
}

series_sql() { # first_transfer_id: callbacks received / tickets activated in each second from the first callback
  cat <<SQL
WITH t0 AS (SELECT min(received_at) AS t FROM webhook.callbacks WHERE provider_event_id::bigint >= $1),
cb AS (SELECT floor(extract(epoch FROM received_at - t0.t)) AS s, count(*) AS n FROM webhook.callbacks, t0
       WHERE provider_event_id::bigint >= $1 GROUP BY 1),
tk AS (SELECT floor(extract(epoch FROM updated_at - t0.t)) AS s, count(*) AS n FROM ticket.tickets, t0
       WHERE status = 'active' AND updated_at >= t0.t GROUP BY 1)
SELECT string_agg(coalesce(cb.n, 0) || '/' || coalesce(tk.n, 0), ' ' ORDER BY s) FROM cb FULL JOIN tk USING (s)
SQL
}

# One backend: a stack, tickets, the paced run, the burst; "key value" results in DIR/result.
run_backend() {
  local name=$1 d=$work/$1 brokers=""
  mkdir -p "$d"
  if [ "$name" = kafka ]; then
    log "kafka: starting a broker"
    bash "$root/scripts/kafka.sh" start "$d/broker" 2>"$d/kafka-start.log" ||
      { cat "$d/kafka-start.log" >&2; return 1; }
    brokers=$(sed -n 's/^METRO_KAFKA_BROKERS=//p' "$d/broker/env")
  fi
  log "$name: starting the stack"
  METRO_KAFKA_BROKERS=$brokers METRO_STACK_FREE_PORTS=1 METRO_STACK_PROVIDERS=1 METRO_LOG_LEVEL=warn \
    METRO_REQUIRE_VERIFIED_EMAIL=false METRO_AUTH_RATE_LIMIT_PER_MINUTE=0 METRO_DEMO_TRIP_DAYS=0 \
    METRO_SCRYPT_LN=10 METRO_PAYMENT_DEADLINE_S=3600 \
    bash "$root/scripts/stack.sh" start "$d/stack" "$build" >"$d/stack-start.log" 2>&1 ||
    { tail -n 30 "$d/stack-start.log" >&2; return 1; }
  # shellcheck disable=SC1091
  . "$d/stack/stack.env"
  [ -n "${METRO_SEPAY_API_KEY:-}" ] && [ -n "${METRO_SEPAY_ACCOUNT:-}" ] ||
    { log "$name: no Sepay settings in stack.env"; return 1; }

  log "$name: $riders riders"
  local i token
  for i in $(seq 1 "$riders"); do
    token=$(curl -fsS -X POST "$METRO_HTTP/v1/auth/register" -H 'Content-Type: application/json' \
      -d "{\"email\":\"rider$i@metro.bench\",\"username\":\"rider$i\",\"password\":\"Saigon-Metro-2026\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}" |
      json_field accessToken)
    until curl -fsS "$METRO_HTTP/v1/users/me" -H "Authorization: Bearer $token" >/dev/null 2>&1; do sleep 0.05; done
    echo "$token"
  done >"$d/tokens.txt"

  local total=$((warmup + paced_tickets + tickets))
  log "$name: buying $total pending Sepay tickets"
  local buy='{"originStationId":"ben-thanh","destinationStationId":"ba-son","tripType":"oneway","passengers":{"adult":1},"paymentMethod":"sepay"}'
  run_wrk "$d/create.out" "$conns" 600 mode=create count="$total" in="$d/tokens.txt" out="$d/created-" body="$buy"
  cat "$d"/created-*.txt >"$d/tickets.txt"
  local created
  created=$(wc -l <"$d/tickets.txt")
  [ "$created" -eq "$total" ] || { log "$name: $created tickets bought of $total"; cat "$d/create.out" >&2; return 1; }
  log "$name: bought at $(get per_second "$d/create.out")/s; waiting for their payments"
  wait_for "payments" 600 "SELECT count(*) FROM payment.payments WHERE status = 'PENDING' AND method = 'sepay'" "$total"
  wait_for "tickets with their payment id" 600 \
    "SELECT count(*) FROM ticket.tickets WHERE status = 'pending_payment' AND payment_id IS NOT NULL" "$total"

  ok_of() { if [ -f "$d/$1.out" ]; then get ok "$d/$1.out"; else echo 0; fi; }
  local key=(key="$METRO_SEPAY_API_KEY" account="$METRO_SEPAY_ACCOUNT" bank="${METRO_SEPAY_BANK:-MBBank}"
    date="$(TZ=Asia/Ho_Chi_Minh date '+%Y-%m-%d %H:%M:%S')")
  local warmup_base=10000 paced_base=100000 burst_base=500000 start
  {
    echo "backend $name"
    echo "tickets $tickets"
    echo "paced_tickets $paced_tickets"
  } >"$d/result"
  if [ "$warmup" -gt 0 ]; then
    log "$name: warm-up, $warmup callbacks at 20/s"
    run_wrk "$d/warmup.out" "$threads" 600 mode=pay count="$warmup" first=0 in="$d/tickets.txt" \
      idbase="$warmup_base" rate=20 "${key[@]}"
    wait_for "warm-up tickets active" "$settle_timeout" \
      "SELECT count(*) FROM ticket.tickets WHERE status = 'active'" "$(get ok "$d/warmup.out")"
  fi
  if [ "$paced_tickets" -gt 0 ]; then
    log "$name: paced run, $paced_tickets callbacks at $paced_rate/s"
    run_wrk "$d/paced.out" "$conns" 600 mode=pay count="$paced_tickets" first="$warmup" in="$d/tickets.txt" \
      idbase="$paced_base" rate="$paced_rate" "${key[@]}"
    wait_for "paced tickets active" "$settle_timeout" \
      "SELECT count(*) FROM ticket.tickets WHERE status = 'active'" "$(($(ok_of warmup) + $(ok_of paced)))" || true
    read -r n p50 p99 max pay50 pay99 saga50 saga99 _ \
      < <(q "$(e2e_sql "$paced_base" $((paced_base + paced_tickets - 1)))")
    {
      echo "paced_ok $(get ok "$d/paced.out")"
      echo "paced_rate $(get per_second "$d/paced.out")"
      echo "paced_p50 $(get p50 "$d/paced.out")"
      echo "paced_p99 $(get p99 "$d/paced.out")"
      echo "paced_active $n"
      echo "paced_e2e_p50 $p50"
      echo "paced_e2e_p99 $p99"
      echo "paced_e2e_max $max"
      echo "paced_pay_p50 $pay50"
      echo "paced_pay_p99 $pay99"
      echo "paced_saga_p50 $saga50"
      echo "paced_saga_p99 $saga99"
    } >>"$d/result"
  fi

  log "$name: burst, $tickets callbacks over $conns connections"
  local before=$d/cpu.before after=$d/cpu.after
  cpu_snapshot "$d" >"$before"
  start=$(date +%s.%N)
  run_wrk "$d/burst.out" "$conns" 600 mode=pay count="$tickets" first=$((warmup + paced_tickets)) in="$d/tickets.txt" \
    idbase="$burst_base" "${key[@]}"
  local wrk_end settled=yes
  wrk_end=$(date +%s.%N)
  wait_for "tickets active" "$settle_timeout" "SELECT count(*) FROM ticket.tickets WHERE status = 'active'" \
    "$(($(ok_of warmup) + $(ok_of paced) + $(ok_of burst)))" || settled=no
  cpu_snapshot "$d" >"$after"
  local end secs
  end=$(date +%s.%N)
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  cpu_split "$before" "$after" "$secs" "$(cat "$d/burst.out.ticks")" >"$d/cpu"
  read -r n p50 p99 max pay50 pay99 saga50 saga99 tail rate drain \
    < <(q "$(e2e_sql "$burst_base" $((burst_base + tickets - 1)))")
  {
    for k in requests ok failed per_second p50 p90 p99 max errors; do echo "burst_$k $(get "$k" "$d/burst.out")"; done
    echo "burst_active $n"
    echo "burst_e2e_p50 $p50"
    echo "burst_e2e_p99 $p99"
    echo "burst_e2e_max $max"
    echo "burst_pay_p50 $pay50"
    echo "burst_pay_p99 $pay99"
    echo "burst_saga_p50 $saga50"
    echo "burst_saga_p99 $saga99"
    echo "burst_tail_s $tail"
    echo "burst_activations_per_s $rate"
    echo "burst_drain_per_s $drain"
    echo "burst_series $(q "$(series_sql "$burst_base")")"
    echo "settle_after_wrk_s $(awk -v a="$wrk_end" -v b="$end" 'BEGIN { printf "%.2f", b - a }')"
    echo "settled $settled"
    echo "cpu_window_s $secs"
    echo "stored_callbacks $(q "SELECT count(*) FROM webhook.callbacks")"
    echo "rejected_callbacks $(q "SELECT count(*) FROM webhook.rejected_callbacks")"
    echo "payments_completed $(q "SELECT count(*) FROM payment.payments WHERE status = 'COMPLETED'")"
    echo "tickets_active $(q "SELECT count(*) FROM ticket.tickets WHERE status = 'active'")"
    echo "unmatched $(q "SELECT count(*) FROM payment.unmatched_transfers")"
    echo "alerts $(q "SELECT count(*) FROM payment.admin_alerts")"
    echo "applied $(q "SELECT result || ':' || count(*) FROM payment.applied_callbacks GROUP BY result ORDER BY 1" | paste -sd, -)"
    echo "answers $(q "SELECT a || ':' || count(*) FROM (SELECT coalesce(answer_code, 'none') AS a FROM webhook.callbacks) x GROUP BY a ORDER BY a" | paste -sd, -)"
    echo "activation_check_ms $(q "SELECT round(max(extract(epoch FROM valid_from - updated_at)) * 1000, 1) FROM ticket.tickets WHERE status = 'active'")"
  } >>"$d/result"
  [ -z "$(get sample "$d/burst.out")" ] || echo "burst_sample $(sed -n 's/^sample //p' "$d/burst.out")" >>"$d/result"
  log_summary "$d/stack" >"$d/logs"
  bash "$root/scripts/stack.sh" stop "$d/stack" >/dev/null 2>&1 || log "$name: stack stop reported a problem"
  [ ! -d "$d/broker" ] || bash "$root/scripts/kafka.sh" stop "$d/broker" >/dev/null 2>&1 || true
}

echo "# $(date -u '+%Y-%m-%d %H:%M')Z $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); loopback;" \
  "$tickets callbacks (wrk -t$threads -c$conns) after $warmup at 20/s (warm-up) and $paced_tickets at $paced_rate/s;" \
  "load generator on the same machine"
for b in "${backends[@]}"; do
  # In the background so that a signal interrupts the wait at once (the trap then stops it).
  (run_backend "$b") &
  run_pid=$!
  wait "$run_pid"
  run_pid=""
done

r() { get "$1" "$work/$2/result"; }
echo
echo "| backend | callbacks | callbacks/s (200 success) | wrk p50 / p99 | callback -> active p50 / p99 / max | callback -> COMPLETED p50 / p99 | COMPLETED -> active p50 / p99 | activations/s | tail | stored / COMPLETED / active (all runs) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for b in "${backends[@]}"; do
  if [ "$paced_tickets" -gt 0 ]; then
    printf '| %s | %s paced | %s | %s / %s ms | %s / %s / %s ms | %s / %s ms | %s / %s ms | | | %s active |\n' \
      "$b" "$(r paced_ok "$b")" "$(r paced_rate "$b")" "$(r paced_p50 "$b")" "$(r paced_p99 "$b")" \
      "$(r paced_e2e_p50 "$b")" "$(r paced_e2e_p99 "$b")" "$(r paced_e2e_max "$b")" "$(r paced_pay_p50 "$b")" \
      "$(r paced_pay_p99 "$b")" "$(r paced_saga_p50 "$b")" "$(r paced_saga_p99 "$b")" "$(r paced_active "$b")"
  fi
  printf '| %s | %s burst (%s failed) | %s | %s / %s ms | %s / %s / %s ms | %s / %s ms | %s / %s ms | %s | %s s | %s / %s / %s |\n' \
    "$b" "$(r burst_ok "$b")" "$(r burst_failed "$b")" "$(r burst_per_second "$b")" "$(r burst_p50 "$b")" \
    "$(r burst_p99 "$b")" "$(r burst_e2e_p50 "$b")" "$(r burst_e2e_p99 "$b")" "$(r burst_e2e_max "$b")" \
    "$(r burst_pay_p50 "$b")" "$(r burst_pay_p99 "$b")" "$(r burst_saga_p50 "$b")" "$(r burst_saga_p99 "$b")" \
    "$(r burst_activations_per_s "$b")" "$(r burst_tail_s "$b")" "$(r stored_callbacks "$b")" \
    "$(r payments_completed "$b")" "$(r tickets_active "$b")"
done
for b in "${backends[@]}"; do
  echo
  echo "$b: settled $(r settled "$b") ($(r settle_after_wrk_s "$b") s after wrk ended); wrk socket errors $(r burst_errors "$b");" \
    "rejected $(r rejected_callbacks "$b"), unmatched $(r unmatched "$b"), alerts $(r alerts "$b");" \
    "applied {$(r applied "$b")}; answers {$(r answers "$b")}; valid_from - updated_at max $(r activation_check_ms "$b") ms"
  [ -z "$(r burst_sample "$b")" ] || echo "$b: first failed callback: $(sed -n 's/^burst_sample //p' "$work/$b/result")"
  echo "$b: activations/s after the last callback: $(r burst_drain_per_s "$b");" \
    "each second of the burst, callbacks received / tickets activated: $(sed -n 's/^burst_series //p' "$work/$b/result")"
  echo "$b: CPU over the burst and settling ($(r cpu_window_s "$b") s, % of one core):" \
    "$(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}' "$work/$b/cpu")"
  if [ -s "$work/$b/logs" ]; then sed "s/^/$b: /" "$work/$b/logs"; else echo "$b: no warn or error lines in the logs"; fi
done
