#!/usr/bin/env bash
# Installs the Debian packages Metro builds and tests with, only those missing.
# Uses apt-get directly as root, through sudo otherwise; safe to run repeatedly.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  protobuf-compiler libprotobuf-dev protobuf-c-compiler libprotobuf-c-dev
  libgrpc-dev protobuf-compiler-grpc
  golang-github-gogo-googleapis-dev grpc-proto
  libpq-dev postgresql postgresql-contrib
  libhiredis-dev redis-server
  librdkafka-dev libjansson-dev libssl-dev libcurl4-openssl-dev libcmocka-dev
  libmicrohttpd-dev libzip-dev libqrencode-dev libpng-dev
  wrk nghttp2-client curl golang-go python3 nginx
)
if [ "${1:-}" = "--test" ]; then
  packages+=(default-jdk-headless maven zbar-tools clang libclang-rt-14-dev nodejs npm python3-venv)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# golang-go is only needed when no Go toolchain is on PATH already.
if command -v go >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = golang-go ] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
# A JDK (java runs the Kafka broker, javac builds the GTFS validator's driver: scripts/gtfs-validator.sh)
# is only needed when either is missing from PATH.
if command -v java >/dev/null 2>&1 && command -v javac >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = default-jdk-headless ] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
# Node and npm run the OpenAPI linter (scripts/openapi-tools.sh): any install of them will do.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
# Likewise Maven (it fetches the Kafka broker for the tests: scripts/kafka.sh).
if command -v mvn >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [ "$p" = maven ] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
