#!/usr/bin/env bash
# `make run`: starts PostgreSQL, Redis, Mailpit, every service and the REST gateway on loopback
# (state in .run/), bootstraps the admin, prints how to try it, and stops all on Ctrl-C.
# `make run-providers` (METRO_STACK_PROVIDERS=1) adds the VNPay, PayPal, Sepay and SMS emulators.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=$root/.run
mkdir -p "$state/secrets"
chmod 700 "$state/secrets"

export METRO_ADMIN_EMAIL=${METRO_ADMIN_EMAIL:-admin@metro.local}
export METRO_ADMIN_USERNAME=${METRO_ADMIN_USERNAME:-admin}
if [ -z "${METRO_ADMIN_PASSWORD:-}" ]; then
  # No built-in default password: one is generated on first run and kept in .run/.
  pwfile=$state/secrets/admin.password
  if [ ! -s "$pwfile" ]; then
    (umask 077 && printf 'Metro-%s-Adm1n!' "$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$pwfile")
  fi
  METRO_ADMIN_PASSWORD=$(cat "$pwfile")
  export METRO_ADMIN_PASSWORD
fi
export METRO_HTTP_PORT=${METRO_HTTP_PORT:-8080}
# Mailpit catches the emails (scripts/mailpit.sh): SMTP on 1025, the UI on 8025.
export MAILPIT_SMTP_PORT=${MAILPIT_SMTP_PORT:-1025} MAILPIT_HTTP_PORT=${MAILPIT_HTTP_PORT:-8025}
# The local demo sells tickets to unverified accounts (domain spec §1: on in production).
export METRO_REQUIRE_VERIFIED_EMAIL=${METRO_REQUIRE_VERIFIED_EMAIL:-false}

stop() {
  echo
  echo "Stopping Metro..."
  bash "$root/scripts/stack.sh" stop "$state"
  exit 0
}
trap stop INT TERM
bash "$root/scripts/stack.sh" start "$state" "$root/$build"

cat <<BANNER

  Metro is running. REST: http://127.0.0.1:$METRO_HTTP_PORT   gRPC auth: 127.0.0.1:50051
  Admin: $METRO_ADMIN_EMAIL / $METRO_ADMIN_PASSWORD   Logs: .run/logs/   Ctrl-C stops everything.
  Emails: http://127.0.0.1:$MAILPIT_HTTP_PORT   (Mailpit; SMTP 127.0.0.1:$MAILPIT_SMTP_PORT)

  Try it:
    curl -s -X POST http://127.0.0.1:$METRO_HTTP_PORT/v1/auth/register -H 'Content-Type: application/json' \\
      -d '{"email":"lan@example.com","username":"lan","password":"Saigon-Metro-2026","firstName":"Lan","lastName":"Nguyen"}'
    curl -s -X POST http://127.0.0.1:$METRO_HTTP_PORT/v1/auth/login -H 'Content-Type: application/json' \\
      -d '{"email":"$METRO_ADMIN_EMAIL","password":"$METRO_ADMIN_PASSWORD"}'
    curl -s http://127.0.0.1:$METRO_HTTP_PORT/v1/auth/me -H "Authorization: Bearer <accessToken>"
    curl -s http://127.0.0.1:$METRO_HTTP_PORT/openapi.json
    grpcurl -plaintext 127.0.0.1:50051 list     (grpcurl: bash scripts/tools.sh installs it into .cache/tools/bin)

BANNER
if [ "${METRO_STACK_PROVIDERS:-0}" = 1 ]; then
  # shellcheck disable=SC1091
  . "$state/providers/env"
  cat <<PROVIDERS
  Payment emulators (test/providers/README.md): VNPay $METRO_VNPAY_PAY_URL
    PayPal $METRO_PAYPAL_API_BASE   Sepay control $PROVIDER_SEPAY_CONTROL
  Texts sent (SMS emulator): curl -s $PROVIDER_SMS_CONTROL/messages
  Pay as in the README: open a ticket's paymentUrl / approveUrl, or send a Sepay transfer:
    curl -s -X POST $PROVIDER_SEPAY_CONTROL/transfer -H 'Content-Type: application/json' \\
      -d '{"content":"Payment for ticket <ticketId>","transferAmount":<amount>}'

PROVIDERS
fi
while true; do sleep 3600 & wait $!; done
