#!/usr/bin/env bash
# with-server.sh SERVER_BINARY COMMAND...: starts the loopback token server on a free port,
# runs COMMAND with TOKENFORGE_URL=http://127.0.0.1:PORT, stops the server, and exits with
# COMMAND's status.
set -u
server=$1; shift
dir=$(mktemp -d)
"$server" --port-file "$dir/port" --max-seconds 1800 > /dev/null &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 200); do
  [ -s "$dir/port" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "with-server: server exited" >&2; exit 1; }
  sleep 0.05
done
[ -s "$dir/port" ] || { echo "with-server: server did not start" >&2; exit 1; }
export TOKENFORGE_URL="http://127.0.0.1:$(cat "$dir/port")"
"$@"
