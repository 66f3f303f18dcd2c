#!/usr/bin/env bash
# The nginx edge (deploy/nginx, scripts/nginx.sh) in front of the stack's gateway, with Debian's
# real nginx: TLS, the HTTPS redirect, CORS, size and rate limits, forwarded headers, JSON logs.
set -euo pipefail
. "$METRO_TEST_ENV"
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
check() { passed=$((passed + 1)); echo "ok - $1"; }

nginx=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
[ -x "$nginx" ] || fail "nginx is not installed (scripts/install-deps.sh installs it; make test runs that)"
gateway=${METRO_HTTP#http://}

work=$(mktemp -d /tmp/metro-edge-test.XXXXXX)
edge=$work/edge
cleanup() {
  bash "$METRO_SOURCE_DIR/scripts/nginx.sh" stop "$edge" || true
  rm -rf "$work"
}
trap cleanup EXIT

# The rates are the test's own so the burst below is sure to pass them. nginx connects to the
# gateway from 127.0.0.3, the one proxy the test stack's gateway trusts (METRO_TRUSTED_PROXIES
# in test/integration/CMakeLists.txt), so the tests' own requests from 127.0.0.1 are not.
METRO_STACK_FREE_PORTS=1 METRO_EDGE_CORS_ORIGINS=https://app.metro.test METRO_EDGE_RATE=10r/s METRO_EDGE_BURST=20 \
  METRO_EDGE_PROXY_BIND=127.0.0.3 bash "$METRO_SOURCE_DIR/scripts/nginx.sh" start "$edge" "$gateway"
# shellcheck disable=SC1091
. "$edge/env"
[ -s "$METRO_EDGE_CA" ] || fail "no certificate at METRO_EDGE_CA=$METRO_EDGE_CA"
https_hostport=${METRO_EDGE_HTTPS#https://}
tls=(--cacert "$METRO_EDGE_CA" --max-time 10)
hdr=$work/headers
body=$work/body

# header NAME: its value in $hdr (the last response), without the CR.
header() { grep -i "^$1:" "$hdr" | tail -n 1 | cut -d: -f2- | sed -e 's/^ *//' -e 's/\r$//'; }

status=$(curl -sS "${tls[@]}" -D "$hdr" -o "$body" -w '%{http_code}' "$METRO_EDGE_HTTPS/v1/stations")
[ "$status" = 200 ] || fail "GET /v1/stations through TLS: $status $(head -c 300 "$body")"
grep -q '"stations"' "$body" || fail "no stations in: $(head -c 300 "$body")"
[ "$(header Strict-Transport-Security)" = "max-age=31536000; includeSubDomains" ] || fail "HSTS: $(cat "$hdr")"
[ "$(header X-Content-Type-Options)" = nosniff ] || fail "nosniff: $(cat "$hdr")"
[ "$(header X-Frame-Options)" = DENY ] || fail "X-Frame-Options: $(cat "$hdr")"
[ "$(header Referrer-Policy)" = no-referrer ] || fail "Referrer-Policy: $(cat "$hdr")"
[ "$(header Server)" = nginx ] || fail "the Server header names a version: $(header Server)"
check "GET /v1/stations over TLS (verified against the test CA) with HSTS and the security headers"

# TLS 1.2 and 1.3 only. The client is allowed TLS 1.1 (security level 0), so a refusal is nginx's.
echo | timeout 10 openssl s_client -connect "$https_hostport" -tls1_2 >/dev/null 2>&1 || fail "TLS 1.2 refused"
if echo | timeout 10 openssl s_client -connect "$https_hostport" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1; then
  fail "TLS 1.1 accepted"
fi
check "TLS 1.2 accepted, TLS 1.1 refused"

out=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code} %{redirect_url}' "$METRO_EDGE_HTTP/v1/stations?pageSize=2&q=a%20b")
[ "$out" = "301 $METRO_EDGE_HTTPS/v1/stations?pageSize=2&q=a%20b" ] || fail "HTTP redirect: $out"
check "http -> 301 to https with the path and query kept"

status=$(curl -sS "${tls[@]}" -D "$hdr" -o "$body" -w '%{http_code}' -X OPTIONS "$METRO_EDGE_HTTPS/v1/auth/login" \
  -H 'Origin: https://app.metro.test' -H 'Access-Control-Request-Method: POST' \
  -H 'Access-Control-Request-Headers: content-type')
[ "$status" = 204 ] || fail "preflight from the allowed origin: $status"
[ "$(header Access-Control-Allow-Origin)" = https://app.metro.test ] || fail "preflight Allow-Origin: $(cat "$hdr")"
header Access-Control-Allow-Methods | grep -q POST || fail "preflight Allow-Methods: $(cat "$hdr")"
header Access-Control-Allow-Headers | grep -qi content-type || fail "preflight Allow-Headers: $(cat "$hdr")"
[ -n "$(header Access-Control-Max-Age)" ] || fail "preflight Max-Age: $(cat "$hdr")"
status=$(curl -sS "${tls[@]}" -D "$hdr" -o "$body" -w '%{http_code}' -X OPTIONS "$METRO_EDGE_HTTPS/v1/auth/login" \
  -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: POST')
[ "$status" = 204 ] || fail "preflight from another origin: $status"
! grep -qi '^access-control-' "$hdr" || fail "another origin got CORS headers: $(cat "$hdr")"
check "CORS preflight: 204 with the allow headers for https://app.metro.test, none for another origin"

curl -sS "${tls[@]}" -D "$hdr" -o /dev/null "$METRO_EDGE_HTTPS/v1/passes" -H 'Origin: https://app.metro.test'
[ "$(header Access-Control-Allow-Origin)" = https://app.metro.test ] || fail "GET Allow-Origin: $(cat "$hdr")"
[ "$(grep -ci '^access-control-allow-origin:' "$hdr")" = 1 ] || fail "Allow-Origin twice: $(cat "$hdr")"
curl -sS "${tls[@]}" -D "$hdr" -o /dev/null "$METRO_EDGE_HTTPS/v1/passes" -H 'Origin: https://evil.example'
! grep -qi '^access-control-' "$hdr" || fail "GET from another origin got CORS headers: $(cat "$hdr")"
check "actual responses carry Access-Control-Allow-Origin (once) for the allowed origin only"

head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$work/2mb"
status=$(curl -sS "${tls[@]}" -o "$body" -w '%{http_code}' -X POST "$METRO_EDGE_HTTPS/v1/auth/login" \
  -H 'Content-Type: application/json' --data-binary @"$work/2mb")
[ "$status" = 413 ] || fail "2 MB body: $status"
grep -q '"reason":"PAYLOAD_TOO_LARGE"' "$body" || fail "413 body: $(head -c 300 "$body")"
check "a 2 MB body -> 413 with a google.rpc.Status body"

# The raw echo route (the test service) shows what the gateway received. The client connects
# from 127.0.0.2 and forges X-Forwarded-For: nginx replaces it with the address it saw, and
# the gateway, trusting nginx's hop, takes that as the client address.
curl -sS "${tls[@]}" --interface 127.0.0.2 -D "$hdr" -o "$body" "$METRO_EDGE_HTTPS/v1/raw/edge/echo" \
  -H 'X-Forwarded-For: 203.0.113.66' -H 'X-Request-Id: edge-test-request-1'
python3 - "$body" <<'PY' || fail "forwarded headers: $(head -c 600 "$body")"
import json, sys
req = json.load(open(sys.argv[1]))["request"]
headers = {h["name"]: h["value"] for h in req["headers"]}
assert headers.get("x-forwarded-for") == "127.0.0.2", headers
assert headers.get("x-forwarded-proto") == "https", headers
assert headers.get("x-request-id") == "edge-test-request-1", headers
assert req["clientIp"] == "127.0.0.2", req["clientIp"]
PY
[ "$(header X-Request-Id)" = edge-test-request-1 ] || fail "X-Request-Id not passed back: $(cat "$hdr")"
# Straight to the gateway, not through the trusted hop: the forged header is not believed.
curl -sS --max-time 10 --interface 127.0.0.2 -o "$body" "$METRO_HTTP/v1/raw/edge/echo" -H 'X-Forwarded-For: 203.0.113.66'
python3 -c 'import json, sys; ip = json.load(open(sys.argv[1]))["request"]["clientIp"]; assert ip == "127.0.0.2", ip' \
  "$body" || fail "the gateway believed a direct caller's X-Forwarded-For: $(head -c 600 "$body")"
check "X-Forwarded-For is the address nginx saw (a forged one is dropped), believed only from nginx; X-Request-Id passes both ways"

python3 - "$edge/logs/access.log" <<'PY' || fail "access log: $(tail -n 2 "$edge/logs/access.log")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines, "empty"
mine = [l for l in lines if l["requestId"] == "edge-test-request-1"]
assert mine and mine[0]["status"] == 200 and mine[0]["remoteAddr"] == "127.0.0.2", mine
assert all("?" not in l["path"] for l in lines), "a query string was logged"
PY
check "the access log is JSON lines with the request id, client address and status"

# 60 requests at once on one connection against 10 r/s with a burst of 20.
burst=()
for _ in $(seq 1 60); do burst+=(-o /dev/null "$METRO_EDGE_HTTPS/healthz"); done
curl -sS "${tls[@]}" -w '%{http_code}\n' "${burst[@]}" >"$work/codes"
ok=$(grep -c '^200$' "$work/codes" || true)
limited=$(grep -c '^429$' "$work/codes" || true)
[ "$limited" -gt 0 ] && [ "$ok" -gt 0 ] && [ $((ok + limited)) = 60 ] ||
  fail "burst: $ok x 200, $limited x 429 of 60: $(sort "$work/codes" | uniq -c | tr '\n' ' ')"
status=$(curl -sS "${tls[@]}" -D "$hdr" -o "$body" -w '%{http_code}' "$METRO_EDGE_HTTPS/healthz")
[ "$status" = 429 ] || fail "right after the burst: $status"
grep -q '"reason":"RATE_LIMITED"' "$body" || fail "429 body: $(head -c 300 "$body")"
[ "$(header Retry-After)" = 1 ] || fail "429 Retry-After: $(cat "$hdr")"
[ "$(header Strict-Transport-Security)" = "max-age=31536000; includeSubDomains" ] || fail "429 without HSTS"
check "a burst over the per-client limit -> 429 ($limited of 60) with Retry-After and a Status body"

bash "$METRO_SOURCE_DIR/scripts/nginx.sh" stop "$edge"
[ ! -e "$edge/nginx.pid" ] || fail "nginx.pid left behind"
! curl -sS "${tls[@]}" -o /dev/null "$METRO_EDGE_HTTPS/healthz" 2>/dev/null || fail "nginx still answers after stop"
check "scripts/nginx.sh stop stops it"

echo "$passed passed, 0 failed"
