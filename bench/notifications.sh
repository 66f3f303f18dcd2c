#!/usr/bin/env bash
# Ticket emails (issue 10): emails per second from ticket.activated to accepted by Mailpit, and
# the latency of each email from its ticket's activation to Mailpit, on a stack of its own per
# sender setting (embedded PostgreSQL event log). Notes on the method below.
set -euo pipefail
usage() {
  cat >&2 <<USAGE
usage: bench/notifications.sh [BUILD_DIR]
Environment (defaults):
  SENDERS="2 4"         METRO_NOTIFY_SENDERS of each run, one fresh stack per run, in turn
  TICKETS=2000          free tickets bought in the burst (one email each, as fast as wrk goes)
  PACED_RATE=50 PACED_SECONDS=10   tickets/s and seconds of the paced run first (PACED_RATE=0: none)
  WARMUP_TICKETS=20     tickets bought (20/s) before anything is measured
  CONNECTIONS=16 THREADS=2   wrk's -c and -t for the purchases
  RIDERS=20             accounts the tickets are bought with
  SETTLE_TIMEOUT_S=300  how long to wait for every email of a run to reach Mailpit
  KEEP=1                keep the state directory (logs, databases) after a successful run
  METRO_NOTIFY_POLL_MS  passed through to the service (default 200: how often an idle sender looks)
USAGE
  exit 2
}
# The method.
#  - Stack: scripts/stack.sh on free ports, METRO_LOG_LEVEL=warn, verified email not required, no
#    auth rate limit, METRO_SCRYPT_LN=10, no demo trips, METRO_NOTIFY_SENDERS from SENDERS; no
#    Kafka (the embedded PostgreSQL event log). Mailpit keeps only 500 messages by default (older
#    ones are pruned), so the script restarts the stack's Mailpit on the same ports with --max 0
#    before anything is sent.
#  - Tickets: an admin creates a 100 % promotion without limits; RIDERS accounts register (their
#    verification emails are waited for, then Mailpit is cleared: DELETE /api/v1/messages); wrk
#    (bench/notifications.lua) buys oneway tickets Bến Thành -> Thảo Điền with it, which take the
#    free path: active at once, ticket.activated in the ticket service's outbox in the purchase's
#    transaction. Each activation is one email (template ticket_activated_single, with the QR
#    PNG inline, ~7 KB). First WARMUP_TICKETS at 20/s (not measured); then a paced run
#    (PACED_RATE/s for PACED_SECONDS: the latency of an idle path); then the burst (TICKETS over
#    wrk -tTHREADS -cCONNECTIONS as fast as they go: throughput, and the latency under the
#    backlog it builds). Each phase starts once every email of the one before is in Mailpit.
#  - Timestamps, all on this machine's clock: activated = ticket.outbox.created_at of the
#    ticket.activated event (now() of the purchase's transaction); queued =
#    notification.notifications.created_at (now() of the consumer's transaction, which begins
#    before the handler asks the user service for the contact and the transport service for the
#    station names, draws the QR and builds the MIME message); picked = sent_at (now() of the
#    sender's transaction, which begins before it selects the row and talks SMTP: it is when a
#    sender took the email, not when the email was sent); accepted = Mailpit's Created (ms),
#    matched on the Message-ID (notifications.provider_message_id) after the run, from the
#    Mailpit API (all messages loaded into public.bench_mailpit). So "activated -> queued" is the
#    relay, the event log and the consumer's wait (of which "-> published": outbox.published_at,
#    which the ticket service's relay sets once the event is in the log, so possibly after the
#    consumer was woken: an upper bound of the relay's part); "queued -> picked" is the
#    handler's work and the wait for a sender (an idle sender looks every METRO_NOTIFY_POLL_MS,
#    200 ms by default: it is not woken by new rows); "picked -> accepted" is the SMTP delivery
#    (a new connection per email). Percentiles with percentile_cont; one phase = the ticket.activated events
#    created from its start (PostgreSQL's clock_timestamp() just before wrk) to the next one's.
#  - Emails/s: emails accepted / (last accepted - first activated) of the phase; steady: the
#    middle 80 % of the burst's emails by accepted time (0.8 n / (p90 - p10)); and Mailpit's
#    own count: GET /api/v1/messages?limit=1 every second during the burst, the rate between
#    the samples where 10 % and 90 % of the burst had arrived. Consumer/s likewise on queued.
#  - Checks: Mailpit's total equals the ticket.activated events; every message's Message-ID is
#    unique and belongs to a ticket email to that recipient; every event has its email; every
#    notification is sent at its first attempt; no dead letters (events.log topics *.dlq);
#    warn/error lines of the services and Mailpit's log.
#  - CPU: /proc ticks of the stack's processes (services, gateway, PostgreSQL with its backends,
#    Redis, Mailpit), of wrk and of the whole machine, from the burst's start to the last email
#    in Mailpit; "others" is what the rest of the machine used meanwhile (other engineers' work,
#    and short-lived processes such as this script's psql and curl polls).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -le 1 ] || usage
case ${1:-} in -h | --help) usage ;; esac
build=$(realpath -- "${1:-$root/build}")
read -r -a senders_list <<<"${SENDERS:-2 4}"
tickets=${TICKETS:-2000}
paced_rate=${PACED_RATE:-50}
paced_seconds=${PACED_SECONDS:-10}
warmup=${WARMUP_TICKETS:-20}
conns=${CONNECTIONS:-16}
threads=${THREADS:-2}
riders=${RIDERS:-20}
settle_timeout=${SETTLE_TIMEOUT_S:-300}
[ "${#senders_list[@]}" -ge 1 ] || usage
for n in "${senders_list[@]}"; do [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 16 ] || usage; done
for n in "$tickets" "$paced_rate" "$paced_seconds" "$warmup" "$conns" "$threads" "$riders" "$settle_timeout"; do
  [[ $n =~ ^[0-9]+$ ]] || usage
done
[ "$tickets" -ge 10 ] && [ "$threads" -ge 1 ] && [ "$conns" -ge "$threads" ] && [ "$riders" -ge 1 ] || usage
paced_tickets=$((paced_rate * paced_seconds))
for tool in wrk psql curl jq; do command -v "$tool" >/dev/null || { echo "notifications.sh: $tool not found" >&2; exit 1; }; done
for bin in svc/notification/metro-notification svc/ticket/metro-ticket transcoder/metro-transcoder; do
  [ -x "$build/$bin" ] || { echo "notifications.sh: $build/$bin missing (cmake --build build)" >&2; exit 1; }
done
lua=$root/bench/notifications.lua
hz=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/metro-notifications-bench.XXXXXX)
run_pid=""
descendants() { local p; for p in $(ps -o pid= --ppid "$1"); do descendants "$p"; echo "$p"; done; }
cleanup() {
  local rc=$?
  set +e
  # A run interrupted: its subshell and what it started (wrk, the Mailpit poll, curl, psql) end first.
  if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM $(descendants "$run_pid") "$run_pid" 2>/dev/null
    wait "$run_pid" 2>/dev/null
  fi
  for d in "$work"/*/; do
    [ ! -d "$d/stack" ] || bash "$root/scripts/stack.sh" stop "$d/stack" >/dev/null 2>&1
  done
  if [ "$rc" -ne 0 ] || [ "${KEEP:-0}" = 1 ]; then
    echo "notifications.sh: state and logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "notifications.sh: $*" >&2; }
q() { psql -X -q -tA -F' ' -v ON_ERROR_STOP=1 "$METRO_PG_ADMIN_URL" -c "$1"; }
json_field() { sed -E "s/.*\"$1\":\"([^\"]*)\".*/\1/"; }
get() { awk -v k="$1" '$1 == k {print $2}' "$2"; } # key file: the value of a "key value" line
rest() { sed -n "s/^$1 //p" "$2"; }                # key file: the rest of a "key ..." line
mailpit_total() { curl -fsS --max-time 10 "$MAILPIT_API/messages?limit=1" | jq -r .total; }
wait_for() { # description timeout_s sql expected: polls until the query answers expected
  local start=$SECONDS got
  while :; do
    got=$(q "$3") || return 1
    [ "$got" != "$4" ] || return 0
    if [ $((SECONDS - start)) -ge "$2" ]; then log "$1: $got, expected $4, after ${2}s"; return 1; fi
    sleep 0.2
  done
}
# Until `expected` ticket emails are sent (in the database) and Mailpit holds `base + expected`.
wait_emails() { # description expected base
  local start=$SECONDS sent total
  while :; do
    sent=$(q "SELECT count(*) FROM notification.notifications WHERE template = 'ticket_activated_single' AND status = 'sent'")
    total=$(mailpit_total) || total=?
    [ "$sent" != "$2" ] || [ "$total" != $(($3 + $2)) ] || return 0
    if [ $((SECONDS - start)) -ge "$settle_timeout" ]; then
      log "$1: $sent sent and $total in Mailpit, expected $2 and $(($3 + $2)), after ${settle_timeout}s"
      return 1
    fi
    sleep 0.5
  done
}

ticks() { # pid: user + system ticks so far (0 when gone)
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  awk '{print $12 + $13}' <<<"${s##*) }"
}
cpu_snapshot() { # dir: "name pid ticks" for the stack's processes and "machine 0 busy ticks"
  local d=$1 f pid pgroot pm
  for f in "$d"/stack/pids/*.pid "$d"/stack/redis/redis.pid "$d"/stack/mailpit/mailpit.pid; do
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
log_summary() { # stack dir: warn/error lines of the services on the path, the three commonest each; Mailpit's errors
  local f name level n
  for name in transcoder auth user transport ticket notification; do
    f=$1/logs/$name.log
    [ -f "$f" ] || continue
    for level in error warn; do
      n=$(grep -c "\"level\":\"$level\"" "$f" || true)
      [ "$n" -gt 0 ] || continue
      echo "$name: $n $level lines; commonest:"
      grep "\"level\":\"$level\"" "$f" | sed -E 's/.*"msg":"(.*)"\}$/\1/' |
        sed -E 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uuid>/g; s/[0-9]+/N/g' |
        sort | uniq -c | sort -rn | head -n 3 | sed 's/^/    /'
    done
  done
  f=$1/mailpit/mailpit.log
  if [ -f "$f" ]; then
    n=$(grep -ciE 'error|\[(warn|erro)' "$f" || true)
    [ "$n" -eq 0 ] || { echo "mailpit: $n error/warning lines; first:"; grep -iE 'error|\[(warn|erro)' "$f" | head -n 3 | sed 's/^/    /'; }
  fi
}

child_ticks() { # pid: ticks of that shell's waited-for children (cutime + cstime)
  local s
  s=$(cat "/proc/$1/stat")
  awk '{print $14 + $15}' <<<"${s##*) }"
}
run_wrk() { # out_file connections args...: wrk with notifications.lua; its CPU ticks in out_file.ticks
  local out=$1 c=$2 t0 t1 me=$BASHPID
  shift 2
  rm -f "$out.done"
  t0=$(child_ticks "$me")
  wrk -t"$threads" -c"$c" -d600s --timeout 600s -s "$lua" "$METRO_HTTP" -- \
    threads="$threads" done="$out.done" in="$d/tokens.txt" out="$out.tickets-" body="$buy" "$@" >"$out"
  t1=$(child_ticks "$me")
  echo $((t1 - t0)) >"$out.ticks"
}

# The emails of the ticket.activated events created in [$1, $2): count, accepted, latencies,
# rates (see the method).
phase_sql() {
  cat <<SQL
WITH e AS (
  SELECT extract(epoch FROM m.created - o.created_at) * 1000 AS total,
         extract(epoch FROM n.created_at - o.created_at) * 1000 AS consume,
         extract(epoch FROM o.published_at - o.created_at) * 1000 AS relay,
         extract(epoch FROM n.sent_at - n.created_at) * 1000 AS wait,
         extract(epoch FROM m.created - n.sent_at) * 1000 AS smtp,
         extract(epoch FROM m.created) AS acc, extract(epoch FROM n.created_at) AS qd,
         o.created_at AS activated, m.created AS accepted
  FROM ticket.outbox o
  LEFT JOIN notification.notifications n ON n.event_id = o.event_id AND n.template = 'ticket_activated_single'
  LEFT JOIN public.bench_mailpit m ON '<' || m.message_id || '>' = n.provider_message_id
  WHERE o.event_type = 'ticket.activated' AND o.created_at >= '$1' AND o.created_at < '$2')
SELECT count(*), count(accepted),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY total)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY total)::numeric, 1),
  round(max(total)::numeric, 1),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY consume)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY consume)::numeric, 1),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY relay)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY relay)::numeric, 1),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY wait)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY wait)::numeric, 1),
  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY smtp)::numeric, 1),
  round(percentile_cont(0.99) WITHIN GROUP (ORDER BY smtp)::numeric, 1),
  round((count(accepted) / nullif(extract(epoch FROM max(accepted) - min(activated)), 0))::numeric, 1),
  round(extract(epoch FROM max(accepted) - min(activated))::numeric, 2),
  round((0.8 * count(accepted) / nullif(percentile_cont(0.9) WITHIN GROUP (ORDER BY acc) -
    percentile_cont(0.1) WITHIN GROUP (ORDER BY acc), 0))::numeric, 1),
  round((0.8 * count(*) / nullif(percentile_cont(0.9) WITHIN GROUP (ORDER BY qd) -
    percentile_cont(0.1) WITHIN GROUP (ORDER BY qd), 0))::numeric, 1),
  round((count(*) / nullif(extract(epoch FROM max(activated) - min(activated)), 0))::numeric, 1),
  round(extract(epoch FROM max(accepted) - max(activated))::numeric, 2)
FROM e
SQL
}
phase_keys=(events accepted p50 p99 max consume_p50 consume_p99 relay_p50 relay_p99 wait_p50 wait_p99 smtp_p50 smtp_p99
  emails_per_s window_s steady_per_s consumer_steady_per_s activations_per_s tail_s)

series_sql() { # t0: tickets activated / emails queued / emails accepted in each second from t0
  cat <<SQL
WITH a AS (SELECT floor(extract(epoch FROM created_at - '$1')) AS s, count(*) AS n FROM ticket.outbox
           WHERE event_type = 'ticket.activated' AND created_at >= '$1' GROUP BY 1),
n AS (SELECT floor(extract(epoch FROM created_at - '$1')) AS s, count(*) AS n FROM notification.notifications
      WHERE template = 'ticket_activated_single' AND created_at >= '$1' GROUP BY 1),
m AS (SELECT floor(extract(epoch FROM created - '$1')) AS s, count(*) AS n FROM public.bench_mailpit
      WHERE created >= '$1' GROUP BY 1)
SELECT string_agg(coalesce(a.n, 0) || '/' || coalesce(n.n, 0) || '/' || coalesce(m.n, 0), ' ' ORDER BY s)
FROM a FULL JOIN n USING (s) FULL JOIN m USING (s)
SQL
}

mailpit_dump() { # file: "message_id<TAB>created<TAB>recipient" of every message in Mailpit
  local total start=0 page=1000
  total=$(mailpit_total)
  : >"$1"
  while [ "$start" -lt "$total" ]; do
    curl -fsS --max-time 60 "$MAILPIT_API/messages?limit=$page&start=$start" |
      jq -r '.messages[] | [.MessageID, .Created, (.To[0].Address // "")] | @tsv' >>"$1"
    start=$((start + page))
  done
}

# The rate in Mailpit's own count between the samples where 10 % and 90 % of n had arrived.
poll_rate() { # poll_file base n
  awk -v base="$2" -v n="$3" '
    { c = $2 - base }
    !t1 && c >= 0.1 * n { t1 = $1; c1 = c }
    !t2 && c >= 0.9 * n { t2 = $1; c2 = c }
    END { if (t2 > t1) printf "%.1f\n", (c2 - c1) / (t2 - t1); else print "-" }' "$1"
}

# One run: a stack with `senders` sender threads, riders, warm-up, paced run, burst; "key value"
# results in DIR/result.
run_senders() {
  local senders=$1 name=$2
  d=$work/$name
  mkdir -p "$d"
  local admin_password
  admin_password="Bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  log "$name: starting the stack (METRO_NOTIFY_SENDERS=$senders)"
  METRO_KAFKA_BROKERS="" METRO_STACK_FREE_PORTS=1 METRO_LOG_LEVEL=warn METRO_REQUIRE_VERIFIED_EMAIL=false \
    METRO_AUTH_RATE_LIMIT_PER_MINUTE=0 METRO_SCRYPT_LN=10 METRO_DEMO_TRIP_DAYS=0 METRO_NOTIFY_SENDERS="$senders" \
    METRO_ADMIN_EMAIL=admin@metro.bench METRO_ADMIN_PASSWORD="$admin_password" METRO_ADMIN_USERNAME=admin \
    bash "$root/scripts/stack.sh" start "$d/stack" "$build" >"$d/stack-start.log" 2>&1 ||
    { tail -n 30 "$d/stack-start.log" >&2; return 1; }
  # shellcheck disable=SC1091
  . "$d/stack/stack.env"
  # Mailpit again on the same ports without its 500-message cap (the service's SMTP URL stays right).
  local smtp_port http_port
  read -r smtp_port http_port <"$d/stack/mailpit/mailpit.ports"
  MAILPIT_SMTP_PORT=$smtp_port MAILPIT_HTTP_PORT=$http_port \
    bash "$root/scripts/mailpit.sh" start "$d/stack/mailpit" --max 0 2>>"$d/stack-start.log" ||
    { log "$name: Mailpit did not restart with --max 0"; return 1; }

  local admin
  admin=$(curl -fsS -X POST "$METRO_HTTP/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"login\":\"admin\",\"password\":\"$admin_password\"}" | json_field accessToken)
  curl -fsS -X POST "$METRO_HTTP/v1/promotions" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"promotionCode":"BENCHFREE","name":"Bench","type":"percentage","value":100,"validFrom":"2020-01-01T00:00:00Z","validUntil":"2099-01-01T00:00:00Z"}' \
    >/dev/null
  log "$name: $riders riders"
  local i token
  for i in $(seq 1 "$riders"); do
    token=$(curl -fsS -X POST "$METRO_HTTP/v1/auth/register" -H 'Content-Type: application/json' \
      -d "{\"email\":\"rider$i@metro.bench\",\"username\":\"rider$i\",\"password\":\"Saigon-Metro-2026\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}" |
      json_field accessToken)
    until curl -fsS "$METRO_HTTP/v1/users/me" -H "Authorization: Bearer $token" >/dev/null 2>&1; do sleep 0.05; done
    echo "$token"
  done >"$d/tokens.txt"
  # Their verification emails go out first; then Mailpit is emptied.
  wait_for "verification emails" "$settle_timeout" \
    "SELECT count(*) FROM notification.notifications WHERE template = 'verify_email' AND status = 'sent'" "$riders"
  curl -fsS -X DELETE "$MAILPIT_API/messages" >/dev/null
  [ "$(mailpit_total)" = 0 ] || { log "$name: Mailpit not empty after DELETE"; return 1; }
  q "CREATE TABLE public.bench_mailpit (message_id text, created timestamptz, recipient text)"

  buy='{"originStationId":"ben-thanh","destinationStationId":"thao-dien","tripType":"oneway","passengers":{"adult":1},"promotionCode":"BENCHFREE"}'
  activated() { q "SELECT count(*) FROM ticket.outbox WHERE event_type = 'ticket.activated'"; }
  {
    echo "senders $senders"
    echo "poll_ms ${METRO_NOTIFY_POLL_MS:-200}"
  } >"$d/result"
  local expected t_paced="infinity" t_burst
  if [ "$warmup" -gt 0 ]; then
    log "$name: warm-up, $warmup tickets at 20/s"
    run_wrk "$d/warmup.out" "$threads" count="$warmup" rate=20
    expected=$(activated)
    wait_emails "warm-up emails" "$expected" 0
  fi
  if [ "$paced_tickets" -gt 0 ]; then
    log "$name: paced run, $paced_tickets tickets at $paced_rate/s"
    t_paced=$(q "SELECT clock_timestamp()")
    run_wrk "$d/paced.out" "$conns" count="$paced_tickets" rate="$paced_rate"
    expected=$(activated)
    wait_emails "paced emails" "$expected" 0
  fi

  log "$name: burst, $tickets tickets over $conns connections"
  local before=$d/cpu.before after=$d/cpu.after start end secs base settled=yes
  base=$(mailpit_total)
  # Mailpit's own count, every second, until the burst's emails are in.
  (while :; do
    printf '%s %s\n' "$(date +%s.%N)" "$(mailpit_total 2>/dev/null || echo -1)"
    sleep 1
  done) >"$d/mailpit-poll" &
  local poller=$!
  cpu_snapshot "$d" >"$before"
  start=$(date +%s.%N)
  t_burst=$(q "SELECT clock_timestamp()")
  run_wrk "$d/burst.out" "$conns" count="$tickets"
  local wrk_end mid=$d/cpu.mid
  cpu_snapshot "$d" >"$mid"
  wrk_end=$(date +%s.%N)
  expected=$(activated)
  wait_emails "burst emails" "$expected" 0 || settled=no
  cpu_snapshot "$d" >"$after"
  end=$(date +%s.%N)
  kill "$poller" 2>/dev/null || true
  wait "$poller" 2>/dev/null || true
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
  cpu_split "$before" "$after" "$secs" "$(cat "$d/burst.out.ticks")" >"$d/cpu"
  # The same split while wrk buys and after (the drain: no purchases, only the emails' path).
  cpu_split "$before" "$mid" "$(awk -v a="$start" -v b="$wrk_end" 'BEGIN { printf "%.2f", b - a }')" \
    "$(cat "$d/burst.out.ticks")" >"$d/cpu-buying"
  cpu_split "$mid" "$after" "$(awk -v a="$wrk_end" -v b="$end" 'BEGIN { printf "%.2f", b - a }')" 0 >"$d/cpu-drain"

  log "$name: reading Mailpit's messages"
  mailpit_dump "$d/mailpit.tsv"
  q "COPY public.bench_mailpit FROM STDIN" <"$d/mailpit.tsv"
  local phase vals k t0 t1
  for phase in paced burst; do
    case $phase in
    paced) [ "$paced_tickets" -gt 0 ] || continue; t0=$t_paced t1=$t_burst ;;
    burst) t0=$t_burst t1=infinity ;;
    esac
    IFS='|' read -r -a vals < <(psql -X -q -tA -F'|' -v ON_ERROR_STOP=1 "$METRO_PG_ADMIN_URL" -c "$(phase_sql "$t0" "$t1")")
    for i in "${!phase_keys[@]}"; do echo "${phase}_${phase_keys[$i]} ${vals[$i]:-}"; done >>"$d/result"
    for k in ok failed per_second p50 p99 errors; do echo "${phase}_wrk_$k $(get "$k" "$d/$phase.out")"; done >>"$d/result"
    [ -z "$(get sample "$d/$phase.out")" ] || echo "${phase}_wrk_sample $(rest sample "$d/$phase.out")" >>"$d/result"
  done
  # Emails of the paced run reach Mailpit in batches when the senders look for work together:
  # the number of gaps between successive arrivals longer than half METRO_NOTIFY_POLL_MS, + 1.
  [ "$paced_tickets" -eq 0 ] || echo "paced_batches $(q "WITH m AS (SELECT b.created, b.created - lag(b.created) OVER (ORDER BY b.created) AS gap
    FROM public.bench_mailpit b JOIN notification.notifications n ON n.provider_message_id = '<' || b.message_id || '>'
    JOIN ticket.outbox o ON o.event_id = n.event_id WHERE o.created_at >= '$t_paced' AND o.created_at < '$t_burst')
    SELECT (count(*) FILTER (WHERE gap > interval '1 ms' * ${METRO_NOTIFY_POLL_MS:-200} / 2) + 1) || ' batches in ' ||
    round(extract(epoch FROM max(created) - min(created))::numeric, 1) || ' s' FROM m")" >>"$d/result"
  {
    echo "burst_poll_steady_per_s $(poll_rate "$d/mailpit-poll" "$base" "$(get burst_events "$d/result")")"
    echo "burst_series $(q "$(series_sql "$t_burst")")"
    echo "settled $settled"
    echo "drain_after_wrk_s $(awk -v a="$wrk_end" -v b="$end" 'BEGIN { printf "%.2f", b - a }')"
    echo "cpu_window_s $secs"
    echo "wrk_window_s $(awk -v a="$start" -v b="$wrk_end" 'BEGIN { printf "%.2f", b - a }')"
    local t_wrk_end drain_n drain_rate
    t_wrk_end=$(date -u -d "@$wrk_end" '+%Y-%m-%d %H:%M:%S.%N+00')
    read -r drain_n drain_rate < <(q "SELECT count(*), round((count(*) / nullif(extract(epoch FROM max(created) -
      '$t_wrk_end'::timestamptz), 0))::numeric, 1) FROM public.bench_mailpit WHERE created > '$t_wrk_end'")
    echo "drain_emails $drain_n"
    echo "drain_per_s $drain_rate"
    echo "bought $(($(get ok "$d/warmup.out" 2>/dev/null || echo 0) + $(get ok "$d/paced.out" 2>/dev/null || echo 0) + $(get ok "$d/burst.out")))"
    echo "activated_events $(activated)"
    echo "mailpit_total $(mailpit_total)"
    echo "mailpit_rows $(q "SELECT count(*) FROM public.bench_mailpit")"
    echo "mailpit_distinct $(q "SELECT count(DISTINCT message_id) FROM public.bench_mailpit")"
    echo "mailpit_unmatched $(q "SELECT count(*) FROM public.bench_mailpit m WHERE NOT EXISTS (SELECT 1 FROM notification.notifications n
      WHERE n.provider_message_id = '<' || m.message_id || '>' AND n.template = 'ticket_activated_single' AND n.recipient = m.recipient)")"
    echo "events_without_email $(q "SELECT count(*) FROM ticket.outbox o WHERE o.event_type = 'ticket.activated' AND NOT EXISTS
      (SELECT 1 FROM notification.notifications n WHERE n.event_id = o.event_id AND n.template = 'ticket_activated_single')")"
    echo "notifications $(q "SELECT template || ':' || status || ':' || count(*) FROM notification.notifications GROUP BY template, status ORDER BY 1" | paste -sd, -)"
    echo "retried $(q "SELECT count(*) FROM notification.notifications WHERE attempts <> 1")"
    echo "dead_letters $(q "SELECT count(*) FROM events.log WHERE topic LIKE '%.dlq'")"
  } >>"$d/result"
  log_summary "$d/stack" >"$d/logs"
  bash "$root/scripts/stack.sh" stop "$d/stack" >/dev/null 2>&1 || log "$name: stack stop reported a problem"
}

echo "# $(date -u '+%Y-%m-%d %H:%M')Z $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); loopback; embedded event log;" \
  "$tickets free tickets (wrk -t$threads -c$conns) after $warmup at 20/s (warm-up) and $paced_tickets at $paced_rate/s;" \
  "METRO_NOTIFY_POLL_MS ${METRO_NOTIFY_POLL_MS:-200}; load generator on the same machine"
names=()
for i in "${!senders_list[@]}"; do
  name="senders-${senders_list[$i]}-run$((i + 1))"
  names+=("$name")
  # In the background so that a signal interrupts the wait at once (the trap then stops it).
  (run_senders "${senders_list[$i]}" "$name") &
  run_pid=$!
  wait "$run_pid"
  run_pid=""
done

r() { get "$1" "$work/$2/result"; }
echo
echo "| senders | run | tickets (bought/s) | emails in Mailpit | emails/s (first activation -> last accepted) | steady emails/s (Mailpit timestamps / Mailpit count) | consumer steady/s | activated -> accepted p50 / p99 / max | activated -> queued p50 / p99 (of which -> published) | queued -> picked p50 / p99 | picked -> accepted p50 / p99 | tail after last activation |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${names[@]}"; do
  for phase in paced burst; do
    [ -n "$(r "${phase}_events" "$n")" ] || continue
    if [ "$phase" = burst ]; then steady="$(r burst_steady_per_s "$n") / $(r burst_poll_steady_per_s "$n")"; else steady=""; fi
    printf '| %s | %s | %s (%s/s) | %s | %s | %s | %s | %s / %s / %s ms | %s / %s ms (%s / %s) | %s / %s ms | %s / %s ms | %s s |\n' \
      "$(r senders "$n")" "$phase" "$(r "${phase}_events" "$n")" "$(r "${phase}_activations_per_s" "$n")" \
      "$(r "${phase}_accepted" "$n")" "$(r "${phase}_emails_per_s" "$n")" "$steady" \
      "$(r "${phase}_consumer_steady_per_s" "$n")" \
      "$(r "${phase}_p50" "$n")" "$(r "${phase}_p99" "$n")" "$(r "${phase}_max" "$n")" \
      "$(r "${phase}_consume_p50" "$n")" "$(r "${phase}_consume_p99" "$n")" "$(r "${phase}_relay_p50" "$n")" \
      "$(r "${phase}_relay_p99" "$n")" "$(r "${phase}_wait_p50" "$n")" \
      "$(r "${phase}_wait_p99" "$n")" "$(r "${phase}_smtp_p50" "$n")" "$(r "${phase}_smtp_p99" "$n")" \
      "$(r "${phase}_tail_s" "$n")"
  done
done
for n in "${names[@]}"; do
  f=$work/$n/result
  echo
  echo "$n: settled $(r settled "$n") ($(r drain_after_wrk_s "$n") s after wrk ended); bought $(r bought "$n")," \
    "ticket.activated $(r activated_events "$n"), Mailpit total $(r mailpit_total "$n") ($(r mailpit_rows "$n") listed," \
    "$(r mailpit_distinct "$n") distinct Message-IDs, $(r mailpit_unmatched "$n") not matching a ticket email to its rider)," \
    "events without an email $(r events_without_email "$n"), not sent at the first attempt $(r retried "$n")," \
    "dead letters $(r dead_letters "$n");" \
    "notifications {$(r notifications "$n")}"
  for phase in paced burst; do
    [ -n "$(r "${phase}_wrk_ok" "$n")" ] || continue
    echo "$n: $phase purchases: $(r "${phase}_wrk_ok" "$n") active, $(r "${phase}_wrk_failed" "$n") failed," \
      "$(r "${phase}_wrk_per_second" "$n")/s, wrk p50 / p99 $(r "${phase}_wrk_p50" "$n") / $(r "${phase}_wrk_p99" "$n") ms," \
      "socket errors $(r "${phase}_wrk_errors" "$n")"
    [ -z "$(rest "${phase}_wrk_sample" "$f")" ] || echo "$n: $phase first failed purchase: $(rest "${phase}_wrk_sample" "$f")"
  done
  [ -z "$(rest paced_batches "$f")" ] || echo "$n: paced emails reached Mailpit in $(rest paced_batches "$f")" \
    "(a batch: arrivals less than half METRO_NOTIFY_POLL_MS apart)"
  echo "$n: each second of the burst, tickets activated / emails queued / emails accepted by Mailpit: $(rest burst_series "$f")"
  echo "$n: CPU over the burst and the drain ($(r cpu_window_s "$n") s, % of one core):" \
    "$(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}' "$work/$n/cpu")"
  echo "$n: of which while wrk bought ($(r wrk_window_s "$n") s):" \
    "$(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}' "$work/$n/cpu-buying")"
  echo "$n: and in the drain after wrk ($(r drain_after_wrk_s "$n") s, $(r drain_emails "$n") emails accepted," \
    "$(r drain_per_s "$n")/s):" "$(awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}' "$work/$n/cpu-drain")"
  if [ -s "$work/$n/logs" ]; then sed "s/^/$n: /" "$work/$n/logs"; else echo "$n: no warn or error lines in the logs"; fi
done
