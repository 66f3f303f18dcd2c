#!/usr/bin/env bash
# Gives each service its own PostgreSQL login role metro_NAME and schema NAME in the metro
# database (idempotent), then prints one "NAME URL" line per service with its connection URL.
# Also creates the shared schema events (the embedded event log) and grants every role its use.
set -euo pipefail

usage() {
  cat >&2 <<USAGE
usage: $0 ADMIN_URL DIR NAME...
  ADMIN_URL  superuser URL, e.g. the METRO_PG_ADMIN_URL written by scripts/pg.sh
  DIR        where generated passwords are kept as DIR/NAME.password (mode 600)
  NAME       service name: lowercase letters, digits and _, starting with a letter
The password of NAME comes from METRO_PG_PASSWORD_<NAME in upper case> when set, else from
DIR/NAME.password, else it is generated and saved there.
USAGE
  exit 2
}
[ $# -ge 3 ] || usage
admin_url=$1
dir=$2
shift 2
events_sql=$(cd "$(dirname "${BASH_SOURCE[0]}")/../sql/events" && pwd)
for name in "$@"; do
  [[ $name =~ ^[a-z][a-z0-9_]{0,39}$ ]] || { echo "pg-provision: bad service name '$name'" >&2; exit 2; }
done
mkdir -p "$dir"

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$admin_url" "$@"; }

# Percent-encodes a URL component byte by byte (unreserved characters stay as they are).
url_encode() {
  local LC_ALL=C s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
    [A-Za-z0-9._~-]) out+=$c ;;
    *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

password_for() {
  local name=$1 var file
  var="METRO_PG_PASSWORD_${name^^}"
  file="$dir/$name.password"
  if [ -n "${!var:-}" ]; then
    printf '%s' "${!var}"
  elif [ -s "$file" ]; then
    cat "$file"
  else
    (
      umask 077
      head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file.tmp"
      mv "$file.tmp" "$file"
    )
    chmod 600 "$file"
    cat "$file"
  fi
}

# Where the admin URL actually leads, so service URLs name the same server and database.
where=$(psql_admin -tA -F ' ' -c \
  "SELECT coalesce(host(inet_server_addr()), '127.0.0.1'), current_setting('port'), current_database()")
read -r host port db <<<"$where"

# Nobody but the service roles may connect, and nobody creates objects in public.
psql_admin <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SQL

# The embedded event log (common/ev_pglog.c): schema events belongs to the administrator;
# sql/events/*.sql are applied in name order, each once, recorded in events.schema_migrations.
psql_admin <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS events;
REVOKE ALL ON SCHEMA events FROM PUBLIC;
CREATE TABLE IF NOT EXISTS events.schema_migrations (
  name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
SQL
for f in "$events_sql"/*.sql; do
  psql_admin -v name="$(basename "$f" .sql)" -v file="$f" >/dev/null <<'SQL'
SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('metro.migrate.events'));
SELECT NOT EXISTS (SELECT 1 FROM events.schema_migrations WHERE name = :'name') AS pending \gset
\if :pending
\i :file
INSERT INTO events.schema_migrations (name) VALUES (:'name');
\endif
COMMIT;
SQL
done

for name in "$@"; do
  role="metro_$name"
  password=$(password_for "$name")
  # The password reaches psql through its environment (\getenv), never its command line.
  METRO_PROVISION_PASSWORD=$password psql_admin -v role="$role" -v schema="$name" <<'SQL'
SET client_min_messages = warning;
\getenv password METRO_PROVISION_PASSWORD
SELECT format('CREATE ROLE %I LOGIN', :'role')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L',
              :'role', :'password') \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), :'role') \gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'schema', :'role') \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'schema', :'role') \gexec
SELECT format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', :'schema') \gexec
-- The event log: append, read, and commit this role's consumer-group offsets.
SELECT format('GRANT USAGE ON SCHEMA events TO %I', :'role') \gexec
SELECT format('GRANT SELECT, INSERT ON events.log TO %I', :'role') \gexec
SELECT format('GRANT USAGE ON SEQUENCE %s TO %I', pg_get_serial_sequence('events.log', 'offset'), :'role') \gexec
SELECT format('GRANT SELECT, INSERT, UPDATE ON events.group_offsets TO %I', :'role') \gexec
SQL
  printf '%s postgresql://%s:%s@%s:%s/%s?options=-csearch_path%%3D%s\n' \
    "$name" "$role" "$(url_encode "$password")" "$host" "$port" "$db" "$name"
done
