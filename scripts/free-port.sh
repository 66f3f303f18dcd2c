#!/usr/bin/env bash
# Prints a TCP port that is free on 127.0.0.1 right now (the kernel's pick when python3 is
# there, else a random probe of the ephemeral range); the caller should bind it soon.
set -euo pipefail

if command -v python3 >/dev/null 2>&1; then
  exec python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
'
fi

# Fallback: a port nobody accepts connections on. /dev/tcp connects, so a refused
# connection means no listener (a port merely bound without listen() is not seen).
for _ in $(seq 1 200); do
  port=$((20000 + RANDOM % 40000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "$port"
    exit 0
  fi
done
echo "free-port: no free port found" >&2
exit 1
