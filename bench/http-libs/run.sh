#!/usr/bin/env bash
# run.sh: builds mhd_hello.c and evhttp_hello.c with cc -O2, benchmarks each with wrk on 127.0.0.1 and prints a table.
# Usage: bench/http-libs/run.sh   (env: DURATION=10s THREADS=2 CONNECTIONS=64 ROUNDS=1)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
duration=${DURATION:-10s}
threads=${THREADS:-2}
connections=${CONNECTIONS:-64}
rounds=${ROUNDS:-1}
cflags="-O2 -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE"

command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }
out=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$out"
}
trap cleanup EXIT

cc $cflags "$here/mhd_hello.c" -o "$out/mhd_hello" -lmicrohttpd -lpthread
cc $cflags "$here/evhttp_hello.c" -o "$out/evhttp_hello" -levent -levent_pthreads -lpthread

# start_server BINARY: runs it on an ephemeral loopback port and sets server_pid and port.
start_server() {
    "$out/$1" 0 >"$out/$1.stdout" 2>"$out/$1.stderr" &
    server_pid=$!
    for _ in $(seq 100); do
        port=$(awk '/^listening on/ {print $3}' "$out/$1.stdout")
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$1 did not start:" >&2; cat "$out/$1.stderr" >&2; exit 1
}

stop_server() {
    kill -TERM "$server_pid"
    local rc=0; wait "$server_pid" || rc=$?
    server_pid=""
    [ "$rc" -eq 0 ] || { echo "server exited with $rc" >&2; exit 1; }
}

# bench LABEL SCENARIO URL [wrk args...]: one wrk run, one table row.
bench() {
    local label=$1 scenario=$2 url=$3; shift 3
    local report
    report=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" "$url")
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$report")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$report")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$report")
    errors=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' <<<"$report")
    printf '| %-7s | %-27s | %8s | %8s | %8s | %s\n' "$label" "$scenario" "$rps" "$p50" "$p99" "${errors:-none} |"
}

echo "wrk -t$threads -c$connections -d$duration, $(nproc) cores, loopback, $(date -u +%F)"
printf '| %-7s | %-27s | %8s | %8s | %8s | %s\n' server scenario "req/s" p50 p99 "errors |"
echo '|---------|-----------------------------|---------:|---------:|---------:|--------|'
for _ in $(seq "$rounds"); do
    for server in mhd evhttp; do
        start_server "${server}_hello"
        bench "$server" "GET /hello (91 B JSON)" "http://127.0.0.1:$port/hello"
        bench "$server" "POST /echo (1 KiB JSON)" "http://127.0.0.1:$port/echo" -s "$here/post.lua"
        bench "$server" "GET /async (worker hop)" "http://127.0.0.1:$port/async"
        stop_server
    done
done
