#!/usr/bin/env bash
# Starts or stops Mailpit (the pinned .cache/tools/bin/mailpit) under DIR on 127.0.0.1: the SMTP
# server the notification service sends to and its web UI/API; writes METRO_SMTP_URL etc. to DIR/env.
set -euo pipefail

usage() {
  cat >&2 <<USAGE
usage: $0 start DIR [MAILPIT_FLAG...] | stop DIR | status DIR
  DIR            pidfile, ports, database (DIR/mailpit.db), log (DIR/mailpit.log) and DIR/env:
                 METRO_SMTP_URL=smtp://127.0.0.1:P, MAILPIT_API=http://127.0.0.1:Q/api/v1,
                 MAILPIT_UI=http://127.0.0.1:Q
  MAILPIT_FLAG   more Mailpit flags, for example --smtp-allowed-recipients REGEX or --enable-chaos
Environment:
  MAILPIT_SMTP_PORT, MAILPIT_HTTP_PORT  fixed ports (default: free ones)
  MAILPIT_BIN                           the binary (default: .cache/tools/bin/mailpit, installed
                                        by scripts/tools.sh when missing)
USAGE
  exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
pidfile=$dir/mailpit.pid
envfile=$dir/env

# shellcheck source=lib/proc.sh
. "$here/lib/proc.sh"

# The pid in the pidfile when that process is alive and runs mailpit.
running_pid() {
  [ -s "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q mailpit || return 1
  echo "$pid"
}

# GET /readyz on the HTTP port over bash's /dev/tcp, so curl is not needed.
ready() {
  local line=""
  {
    exec 3<>"/dev/tcp/127.0.0.1/$1" &&
      printf 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 &&
      IFS= read -r -t 2 line <&3 &&
      timeout 2 cat <&3 >/dev/null
    exec 3>&-
  } 2>/dev/null || true
  [[ $line == "HTTP/1."?" 200"* ]]
}

# The SMTP greeting (220) on the SMTP port.
smtp_ready() {
  local line=""
  {
    exec 3<>"/dev/tcp/127.0.0.1/$1" &&
      IFS= read -r -t 2 line <&3 &&
      printf 'QUIT\r\n' >&3
    exec 3>&-
  } 2>/dev/null || true
  [[ $line == 220* ]]
}

# True when something accepts connections on the port (Mailpit would fail to bind it, and only
# after it has begun to answer on the other port).
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

mailpit_bin() {
  local bin=${MAILPIT_BIN:-$root/.cache/tools/bin/mailpit}
  if [ ! -x "$bin" ] && [ -z "${MAILPIT_BIN:-}" ]; then
    bash "$here/tools.sh" >/dev/null || { echo "mailpit.sh: could not install Mailpit (scripts/tools.sh)" >&2; exit 1; }
  fi
  [ -x "$bin" ] || { echo "mailpit.sh: $bin not found (run scripts/tools.sh)" >&2; exit 1; }
  echo "$bin"
}

write_env() { # smtp_port http_port
  printf 'METRO_SMTP_URL=smtp://127.0.0.1:%s\nMAILPIT_API=http://127.0.0.1:%s/api/v1\nMAILPIT_UI=http://127.0.0.1:%s\n' \
    "$1" "$2" "$2" >"$envfile.tmp"
  mv "$envfile.tmp" "$envfile"
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

start() {
  mkdir -p "$dir"
  local bin smtp_port http_port args
  bin=$(mailpit_bin)
  # The same Mailpit (same flags, same fixed ports if any) already running here is kept.
  args="$* smtp=${MAILPIT_SMTP_PORT:-any} http=${MAILPIT_HTTP_PORT:-any}"
  if running_pid >/dev/null && [ -s "$dir/mailpit.ports" ] && [ -s "$envfile" ] &&
    [ "$(cat "$dir/mailpit.args" 2>/dev/null)" = "$args" ]; then
    read -r smtp_port http_port <"$dir/mailpit.ports"
    if ready "$http_port" && smtp_ready "$smtp_port"; then
      echo "mailpit.sh: reusing the Mailpit already running in $dir" >&2
      return 0
    fi
  fi
  stop
  smtp_port=${MAILPIT_SMTP_PORT:-$("$here/free-port.sh")}
  http_port=${MAILPIT_HTTP_PORT:-$("$here/free-port.sh")}
  while [ "$http_port" = "$smtp_port" ]; do http_port=$("$here/free-port.sh"); done
  local p
  for p in "$smtp_port" "$http_port"; do
    if port_busy "$p"; then
      echo "mailpit.sh: port $p is in use (another Mailpit? set MAILPIT_SMTP_PORT and MAILPIT_HTTP_PORT)" >&2
      exit 1
    fi
  done
  # Loopback only; SMTP without TLS and with any (or no) credentials, as a local catcher;
  # no reverse DNS and no version check (no network needed).
  "$bin" --smtp "127.0.0.1:$smtp_port" --listen "127.0.0.1:$http_port" --database "$dir/mailpit.db" \
    --smtp-auth-accept-any --smtp-auth-allow-insecure --smtp-disable-rdns --disable-version-check \
    "$@" </dev/null >>"$dir/mailpit.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$pidfile"
  for _ in $(seq 1 300); do
    if ready "$http_port" && smtp_ready "$smtp_port"; then
      echo "$smtp_port $http_port" >"$dir/mailpit.ports"
      echo "$args" >"$dir/mailpit.args"
      write_env "$smtp_port" "$http_port"
      echo "mailpit.sh: SMTP 127.0.0.1:$smtp_port, UI http://127.0.0.1:$http_port; environment in $envfile" >&2
      return 0
    fi
    alive "$pid" || break
    sleep 0.05
  done
  echo "mailpit.sh: Mailpit did not start (SMTP port $smtp_port, HTTP port $http_port); see $dir/mailpit.log" >&2
  tail -n 20 "$dir/mailpit.log" >&2 || true
  stop
  exit 1
}

case $cmd in
start) start "$@" ;;
stop)
  [ $# -eq 0 ] || usage
  stop
  ;;
status)
  [ $# -eq 0 ] || usage
  if running_pid >/dev/null && [ -s "$dir/mailpit.ports" ]; then
    read -r smtp_port http_port <"$dir/mailpit.ports"
    echo "mailpit running: SMTP port $smtp_port, HTTP port $http_port"
  else
    echo "mailpit stopped"
    exit 3
  fi
  ;;
*) usage ;;
esac
