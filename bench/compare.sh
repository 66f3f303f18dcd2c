#!/usr/bin/env bash
# The C gateway against grpc-gateway (issue 15): one stack, the anchor proxy of
# bench/anchors/grpc-gateway in front of the same backends, alternating wrk rounds over four
# routes; medians of req/s, p50/p99 and CPU per request of each gateway and of the backend
# (utime+stime from /proc), RSS, and the ratios C/Go.
# usage: bench/compare.sh [BUILD_DIR]   (ROUNDS=9, SECONDS_PER_RUN=10, CONNECTIONS=64,
#        WARMUP_SECONDS=2, OUT=FILE for the per-round CSV, LOGIN_EMAIL for the POST's account)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
rounds=${ROUNDS:-9}
seconds=${SECONDS_PER_RUN:-10}
conns=${CONNECTIONS:-64}
warmup=${WARMUP_SECONDS:-2}
wrk_args=(-t2 -c"$conns" -d"${seconds}s" --latency)
tck=$(getconf CLK_TCK)

# The routes: name|method|path|backend service (whose process's CPU is counted).
routes=(
  "jwks|GET|/v1/auth/jwks|auth"
  "journeys|GET|/v1/journeys?originStationId=ben-thanh&destinationStationId=ben-xe-suoi-tien|public"
  "stations|GET|/v1/stations|public"
  "login|POST|/v1/auth/login|auth"
)
login_lua=$root/bench/login-wrong.lua

anchor=$(bash "$root/bench/anchors/grpc-gateway/build.sh")

state=$(mktemp -d /tmp/metro-compare.XXXXXX)
go_pid=""
cleanup() { # every step may fail (set -e is in force here too) without skipping the next
  [ -z "$go_pid" ] || { kill "$go_pid" && wait "$go_pid"; } >/dev/null 2>&1 || true
  bash "$root/scripts/stack.sh" stop "$state" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT

. "$root/bench/login-stack.sh"
login_stack_start "$state" "$build"
go_port=$(bash "$root/scripts/free-port.sh")
(
  set -a
  . "$state/stack.env"
  exec "$anchor" -listen "127.0.0.1:$go_port"
) >"$state/logs/grpc-gateway.log" 2>&1 &
go_pid=$!
declare -A url=([c]=$METRO_HTTP [go]=http://127.0.0.1:$go_port)
declare -A pid=([c]=$(cat "$state/pids/transcoder.pid") [go]=$go_pid
  [auth]=$(cat "$state/pids/auth.pid") [public]=$(cat "$state/pids/public.pid"))
for i in $(seq 1 100); do
  curl -fsS -o /dev/null "${url[go]}/v1/auth/jwks" 2>/dev/null && break
  kill -0 "$go_pid" 2>/dev/null && [ "$i" -lt 100 ] || { cat "$state/logs/grpc-gateway.log" >&2; exit 1; }
  sleep 0.1
done

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; } # utime + stime
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# CPU seconds of this shell's finished children (wrk) in the output of `times`, which must run in
# this shell itself (in a subshell it would count the subshell's children).
children_cpu() {
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.3f", t }' "$1"
}
cpu_busy_idle() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# curl once: prints "STATUS BYTES" of a route through a gateway.
probe() { # gateway method path
  if [ "$2" = POST ]; then
    curl -s -o /dev/null -w '%{http_code} %{size_download}' -X POST -H 'Content-Type: application/json' \
      -d "{\"login\":\"$LOGIN_EMAIL\",\"password\":\"not-the-password-1\"}" "${url[$1]}$3"
  else
    curl -s -o /dev/null -w '%{http_code} %{size_download}' "${url[$1]}$3"
  fi
}

run_wrk() { # gateway method path [wrk args...]
  local gw=$1 method=$2 path=$3
  shift 3
  if [ "$method" = POST ]; then
    wrk "$@" -s "$login_lua" "${url[$gw]}$path"
  else
    wrk "$@" "${url[$gw]}$path"
  fi
}

rss_start_c=$(rss_mb "${pid[c]}")
rss_start_go=$(rss_mb "${pid[go]}")
stations=$(curl -fsS "${url[c]}/v1/stations")
for id in ben-thanh ben-xe-suoi-tien; do
  grep -q "\"$id\"" <<<"$stations" || { echo "compare: station $id is not in the seed" >&2; exit 1; }
done

# Warm-up: the journey lands in Redis, the account locks (see the note printed below), both
# gateways open their backend connections and grow their pools; then the statuses, once.
for row in "${routes[@]}"; do
  IFS='|' read -r name method path backend <<<"$row"
  for gw in c go; do
    for _ in 1 2 3; do probe "$gw" "$method" "$path" >/dev/null; done
    run_wrk "$gw" "$method" "$path" -t2 -c"$conns" -d"${warmup}s" >/dev/null
  done
done
declare -A status
mismatch=""
for row in "${routes[@]}"; do
  IFS='|' read -r name method path backend <<<"$row"
  for gw in c go; do status[$name.$gw]=$(probe "$gw" "$method" "$path"); done
  [ "${status[$name.c]%% *}" = "${status[$name.go]%% *}" ] ||
    mismatch="$mismatch${mismatch:+, }$method ${path%%\?*} (C ${status[$name.c]%% *}, Go ${status[$name.go]%% *})"
done

csv=$state/rounds.csv
echo "round,route,gateway,requests,rps,p50_ms,p99_ms,gateway_cpu_us,backend_cpu_us,wrk_cpu_us,busy_pct,non2xx,socket_errors" >"$csv"
measure() { # round gateway name method path backend
  local round=$1 gw=$2 name=$3 method=$4 path=$5 backend=$6 out g0 g1 b0 b1 w0 w1 m0 m1
  g0=$(cpu_ticks "${pid[$gw]}") b0=$(cpu_ticks "${pid[$backend]}") m0=$(cpu_busy_idle)
  times >"$state/times.0"
  out=$(run_wrk "$gw" "$method" "$path" "${wrk_args[@]}")
  times >"$state/times.1"
  w0=$(children_cpu "$state/times.0") w1=$(children_cpu "$state/times.1")
  g1=$(cpu_ticks "${pid[$gw]}") b1=$(cpu_ticks "${pid[$backend]}") m1=$(cpu_busy_idle)
  awk -v round="$round" -v gw="$gw" -v name="$name" -v tck="$tck" -v g="$((g1 - g0))" -v b="$((b1 - b0))" \
    -v w0="$w0" -v w1="$w1" -v m0="$m0" -v m1="$m1" '
    function ms(s) { # wrk latency: 850.00us, 2.31ms, 1.02s, 1.00m
      if (s ~ /us$/) return s / 1000; if (s ~ /ms$/) return s + 0; if (s ~ /s$/) return s * 1000; return s * 60000 }
    / requests in / { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); errors = $4 + $6 + $8 + $10 }
    END {
      split(m0, a, " "); split(m1, z, " ")
      busy = z[1] - a[1]; idle = z[2] - a[2]
      us = n > 0 ? 1e6 / tck / n : 0
      wrk_us = n > 0 ? (w1 - w0) * 1e6 / n : 0
      pct = busy + idle > 0 ? 100 * busy / (busy + idle) : 0
      printf "%s,%s,%s,%d,%.0f,%.3f,%.3f,%.1f,%.1f,%.1f,%.0f,%d,%d\n", round, name, gw, n, rps, p50, p99,
        g * us, b * us, wrk_us, pct, non2xx, errors
    }' <<<"$out" >>"$csv"
}

# A process that died makes every later figure wrong: stop there, with its log's tail.
check_alive() { # what was running
  local f
  for f in "$state"/pids/*.pid; do
    kill -0 "$(cat "$f")" 2>/dev/null && continue
    f=$(basename "$f" .pid)
    echo "compare: $f exited during $1; the end of its log:" >&2
    tail -n 30 "$state/logs/$f.log" >&2
    exit 1
  done
  kill -0 "$go_pid" 2>/dev/null || { echo "compare: grpc-gateway exited during $1" >&2; tail -n 30 "$state/logs/grpc-gateway.log" >&2; exit 1; }
}

for round in $(seq 1 "$rounds"); do
  order="c go"
  [ $((round % 2)) = 1 ] || order="go c" # who goes first alternates
  for row in "${routes[@]}"; do
    IFS='|' read -r name method path backend <<<"$row"
    for gw in $order; do
      measure "$round" "$gw" "$name" "$method" "$path" "$backend"
      check_alive "$name, round $round"
    done
  done
done
rss_end_c=$(rss_mb "${pid[c]}")
rss_end_go=$(rss_mb "${pid[go]}")
[ -z "${OUT:-}" ] || cp "$csv" "$OUT"

median() { # route gateway column
  awk -F, -v r="$1" -v g="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $2 == r && $3 == g { print $col[c] }' "$csv" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
total() { awk -F, -v r="$1" -v g="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $2 == r && $3 == g { t += $col[c] } END { print t + 0 }' "$csv"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), loopback, load generator on the same machine"
echo "# wrk ${wrk_args[*]} URL; $rounds rounds alternating which gateway goes first; medians over the rounds;" \
  "CPU = utime+stime from /proc per completed request; build $(realpath "$build")"
[ -z "$mismatch" ] || printf '\n**Statuses differ**: %s.\n' "$mismatch"
echo
echo "| route | req/s C/Go | gateway CPU/req C/Go | p99 C/Go |"
echo "|---|---:|---:|---:|"
for row in "${routes[@]}"; do
  IFS='|' read -r name method path backend <<<"$row"
  echo "| $method ${path%%\?*} | $(ratio "$(median "$name" c rps)" "$(median "$name" go rps)") |" \
    "$(ratio "$(median "$name" c gateway_cpu_us)" "$(median "$name" go gateway_cpu_us)") |" \
    "$(ratio "$(median "$name" c p99_ms)" "$(median "$name" go p99_ms)") |"
done
for row in "${routes[@]}"; do
  IFS='|' read -r name method path backend <<<"$row"
  echo
  echo "### $method $path"
  echo "Backend: $backend. Status (body bytes): C ${status[$name.c]// / (}), Go ${status[$name.go]// / (})."
  echo
  echo "| median of $rounds | C gateway | grpc-gateway | C/Go |"
  echo "|---|---:|---:|---:|"
  for m in "requests/s:rps" "p50 ms:p50_ms" "p99 ms:p99_ms" "gateway CPU µs/req:gateway_cpu_us" \
    "$backend CPU µs/req:backend_cpu_us" "wrk CPU µs/req:wrk_cpu_us" "machine CPU busy %:busy_pct"; do
    c=$(median "$name" c "${m#*:}") g=$(median "$name" go "${m#*:}")
    echo "| ${m%%:*} | $c | $g | $(ratio "$c" "$g") |"
  done
  for m in "non-2xx responses, all rounds:non2xx" "socket errors, all rounds:socket_errors"; do
    echo "| ${m%%:*} | $(total "$name" c "${m#*:}") | $(total "$name" go "${m#*:}") | |"
  done
  if [ "$name" = login ] && [ "${status[login.c]%% *}" = 423 ]; then
    echo
    echo "The account locks after METRO_LOCKOUT_FAILURES (default 5) wrong passwords, in the warm-up; from then"
    echo "on Login answers ACCOUNT_LOCKED without checking the password (one account lookup, no scrypt),"
    echo "which the C gateway maps to 423 by its reason and grpc-gateway to 403 by its code."
  fi
done
echo
echo "| RSS MB | C gateway | grpc-gateway | C/Go |"
echo "|---|---:|---:|---:|"
echo "| at start | $rss_start_c | $rss_start_go | $(ratio "$rss_start_c" "$rss_start_go") |"
echo "| after the rounds | $rss_end_c | $rss_end_go | $(ratio "$rss_end_c" "$rss_end_go") |"
