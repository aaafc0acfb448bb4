#!/usr/bin/env bash
# The live view with real clients: `cerebellum run --live 0` on the simulated board, and
# scripts/live-view-check.py (Python's websockets, a Foxglove WebSocket client) subscribes, decodes the
# camera image, commands and plan, unsubscribes, and is refused where it should be; meanwhile a second
# client subscribes to everything and never reads, and the run's summary must show it dropped as too slow.
# Usage: scripts/live-view-test.sh [path/to/cerebellum]   (make test-live-view)
set -euo pipefail
BIN=${1:-.build/release/cerebellum}
DIR=$(mktemp -d -t cerebellum-live.XXXXXX)
cleanup() { [ -n "${RUN_PID:-}" ] && kill "$RUN_PID" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
"$BIN" run --board boards/sim-two-rooms.yaml --arm --episodes 1000 --duration 22 --live 0 --no-realtime --trajectory none \
  --json "$DIR/run.json" > "$DIR/run.log" 2>&1 &
RUN_PID=$!
for _ in $(seq 100); do grep -q "^live view: ws://" "$DIR/run.log" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o "ws://[0-9.]*:[0-9]*" "$DIR/run.log" | head -1)
[ -n "$URL" ] || { echo "FAIL the run printed no live view address:"; cat "$DIR/run.log"; exit 1; }
echo "ok   run --live 0 serves $URL"
python3 "$(dirname "$0")/live-view-check.py" "$URL" --seconds 12 --slow-client
wait "$RUN_PID" || { echo "FAIL the run:"; tail -20 "$DIR/run.log"; exit 1; }
RUN_PID=
python3 - "$DIR/run.json" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))["live_view"]
print(f"     summary: {v}")
assert v["slow_clients_dropped"] >= 1, "the client that never read was not dropped"
assert v["clients_accepted"] >= 2 and v["clients_refused"] >= 2, "accepted and refused clients"
assert v["ticks_seen"] > 0 and v["messages_sent"] > 0
print("ok   the client that never read was dropped as too slow; the good one was served throughout")
PY
echo "live view test passed"
