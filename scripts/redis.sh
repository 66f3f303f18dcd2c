#!/usr/bin/env bash
# Starts or stops a throwaway redis-server under DIR on a free 127.0.0.1 port (no persistence)
# for `make run` and the tests; writes REDIS_HOST and REDIS_PORT to DIR/env.redis.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR | stop DIR | status DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pidfile=$dir/redis.pid
portfile=$dir/redis.port
envfile=$dir/env.redis

# shellcheck source=lib/proc.sh
. "$here/lib/proc.sh"

# The pid in the pidfile when that process is a live redis-server.
running_pid() {
  [ -s "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# PING over bash's /dev/tcp, so redis-cli is not needed.
ping_ok() {
  local reply=""
  {
    exec 3<>"/dev/tcp/127.0.0.1/$1" &&
      printf 'PING\r\n' >&3 &&
      IFS= read -r -t 2 reply <&3
    exec 3>&-
  } 2>/dev/null || true
  [ "${reply%$'\r'}" = "+PONG" ]
}

write_env() {
  printf 'REDIS_HOST=127.0.0.1\nREDIS_PORT=%s\n' "$1" >"$envfile.tmp"
  mv "$envfile.tmp" "$envfile"
}

start() {
  command -v redis-server >/dev/null || { echo "redis.sh: redis-server not found (run scripts/install-deps.sh)" >&2; exit 1; }
  mkdir -p "$dir"
  local port
  if running_pid >/dev/null && [ -s "$portfile" ] && ping_ok "$(cat "$portfile")"; then
    port=$(cat "$portfile")
    echo "redis.sh: reusing the server already running on port $port" >&2
  else
    rm -f "$pidfile"
    port=$("$here/free-port.sh")
    # No RDB snapshots and no AOF: test data lives in memory only.
    redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --pidfile "$pidfile" \
      --dir "$dir" --logfile "$dir/redis.log" --save '' --appendonly no \
      --protected-mode yes >/dev/null
    echo "$port" >"$portfile"
    local ok=false
    for _ in $(seq 1 100); do
      if ping_ok "$port"; then ok=true; break; fi
      sleep 0.05
    done
    $ok || { echo "redis.sh: no PONG on port $port; see $dir/redis.log" >&2; tail -n 20 "$dir/redis.log" >&2 || true; exit 1; }
  fi
  write_env "$port"
  echo "redis.sh: redis on 127.0.0.1:$port; environment in $envfile" >&2
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    echo "redis.sh: no server running in $dir" >&2
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    alive "$pid" || { rm -f "$pidfile"; return 0; }
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

case $cmd in
start) start ;;
stop) stop ;;
status)
  if running_pid >/dev/null; then echo "running on port $(cat "$portfile")"; else echo "stopped"; exit 3; fi
  ;;
*) usage ;;
esac
