#!/usr/bin/env bash
# Starts or stops the nginx edge (deploy/nginx/metro.conf.template) under DIR in front of a
# Metro gateway: renders the config, makes a self-signed test certificate when none is given.
set -euo pipefail

usage() {
  cat >&2 <<USAGE
usage: $0 start DIR GATEWAY | stop DIR
  DIR      state: DIR/nginx.conf (rendered), DIR/tls/ (the generated certificate), DIR/logs/
           (access.log as JSON lines, error.log), DIR/nginx.pid and DIR/env, which holds
           METRO_EDGE_HTTPS=https://127.0.0.1:P, METRO_EDGE_HTTP=http://127.0.0.1:Q and
           METRO_EDGE_CA=<the certificate to give curl --cacert>
  GATEWAY  host:port of metro-transcoder (make run: 127.0.0.1:8080)
Environment:
  METRO_EDGE_HTTPS_PORT, METRO_EDGE_HTTP_PORT  listen ports (default 8443 and 8081;
                            free ones with METRO_STACK_FREE_PORTS=1)
  METRO_EDGE_ADDR           listen address (default 127.0.0.1)
  METRO_EDGE_CERT, METRO_EDGE_KEY  PEM certificate chain and key (default: a self-signed
                            certificate for localhost and 127.0.0.1, made in DIR/tls)
  METRO_EDGE_CORS_ORIGINS   allowed origins, comma-separated (default: METRO_CORS_ORIGINS, else none)
  METRO_EDGE_RATE, METRO_EDGE_BURST  per-client request limit (default 20r/s with a burst of 40)
  METRO_EDGE_PROXY_BIND     source address of the connections to the gateway (default: the
                            kernel's choice); the gateway's METRO_TRUSTED_PROXIES names it
  NGINX_BIN                 the nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
nginx runs as the calling user (as root, its workers run as nobody); it needs no root.
USAGE
  exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
template=$root/deploy/nginx/metro.conf.template
pidfile=$dir/nginx.pid

# shellcheck source=lib/proc.sh
. "$here/lib/proc.sh"

die() {
  echo "nginx.sh: $*" >&2
  exit 1
}

nginx_bin() {
  local bin=${NGINX_BIN:-}
  [ -n "$bin" ] || bin=$(command -v nginx 2>/dev/null || true)
  [ -n "$bin" ] || bin=/usr/sbin/nginx
  [ -x "$bin" ] || die "nginx not found (Debian: apt-get install nginx; scripts/install-deps.sh installs it)"
  echo "$bin"
}

# The master's pid when the pidfile names a live nginx master of this DIR.
running_pid() {
  [ -s "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/nginx.conf" || return 1
  echo "$pid"
}

stop() {
  local pid
  if pid=$(running_pid); then
    kill -QUIT "$pid" 2>/dev/null || true # graceful: idle keep-alive connections close at once
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do alive "$pid" || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A self-signed P-256 certificate for localhost and 127.0.0.1 (its own CA for curl --cacert),
# kept while it has more than a day left.
make_cert() {
  local cert=$dir/tls/cert.pem key=$dir/tls/key.pem
  if [ -s "$cert" ] && [ -s "$key" ] && openssl x509 -checkend 86400 -noout -in "$cert" >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$dir/tls"
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
      -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -addext "extendedKeyUsage=serverAuth" -keyout "$key.tmp" -out "$cert.tmp" >/dev/null 2>&1
  ) || die "openssl could not make a test certificate"
  chmod 644 "$cert.tmp"
  mv "$key.tmp" "$key"
  mv "$cert.tmp" "$cert"
}

# The map entries of the allowed origins, each checked so nothing else reaches the config.
cors_entries() {
  local list=$1 origin out=""
  IFS=',' read -r -a origins <<<"$list"
  for origin in "${origins[@]}"; do
    origin=${origin//[[:space:]]/}
    [ -n "$origin" ] || continue
    [[ $origin =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]] || die "not an origin (scheme://host[:port]): $origin"
    out+="    \"$origin\" \$http_origin;"$'\n'
  done
  printf '%s' "$out"
}

render() { # gateway https_port http_port cert key
  local text listen_addr=${METRO_EDGE_ADDR:-127.0.0.1}
  local rate=${METRO_EDGE_RATE:-20r/s} burst=${METRO_EDGE_BURST:-40}
  local origins=${METRO_EDGE_CORS_ORIGINS-${METRO_CORS_ORIGINS:-}}
  [[ $1 =~ ^[A-Za-z0-9.-]+:[0-9]{1,5}$ ]] || die "GATEWAY must be host:port, got: $1"
  [[ $listen_addr =~ ^[0-9.]+$ ]] || die "METRO_EDGE_ADDR must be an IPv4 address, got: $listen_addr"
  [[ $rate =~ ^[0-9]+r/[sm]$ ]] || die "METRO_EDGE_RATE must look like 20r/s or 600r/m, got: $rate"
  [[ $burst =~ ^[0-9]+$ ]] || die "METRO_EDGE_BURST must be a number, got: $burst"
  local bind=""
  if [ -n "${METRO_EDGE_PROXY_BIND:-}" ]; then
    [[ $METRO_EDGE_PROXY_BIND =~ ^[0-9.]+$ ]] || die "METRO_EDGE_PROXY_BIND must be an IPv4 address, got: $METRO_EDGE_PROXY_BIND"
    bind="proxy_bind $METRO_EDGE_PROXY_BIND;"
  fi
  local f
  for f in "$4" "$5"; do
    [[ $f != *[[:space:]\;\'\"{}\$]* ]] || die "unusable path for nginx: $f"
  done
  local user=""
  if [ "$(id -u)" -eq 0 ]; then
    if getent group nogroup >/dev/null 2>&1; then user="user nobody nogroup;"; else user="user nobody;"; fi
  fi
  local cors
  cors=$(cors_entries "$origins") || exit 1
  local redirect_port=":$2"
  [ "$2" != 443 ] || redirect_port=""
  text=$(cat "$template")
  text=${text//'${EDGE_USER}'/"$user"}
  text=${text//'${EDGE_STATE_DIR}'/"$dir"}
  text=${text//'${EDGE_LISTEN_HTTPS}'/"$listen_addr:$2"}
  text=${text//'${EDGE_LISTEN_HTTP}'/"$listen_addr:$3"}
  text=${text//'${EDGE_REDIRECT_PORT}'/"$redirect_port"}
  text=${text//'${EDGE_GATEWAY}'/"$1"}
  text=${text//'${EDGE_PROXY_BIND}'/"$bind"}
  text=${text//'${EDGE_CERT}'/"$4"}
  text=${text//'${EDGE_KEY}'/"$5"}
  text=${text//'${EDGE_CORS_ORIGINS}'/"$cors"}
  text=${text//'${EDGE_RATE}'/"$rate"}
  text=${text//'${EDGE_BURST}'/"$burst"}
  # Only the header comment may still name a placeholder.
  if grep -v '^[[:space:]]*#' <<<"$text" | grep -q '\${EDGE_'; then
    die "the template has a placeholder this script does not know: $(grep -v '^[[:space:]]*#' <<<"$text" | grep -o '\${EDGE_[A-Z_]*}' | head -1)"
  fi
  printf '%s\n' "$text" >"$dir/nginx.conf.tmp"
  mv "$dir/nginx.conf.tmp" "$dir/nginx.conf"
}

start() {
  [ $# -eq 1 ] || usage
  local gateway=$1 bin https_port http_port cert key
  bin=$(nginx_bin)
  stop
  mkdir -p "$dir/logs" "$dir/tmp/client_body" "$dir/tmp/proxy" "$dir/tmp/fastcgi" "$dir/tmp/uwsgi" "$dir/tmp/scgi"
  local free=${METRO_STACK_FREE_PORTS:-0}
  https_port=${METRO_EDGE_HTTPS_PORT:-}
  http_port=${METRO_EDGE_HTTP_PORT:-}
  if [ -z "$https_port" ]; then
    if [ "$free" = 1 ]; then https_port=$("$here/free-port.sh"); else https_port=8443; fi
  fi
  if [ -z "$http_port" ]; then
    if [ "$free" = 1 ]; then http_port=$("$here/free-port.sh"); else http_port=8081; fi
    while [ "$http_port" = "$https_port" ]; do http_port=$("$here/free-port.sh"); done
  fi
  local p
  for p in "$https_port" "$http_port"; do
    ! port_busy "$p" || die "port $p is in use (set METRO_EDGE_HTTPS_PORT and METRO_EDGE_HTTP_PORT)"
  done
  if [ -n "${METRO_EDGE_CERT:-}" ] || [ -n "${METRO_EDGE_KEY:-}" ]; then
    [ -s "${METRO_EDGE_CERT:-}" ] && [ -s "${METRO_EDGE_KEY:-}" ] || die "METRO_EDGE_CERT and METRO_EDGE_KEY name files, both"
    cert=$(realpath -- "$METRO_EDGE_CERT")
    key=$(realpath -- "$METRO_EDGE_KEY")
  else
    make_cert
    cert=$dir/tls/cert.pem
    key=$dir/tls/key.pem
  fi
  render "$gateway" "$https_port" "$http_port" "$cert" "$key"
  local args=(-p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log")
  "$bin" "${args[@]}" -t -q || die "the rendered $dir/nginx.conf does not pass nginx -t"
  "$bin" "${args[@]}" || die "nginx did not start; see $dir/logs/error.log"
  local host=${METRO_EDGE_ADDR:-127.0.0.1}
  [ "$host" != 0.0.0.0 ] || host=127.0.0.1
  for _ in $(seq 1 200); do
    if running_pid >/dev/null && port_busy "$https_port" && port_busy "$http_port"; then
      printf 'METRO_EDGE_HTTPS=https://%s:%s\nMETRO_EDGE_HTTP=http://%s:%s\nMETRO_EDGE_CA=%s\n' \
        "$host" "$https_port" "$host" "$http_port" "$cert" >"$dir/env.tmp"
      mv "$dir/env.tmp" "$dir/env"
      echo "nginx.sh: https://$host:$https_port and http://$host:$http_port -> $gateway; environment in $dir/env" >&2
      return 0
    fi
    sleep 0.05
  done
  tail -n 20 "$dir/logs/error.log" >&2 || true
  stop
  die "nginx did not come up on ports $https_port and $http_port"
}

case $cmd in
start)
  shift 2
  start "$@"
  ;;
stop)
  [ $# -eq 2 ] || usage
  stop
  ;;
*) usage ;;
esac
