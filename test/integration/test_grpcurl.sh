#!/usr/bin/env bash
# grpcurl against the running auth server with no proto files on the client side:
# server reflection (list, describe), health, and calls with JSON bodies and rich errors.
set -euo pipefail
. "$METRO_TEST_ENV"
grpcurl="$(bash "$METRO_SOURCE_DIR/scripts/tools.sh")/grpcurl"
target=$METRO_AUTH_GRPC
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
check() { passed=$((passed + 1)); echo "ok - $1"; }

services=$("$grpcurl" -plaintext "$target" list)
for s in metro.auth.v1.AuthService grpc.health.v1.Health grpc.reflection.v1.ServerReflection; do
  grep -qx "$s" <<<"$services" || fail "list lacks $s: $services"
done
check "list names every service"

"$grpcurl" -plaintext "$target" describe metro.auth.v1.AuthService | grep -q 'rpc Login' || fail "describe"
"$grpcurl" -plaintext "$target" describe metro.auth.v1.Session | grep -q 'string access_token = 1' || fail "describe message"
check "describe services and messages"

"$grpcurl" -plaintext "$target" grpc.health.v1.Health/Check | grep -q '"SERVING"' || fail "health"
"$grpcurl" -plaintext -d '{"service":"metro.auth.v1.AuthService"}' "$target" grpc.health.v1.Health/Check | grep -q SERVING || fail "health of the service"
check "health check"

"$grpcurl" -plaintext -d '{}' "$target" metro.auth.v1.AuthService/GetJwks | grep -q '"kty": "OKP"' || fail "GetJwks"
check "call with a JSON body"

user="grpcurl$RANDOM$$"
body="{\"email\":\"$user@example.com\",\"username\":\"$user\",\"password\":\"Saigon-Metro-2026\",\"firstName\":\"Lan\",\"lastName\":\"Nguyen\"}"
"$grpcurl" -plaintext -d "$body" "$target" metro.auth.v1.AuthService/SignUp | grep -q '"accessToken"' || fail "SignUp"
check "sign up over gRPC"

out=$("$grpcurl" -plaintext -d '{"login":"nobody@example.com","password":"Wrong-Password-1"}' "$target" metro.auth.v1.AuthService/Login 2>&1 || true)
grep -q 'Code: Unauthenticated' <<<"$out" || fail "login error code: $out"
grep -q '"reason": "INVALID_CREDENTIALS"' <<<"$out" || fail "ErrorInfo not decoded: $out"
check "errors carry google.rpc.ErrorInfo"

out=$("$grpcurl" -plaintext "$target" metro.auth.v1.AuthService/GetCurrentUser 2>&1 || true)
grep -q 'Code: Unauthenticated' <<<"$out" || fail "GetCurrentUser without identity: $out"
out=$("$grpcurl" -plaintext -H 'x-metro-identity: 00000000-0000-4000-8000-000000000000;admin;4102444800' \
  -H 'x-metro-identity-sig: forged' "$target" metro.auth.v1.AuthService/GetCurrentUser 2>&1 || true)
grep -q 'Code: Unauthenticated' <<<"$out" || fail "forged identity accepted: $out"
check "a forged identity header is refused"

# Regression: each grpcurl keeps a reflection stream open while it calls; streams must not
# hold the workers unary calls need (more clients than workers once deadlocked the server).
pids=()
for i in $(seq 1 16); do
  "$grpcurl" -plaintext -max-time 20 -d '{}' "$target" metro.auth.v1.AuthService/GetJwks >/dev/null 2>&1 &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
[ "$failed" -eq 0 ] || fail "$failed of 16 concurrent grpcurl calls failed"
check "16 concurrent grpcurl clients (more than the workers) are all served"

echo "$passed passed, 0 failed"
