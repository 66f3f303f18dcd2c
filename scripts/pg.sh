#!/usr/bin/env bash
# Starts (initdb on first use) or stops a throwaway PostgreSQL server under DIR on a free
# 127.0.0.1 port for `make run` and the tests; writes DIR/env with its address and admin URL.
set -euo pipefail

usage() {
  echo "usage: $0 start DIR | stop DIR | status DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
envfile=$dir/env
# The cluster lives in DIR unless the server's user cannot reach DIR (see ensure_owner);
# DIR/pgroot then names where it went.
pgroot=$dir
[ ! -s "$dir/pgroot" ] || pgroot=$(cat "$dir/pgroot")
data=$pgroot/data
log=$pgroot/postgres.log

# The newest installed server (Debian: /usr/lib/postgresql/<major>/bin), or $PG_BIN.
find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local newest="" dirs
  shopt -s nullglob
  dirs=(/usr/lib/postgresql/*/bin)
  shopt -u nullglob
  [ ${#dirs[@]} -eq 0 ] || newest=$(printf '%s\n' "${dirs[@]}" | sort -V | tail -n 1)
  if [ -z "$newest" ] && command -v pg_ctl >/dev/null 2>&1; then newest=$(dirname "$(command -v pg_ctl)"); fi
  [ -n "$newest" ] || { echo "pg.sh: no PostgreSQL server found (run scripts/install-deps.sh)" >&2; exit 1; }
  echo "$newest"
}
bin=$(find_bin)

# PostgreSQL refuses to run as root: as root, the server and its tools run as `postgres`.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_owner() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  chown postgres: "$dir"
  if [ "$pgroot" = "$dir" ] && ! runuser -u postgres -- test -w "$dir"; then
    # A parent of DIR is closed to other users (mktemp -d, a home directory): keep the
    # cluster in a directory of its own under /tmp, named after DIR so stop finds it.
    pgroot=${TMPDIR:-/tmp}/metro-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)
    install -d -o postgres -g postgres -m 700 "$pgroot"
    echo "$pgroot" >"$dir/pgroot"
    data=$pgroot/data
    log=$pgroot/postgres.log
  fi
  chown postgres: "$pgroot"
  [ ! -d "$data" ] || chown -R postgres: "$data"
  if ! runuser -u postgres -- test -w "$pgroot"; then
    echo "pg.sh: user postgres cannot write to $pgroot" >&2
    exit 1
  fi
}

# shellcheck source=lib/proc.sh
. "$here/lib/proc.sh"

is_running() {
  [ -f "$data/postmaster.pid" ] || return 1
  local pid
  pid=$(sed -n 1p "$data/postmaster.pid")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# The port a running server listens on: line 4 of postmaster.pid.
running_port() { sed -n 4p "$data/postmaster.pid"; }

init_cluster() {
  as_owner "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=trust \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  # Loopback only. The superuser `postgres` is trusted; service roles made by
  # pg-provision.sh log in with their passwords, so a wrong URL fails here as in production.
  cat >"$data/pg_hba.conf" <<'HBA'
# TYPE  DATABASE  USER      ADDRESS         METHOD
local   all       postgres                  trust
host    all       postgres  127.0.0.1/32    trust
host    all       all       127.0.0.1/32    scram-sha-256
HBA
  # Test and development data only: durability is traded for speed (a crash may lose or
  # corrupt this cluster, which is then simply deleted and made again).
  cat >>"$data/postgresql.conf" <<'CONF'

# --- added by scripts/pg.sh (test/dev only) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
password_encryption = 'scram-sha-256'
log_min_messages = warning
CONF
}

write_env() {
  local port=$1
  cat >"$envfile.tmp" <<ENV
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=postgres
METRO_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:$port/metro
ENV
  mv "$envfile.tmp" "$envfile"
}

wait_ready() {
  local port=$1
  for _ in $(seq 1 100); do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then return 0; fi
    sleep 0.1
  done
  echo "pg.sh: server on port $port did not accept connections; see $log" >&2
  exit 1
}

start() {
  mkdir -p "$dir"
  ensure_owner
  [ -f "$data/PG_VERSION" ] || init_cluster
  local port
  if is_running; then
    port=$(running_port)
    echo "pg.sh: reusing the server already running on port $port" >&2
  else
    rm -f "$data/postmaster.pid" # stale after a crash or reboot
    port=$("$here/free-port.sh")
    touch "$log"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$log"
    as_owner "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 30 start >/dev/null || {
      tail -n 20 "$log" >&2
      exit 1
    }
  fi
  wait_ready "$port"
  local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
  if [ -z "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'metro'")" ]; then
    "${psql[@]}" -d postgres -c "CREATE DATABASE metro"
  fi
  write_env "$port"
  echo "pg.sh: PostgreSQL $(basename "$(dirname "$bin")") on 127.0.0.1:$port; environment in $envfile" >&2
}

stop() {
  if ! is_running; then
    echo "pg.sh: no server running in $dir" >&2
    return 0
  fi
  as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null ||
    as_owner "$bin/pg_ctl" -D "$data" -m immediate -w -t 10 stop >/dev/null
}

case $cmd in
start) start ;;
stop) stop ;;
status)
  if is_running; then echo "running on port $(running_port)"; else echo "stopped"; exit 3; fi
  ;;
*) usage ;;
esac
