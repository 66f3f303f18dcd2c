#!/usr/bin/env bash
# The hostile-HTTP suite (test/edge/hostile_http.py) against the stack's gateway: smuggling,
# malformed framing and headers, size limits, slowloris, HEAD, media types, idle connections.
set -euo pipefail
exec python3 "$METRO_SOURCE_DIR/test/edge/hostile_http.py" "$@"
