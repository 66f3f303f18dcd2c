#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer target of the gateway's request path (test/fuzz/fuzz_request.c)
# with clang in a build directory of its own (that target and what it links only), and runs it
# for a bounded time over the committed seeds and regressions.
# Usage: scripts/fuzz.sh [build dir, default build-fuzz] [seconds, default $METRO_FUZZ_SECONDS or 600]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
seconds=${2:-${METRO_FUZZ_SECONDS:-600}}
if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is missing (scripts/install-deps.sh --test installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMETRO_FUZZ=ON >/dev/null
cmake --build "$dir" --target fuzz_request
# New inputs the fuzzer finds go to the first directory; the committed ones are only read.
mkdir -p "$dir/corpus" "$dir/artifacts"
log="$dir/fuzz.log"
echo "fuzz: fuzz_request for ${seconds}s (log: $log)"
# METRO_FUZZ_SEED / METRO_FUZZ_RUNS (make test sets both): the same inputs on every run.
repeat=()
[ -z "${METRO_FUZZ_SEED:-}" ] || repeat+=(-seed="$METRO_FUZZ_SEED")
[ -z "${METRO_FUZZ_RUNS:-}" ] || repeat+=(-runs="$METRO_FUZZ_RUNS")
if "$dir/test/fuzz/fuzz_request" "${repeat[@]}" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=4096 \
    -dict=test/fuzz/request.dict -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
    "$dir/corpus" test/fuzz/corpus test/fuzz/regressions >"$log" 2>&1; then
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
  exit 0
fi
tail -n 60 "$log" >&2
echo "fuzz: failed; a crashing input is in $dir/artifacts/. Once fixed, add it to test/fuzz/regressions/." >&2
exit 1
