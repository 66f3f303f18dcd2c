#!/usr/bin/env bash
# Installs the pinned OpenAPI linters the tests use into .cache/openapi-tools: Redocly CLI (npm)
# and openapi-spec-validator (PyPI, in a venv), skipping those already at the pinned version;
# prints the bin directory holding `redocly` and `openapi-spec-validator`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$root/.cache/openapi-tools
bin=$dir/bin

REDOCLY_VERSION=2.77.0             # @redocly/cli; needs node >= 20.19
SPEC_VALIDATOR_VERSION=0.7.2       # openapi-spec-validator

for t in node npm python3; do
  command -v "$t" >/dev/null 2>&1 || { echo "openapi-tools.sh: $t not found" >&2; exit 1; }
done
mkdir -p "$bin"
# Two test runs (the Debug and the ASan build) may ask at once: one installs, the other waits.
exec 9>"$dir/.lock"
flock 9

# npm's cache and the packages stay under .cache; no update notice, no audit, no telemetry.
export npm_config_cache=$root/.cache/npm npm_config_update_notifier=false npm_config_fund=false \
  npm_config_audit=false REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

redocly_pkg=$dir/npm/node_modules/@redocly/cli/package.json
redocly_installed=$( [ -f "$redocly_pkg" ] && node -p "require('$redocly_pkg').version" 2>/dev/null || true)
if [ "$redocly_installed" != "$REDOCLY_VERSION" ]; then
  echo "openapi-tools.sh: installing @redocly/cli $REDOCLY_VERSION" >&2
  mkdir -p "$dir/npm"
  npm install --prefix "$dir/npm" --no-save --loglevel=error "@redocly/cli@$REDOCLY_VERSION" >&2
fi
ln -sf ../npm/node_modules/.bin/redocly "$bin/redocly"

venv=$dir/venv
validator_installed=$( [ -x "$venv/bin/python" ] &&
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))' 2>/dev/null || true)
if [ "$validator_installed" != "$SPEC_VALIDATOR_VERSION" ]; then
  echo "openapi-tools.sh: installing openapi-spec-validator $SPEC_VALIDATOR_VERSION" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==$SPEC_VALIDATOR_VERSION" >&2
fi
ln -sf ../venv/bin/openapi-spec-validator "$bin/openapi-spec-validator"

for t in redocly openapi-spec-validator; do
  [ -x "$bin/$t" ] || { echo "openapi-tools.sh: $t missing after install" >&2; exit 1; }
done
echo "$bin"
