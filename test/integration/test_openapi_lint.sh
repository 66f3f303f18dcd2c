#!/usr/bin/env bash
# The gateway's /openapi.json as API tooling reads it: Redocly CLI with the committed redocly.yaml
# (recommended rules) and openapi-spec-validator, both pinned (scripts/openapi-tools.sh). Any
# error or warning of either fails; so does a path that differs from another only by names.
set -euo pipefail
. "$METRO_TEST_ENV"
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0
check() { passed=$((passed + 1)); echo "ok - $1"; }

bin=$(bash "$METRO_SOURCE_DIR/scripts/openapi-tools.sh")
# No telemetry, no update check: the test reaches nothing but the stack.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
doc=$work/openapi.json

code=$(curl -sS --max-time 10 -o "$doc" -w '%{http_code}' "$METRO_HTTP/openapi.json")
[ "$code" = 200 ] || fail "GET /openapi.json: $code"
python3 - "$doc" <<'PY' || fail "the document's shape"
import json, re, sys
doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3.0."), doc["openapi"]
seen = {}
for path in doc["paths"]:
    shape = re.sub(r"\{[^}]*\}", "{}", path)
    assert shape not in seen, f"{seen[shape]} and {path} differ only by parameter names"
    seen[shape] = path
ops = [op for item in doc["paths"].values() for op in item.values()]
assert len(ops) > 100, len(ops)
assert all(op.get("summary") for op in ops), "an operation without a summary"
print(f"{len(ops)} operations on {len(doc['paths'])} paths")
PY
check "GET /openapi.json answers a 3.0 document, one path per shape, every operation summarised"

out=$(cd "$work" && "$bin/redocly" lint "$doc" --config "$METRO_SOURCE_DIR/redocly.yaml" --format=json 2>/dev/null) ||
  true
totals=$(python3 -c 'import json, sys; t = json.load(sys.stdin)["totals"]; print(t["errors"], t["warnings"])' \
  <<<"$out") || fail "redocly lint gave no report: $out"
if [ "$totals" != "0 0" ]; then
  (cd "$work" && "$bin/redocly" lint "$doc" --config "$METRO_SOURCE_DIR/redocly.yaml" --format=stylish \
    --max-problems 50 2>&1 | grep -v '[║╔╚]') >&2 || true
  fail "redocly lint: errors and warnings $totals"
fi
check "redocly lint (recommended, redocly.yaml): 0 errors, 0 warnings"

out=$("$bin/openapi-spec-validator" "$doc" 2>&1) || fail "openapi-spec-validator: $out"
grep -q ': OK$' <<<"$out" || fail "openapi-spec-validator: $out"
check "openapi-spec-validator: OK"

echo "$passed passed, 0 failed"
