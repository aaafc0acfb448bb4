#!/usr/bin/env bash
# Drives `cerebellum run --teleop` as a person would: the controller runs in one tmux window on one
# end of a socat pseudo-terminal pair, picocom (a real serial terminal program) runs in another on
# the other end, and keystrokes go in with `tmux send-keys`; each step checks what the screens show.
# Usage: scripts/teleop-tmux-test.sh [path/to/cerebellum]   (make test-teleop-tmux)
set -euo pipefail
BIN=${1:-.build/release/cerebellum}
DIR=$(mktemp -d -t cerebellum-teleop.XXXXXX)
SESSION=cb-teleop-$$
source "$(dirname "$0")/tmux-session.sh"
cleanup() {
  tmux kill-server 2>/dev/null || true
  [ -n "${SOCAT_PID:-}" ] && kill "$SOCAT_PID" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

socat pty,raw,echo=0,link="$DIR/controller" pty,raw,echo=0,link="$DIR/operator" 2>"$DIR/socat.log" &
SOCAT_PID=$!
for _ in $(seq 50); do [ -e "$DIR/controller" ] && [ -e "$DIR/operator" ] && break; sleep 0.1; done

new_session -c "$PWD" -x 160 -y 48 -n controller \
  "$BIN run --board boards/sim-two-rooms.yaml --teleop $DIR/controller --episodes 50 --duration 90 --no-realtime --fixed-work --record $DIR/rec; sleep 30"
tmux new-window -t "$SESSION" -c "$PWD" -n operator "picocom -q -b 115200 $DIR/operator"

pane() { tmux capture-pane -p -t "$SESSION:$1" -S -200; }
# expect WINDOW REGEX WHAT: waits up to 8 s for REGEX on the window's screen.
expect() {
  for _ in $(seq 80); do
    if pane "$1" | grep -Eq -- "$2"; then echo "ok   $3"; return 0; fi
    sleep 0.1
  done
  echo "FAIL $3: /$2/ not on the $1 screen:"; pane "$1" | tail -25; exit 1
}
type_line() { tmux send-keys -t "$SESSION:operator" -l "$1"; tmux send-keys -t "$SESSION:operator" Enter; }

expect controller "teleop console on" "controller started with its console"
type_line "help"
expect operator "machine sentences" "help lists the commands on the operator's terminal"
type_line "arm"
expect operator "^armed" "arm from the console"
expect controller "ARMED" "controller status line shows ARMED"
type_line "drive 0.8 0"
expect operator "drive vx \+0.80 vy \+0.00" "drive command acknowledged"
expect controller "TELEOP" "the operator took over (controller shows TELEOP)"
type_line "record status"
expect operator "recording: $DIR/rec/run-0000.mcap: [0-9]+ ticks" "run --record is recording; record status says how much"
type_line "record mark good smooth start"
expect operator "marked good: smooth start" "record mark"
type_line "record stop"
expect operator "stopped: $DIR/rec/run-0000.mcap: [0-9]+ ticks, [0-9]+ frames \(0 dropped\)" "record stop closes the file"
type_line "record start lap2"
expect operator "recording to $DIR/rec/lap2.mcap" "record start NAME from the console"
type_line "record start ../../etc/x"
expect operator "a recording name is" "a name that would leave the directory is refused"
type_line "status"
expect operator "mode teleop" "status shows teleop mode"
expect operator "last takeover: operator command reached the outputs in 0 tick" "takeover latency reported"
type_line "estop"
expect operator "E-STOP latched" "estop latches"
expect controller "faults: e-stop" "controller shows the e-stop fault"
type_line "reset"
expect operator "faults cleared" "reset clears once released"
type_line "arm"
type_line "keys"
expect operator "\[keys\]" "key drive mode shows its line"
tmux send-keys -t "$SESSION:operator" d d d d
expect operator "cmd vx \+0\.50 vy \+0\.00" "the d key drives +vx"
tmux send-keys -t "$SESSION:operator" q
expect operator "left key drive" "q leaves key mode"
type_line "\$DRIVE,0.20,0.10*0000"
expect operator "ERR,CHECKSUM" "a bad checksum is rejected"
type_line "mode auto"
expect operator "DISARMED hold" "leaving teleop holds disarmed"
if [ -n "${SHOW_SCREENS:-}" ]; then pane operator; pane controller | grep -v "^$" | tail -5; fi
tmux send-keys -t "$SESSION:controller" C-c
expect controller "teleop: .* 1 bad checksums" "summary counts the console's rejects"
expect controller "recorded $DIR/rec/lap2.mcap" "the summary lists the recording still running at Ctrl-C, closed"
"$BIN" data info "$DIR/rec" > "$DIR/info.txt"
grep -Eq "ticks: .*teleop [0-9]+" "$DIR/info.txt" && grep -q "mark good" "$DIR/info.txt" \
  && echo "ok   data info shows the operator's ticks and the mark" || { echo "FAIL data info:"; cat "$DIR/info.txt"; exit 1; }
# The session replays: the operator's ticks as recorded, autonomy's re-planned (fixed work: bit-identical), the
# e-stop's ticks left out of the comparison; a tick decided otherwise fails. lap2 began mid-run (the console's
# record start), without the controller's state before it: replay compares it and says why it may differ.
"$BIN" replay "$DIR/rec/run-0000.mcap" > "$DIR/replay.txt" 2>&1 && grep -q "decided as recorded on every compared tick" "$DIR/replay.txt" \
  && grep -Eq "[1-9][0-9]* operator" "$DIR/replay.txt" \
  && echo "ok   replay of the recorded session: $(grep -Eo "compared [0-9]+ ticks: [0-9]+ differ" "$DIR/replay.txt")" \
  || { echo "FAIL replay run-0000.mcap:"; cat "$DIR/replay.txt"; exit 1; }
"$BIN" replay "$DIR/rec/lap2.mcap" > "$DIR/replay2.txt" 2>&1 && grep -q "tick(s) into the run" "$DIR/replay2.txt" \
  && echo "ok   replay of a recording started mid-run says what it lacks" || { echo "FAIL replay lap2.mcap:"; cat "$DIR/replay2.txt"; exit 1; }
echo "teleop tmux test passed"
