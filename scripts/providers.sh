#!/usr/bin/env bash
# Starts or stops the provider emulators (VNPay, PayPal, Sepay, SMS: test/providers/) on free
# 127.0.0.1 ports, with secrets generated at start; writes DIR/env with the METRO_* variables
# the payment and notification services read and each emulator's control URL (PROVIDER_*_CONTROL).
set -euo pipefail

usage() {
  cat >&2 <<USAGE
usage: $0 start DIR [PUBLIC_BASE_URL] | stop DIR | status DIR
  DIR              pidfiles, ports, logs (DIR/<provider>.log) and DIR/env
  PUBLIC_BASE_URL  where the gateway serves the provider callbacks (default: \$METRO_PUBLIC_BASE_URL,
                   else http://127.0.0.1:8080): GET /v1/webhooks/vnpay/ipn, POST /v1/webhooks/paypal,
                   POST /v1/webhooks/sepay (and the VNPay return URL GET /v1/payments/vnpay/return)
Environment:
  PROVIDER_VNPAY_IPN_URL, PROVIDER_PAYPAL_WEBHOOK_URL, PROVIDER_SEPAY_WEBHOOK_URL  override one URL
  PROVIDER_RETRY_UNIT_MS  what one provider minute of the callback retry schedules lasts (default 100)
  PROVIDER_SMS_SENDER     the SMS sender name written as METRO_SMS_SENDER (default METRO)
USAGE
  exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
emulators=$(dirname "$here")/test/providers
providers=(vnpay paypal sepay sms)
envfile=$dir/env

# shellcheck source=lib/proc.sh
. "$here/lib/proc.sh"

# The pid in DIR/NAME.pid when that process is alive and runs NAME.py.
running_pid() {
  local f=$dir/$1.pid pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "test/providers/$1.py" || return 1
  echo "$pid"
}

# GET /_control/health over bash's /dev/tcp, so curl is not needed.
healthy() {
  local line=""
  {
    exec 3<>"/dev/tcp/127.0.0.1/$1" &&
      printf 'GET /_control/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 &&
      IFS= read -r -t 2 line <&3 &&
      timeout 2 cat <&3 >/dev/null
    exec 3>&-
  } 2>/dev/null || true
  [[ $line == "HTTP/1."?" 200"* ]]
}

stop_one() {
  local pid
  if pid=$(running_pid "$1"); then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/$1.pid" "$dir/$1.port"
}

all_running() {
  local p
  for p in "${providers[@]}"; do
    running_pid "$p" >/dev/null && [ -s "$dir/$p.port" ] && healthy "$(cat "$dir/$p.port")" || return 1
  done
  [ -s "$envfile" ]
}

# start_one NAME ARGS...: runs NAME.py on a port of its choosing (the port file tells it).
start_one() {
  local name=$1 pid port
  shift
  rm -f "$dir/$name.port"
  python3 "$emulators/$name.py" --port 0 --port-file "$dir/$name.port" "$@" \
    </dev/null >>"$dir/$name.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/$name.pid"
  for _ in $(seq 1 600); do
    if [ -s "$dir/$name.port" ] && healthy "$(cat "$dir/$name.port")"; then return 0; fi
    alive "$pid" || break
    sleep 0.05
  done
  echo "providers.sh: $name did not start; see $dir/$name.log" >&2
  tail -n 20 "$dir/$name.log" >&2 || true
  return 1
}

# Each secret in VNPay's, PayPal's and Sepay's own shape.
generate_secrets() {
  python3 - <<'PY'
import secrets, string
up = string.ascii_uppercase + string.digits
pick = lambda n, abc=up: "".join(secrets.choice(abc) for _ in range(n))
print(f"vnpay_tmn={pick(8)} vnpay_secret={pick(32)}")
print(f"paypal_id=A{secrets.token_urlsafe(60)} paypal_secret=E{secrets.token_urlsafe(60)} paypal_webhook={pick(17)}")
print(f"sepay_key={pick(32)} sepay_account={pick(12, string.digits)}")
print(f"sms_key={secrets.token_hex(24)}")
PY
}

start() {
  command -v python3 >/dev/null || { echo "providers.sh: python3 not found" >&2; exit 1; }
  local base=${3:-${METRO_PUBLIC_BASE_URL:-http://127.0.0.1:8080}}
  base=${base%/}
  local ipn=${PROVIDER_VNPAY_IPN_URL:-$base/v1/webhooks/vnpay/ipn}
  local paypal_hook=${PROVIDER_PAYPAL_WEBHOOK_URL:-$base/v1/webhooks/paypal}
  local sepay_hook=${PROVIDER_SEPAY_WEBHOOK_URL:-$base/v1/webhooks/sepay}
  mkdir -p "$dir"
  chmod 700 "$dir"
  # Running emulators that call the same merchant URLs are kept (with their secrets).
  if all_running && grep -qxF "PROVIDER_VNPAY_IPN_URL=$ipn" "$envfile" &&
    grep -qxF "PROVIDER_PAYPAL_WEBHOOK_URL=$paypal_hook" "$envfile" &&
    grep -qxF "PROVIDER_SEPAY_WEBHOOK_URL=$sepay_hook" "$envfile"; then
    echo "providers.sh: reusing the emulators already running in $dir" >&2
    return 0
  fi
  for p in "${providers[@]}"; do stop_one "$p"; done
  local vnpay_tmn vnpay_secret paypal_id paypal_secret paypal_webhook sepay_key sepay_account sms_key
  eval "$(generate_secrets)"
  [ -n "${sms_key:-}" ] || { echo "providers.sh: could not generate the secrets" >&2; exit 1; }
  VNPAY_TMN_CODE=$vnpay_tmn VNPAY_HASH_SECRET=$vnpay_secret start_one vnpay --ipn-url "$ipn"
  PAYPAL_CLIENT_ID=$paypal_id PAYPAL_CLIENT_SECRET=$paypal_secret PAYPAL_WEBHOOK_ID=$paypal_webhook \
    start_one paypal --webhook-url "$paypal_hook"
  SEPAY_API_KEY=$sepay_key SEPAY_ACCOUNT=$sepay_account start_one sepay --webhook-url "$sepay_hook" --bank MBBank
  SMS_API_KEY=$sms_key start_one sms
  local v p s m
  v=http://127.0.0.1:$(cat "$dir/vnpay.port")
  p=http://127.0.0.1:$(cat "$dir/paypal.port")
  s=http://127.0.0.1:$(cat "$dir/sepay.port")
  m=http://127.0.0.1:$(cat "$dir/sms.port")
  (
    umask 077
    cat >"$envfile.tmp" <<ENV
METRO_PUBLIC_BASE_URL=$base
METRO_VNPAY_PAY_URL=$v/paymentv2/vpcpay.html
METRO_VNPAY_API_URL=$v/merchant_webapi/api/transaction
METRO_VNPAY_TMN_CODE=$vnpay_tmn
METRO_VNPAY_HASH_SECRET=$vnpay_secret
METRO_PAYPAL_API_BASE=$p
METRO_PAYPAL_CLIENT_ID=$paypal_id
METRO_PAYPAL_CLIENT_SECRET=$paypal_secret
METRO_PAYPAL_WEBHOOK_ID=$paypal_webhook
METRO_SEPAY_API_KEY=$sepay_key
METRO_SEPAY_QR_BASE=$s
METRO_SEPAY_BANK=MBBank
METRO_SEPAY_ACCOUNT=$sepay_account
METRO_SMS_API_URL=$m/v1/messages
METRO_SMS_API_KEY=$sms_key
METRO_SMS_SENDER=${PROVIDER_SMS_SENDER:-METRO}
PROVIDER_VNPAY_CONTROL=$v/_control
PROVIDER_PAYPAL_CONTROL=$p/_control
PROVIDER_SEPAY_CONTROL=$s/_control
PROVIDER_SMS_CONTROL=$m/_control
PROVIDER_VNPAY_IPN_URL=$ipn
PROVIDER_PAYPAL_WEBHOOK_URL=$paypal_hook
PROVIDER_SEPAY_WEBHOOK_URL=$sepay_hook
ENV
  )
  mv "$envfile.tmp" "$envfile"
  echo "providers.sh: vnpay $v, paypal $p, sepay $s, sms $m; environment in $envfile" >&2
}

case $cmd in
start)
  [ $# -le 3 ] || usage
  start "$@"
  ;;
stop)
  for p in "${providers[@]}"; do stop_one "$p"; done
  ;;
status)
  rc=0
  for p in "${providers[@]}"; do
    if running_pid "$p" >/dev/null && [ -s "$dir/$p.port" ]; then
      echo "$p running on port $(cat "$dir/$p.port")"
    else
      echo "$p stopped"
      rc=3
    fi
  done
  exit $rc
  ;;
*) usage ;;
esac
