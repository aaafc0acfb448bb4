#!/usr/bin/env bash
# A bench calibration session as a person would have it, on a simulated board whose hidden truth is
# off-nominal (a PCA9685 clone running at 26 MHz; a reversed servo with neutral 1520 µs, full scale ±450 µs,
# a 20 µs deadband; the PCA9685 itself has 4.9 µs steps at 50 Hz): `cerebellum calibrate pwm` and `calibrate servo vx` run in tmux, keystrokes go in with
# send-keys, the screens are checked, and the saved calibration file is checked and then used by
# `cerebellum check-board` and `cerebellum run`.
# Usage: scripts/calibrate-tmux-test.sh [path/to/cerebellum]   (make test-calibrate-tmux)
set -euo pipefail
BIN=$(cd "$(dirname "${1:-.build/release/cerebellum}")" && pwd)/$(basename "${1:-.build/release/cerebellum}")
REPO=$PWD
DIR=$(mktemp -d -t cerebellum-calibrate.XXXXXX)
SESSION=cb-calibrate-$$
source "$(dirname "$0")/tmux-session.sh"
cleanup() { tmux kill-server 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
mkdir -p "$DIR/boards" "$DIR/calibration"
sed -e 's/    vx: {neutral_us: 1500, full_scale_us: 500, deadband_us: 8}/    vx: {neutral_us: 1520, full_scale_us: 450, deadband_us: 20, reversed: true}/' \
    -e 's/^  seed: 1$/  seed: 1\n  pwm_oscillator_hz: 26000000/' "$REPO/boards/sim-two-rooms.yaml" > "$DIR/boards/sim-two-rooms.yaml"
grep -q "pwm_oscillator_hz: 26000000" "$DIR/boards/sim-two-rooms.yaml" && grep -q "reversed: true" "$DIR/boards/sim-two-rooms.yaml" \
  || { echo "FAIL: could not make the off-nominal board"; exit 1; }
cp "$REPO/calibration/sim-two-rooms.yaml" "$DIR/calibration/"
BOARD=$DIR/boards/sim-two-rooms.yaml
CAL=$DIR/calibration/sim-two-rooms.yaml

pane() { tmux capture-pane -p -t "$SESSION" -S -300; }
expect() {
  for _ in $(seq 80); do
    if pane | grep -Eq -- "$1"; then echo "ok   $2"; return 0; fi
    sleep 0.1
  done
  echo "FAIL $2: /$1/ not on the screen:"; pane | grep -v "^\s*$" | tail -25; exit 1
}
keys() { tmux send-keys -t "$SESSION" "$@"; }
goto() { keys g; keys -l "$1"; keys Enter; }
# expect_live REGEX WHAT: like expect, holding the h key (auto-repeat) so the dead-man keeps the output live.
expect_live() {
  for _ in $(seq 80); do
    keys h
    if pane | grep -v "^\s*$" | tail -2 | grep -Eq -- "$1"; then echo "ok   $2"; return 0; fi
    sleep 0.1
  done
  echo "FAIL $2: /$1/ not on the screen:"; pane | grep -v "^\s*$" | tail -25; exit 1
}

# 0. Uncalibrated, the reversed servo drives the wrong way: the follower does not reach its goals.
before=$(cd "$REPO" && "$BIN" run --board "$BOARD" --policy follower --model none --arm --episodes 3 --no-realtime --trajectory none | grep -o "success [0-9]/3")
[ "$before" != "success 3/3" ] && echo "ok   before calibration: $before with the nominal calibration" || { echo "FAIL: the nominal calibration already works"; exit 1; }

# 1. The oscillator: the sim's "scope" shows the real output frequency; the person types it in.
new_session -c "$DIR" -x 200 -y 50 "$BIN calibrate pwm --board $BOARD; sleep 30"
expect "a scope on the output reads 52\.0[0-9]+ Hz" "pwm: the simulated scope shows 52 Hz (a 26 MHz clone)"
expect "measured frequency" "pwm: asks for the measured frequency"
keys -l "52.03"; keys Enter
expect "oscillator 26\.000 MHz → trim 1\.0400" "pwm: trim computed from the measurement"
expect "pwm.oscillator_trim: 1.0000 → 1.0400" "pwm: the change is shown before saving"
keys y
expect "previous file is kept as .*sim-two-rooms.yaml.bak" "pwm: saved with a backup"
expect "loaded back .*valid" "pwm: the saved file is loaded back and valid"
tmux kill-session -t "$SESSION"

# 2. The servo: confirm, sweep, mark, save.
new_session -c "$DIR" -x 200 -y 50 "$BIN calibrate servo vx --board $BOARD; sleep 30"
expect "Clear of obstacles" "servo: asks before anything moves"
keys y
expect "held at neutral" "servo: armed, output held at neutral until a key"
goto 1520
expect_live "pulse 1520 µs .*LIVE.*sim: output 15(1[5-9]|2[0-4]) µs, drive \+0\.00" "servo: 1520 µs holds still (trimmed: the output is the asked pulse to one 4.9 µs count)"
keys x
expect "neutral marked at 1520" "servo: neutral marked"
goto 1070
expect_live "pulse 1070 µs .*LIVE.*drive \+1\.00" "servo: 1070 µs is full speed, positive: a reversed servo"
keys z
expect "min marked at 1070" "servo: min marked"
goto 1970
expect_live "pulse 1970 µs .*LIVE.*drive -1\.00" "servo: 1970 µs is full speed the other way"
keys c
expect "max marked at 1970" "servo: max marked"
keys r
expect "direction: reversed" "servo: direction reversed"
goto 1536
expect_live "pulse 1536 µs .*LIVE.*drive \+0\.00" "servo: 1536 µs is still inside the deadband"
goto 1546
expect_live "pulse 1546 µs .*LIVE.*drive -0\.0[1-9]" "servo: 1546 µs moves: the deadband edge lies between"
goto 1540
keys b
expect "deadband marked: 20 µs" "servo: deadband marked"
sleep 1
expect "held at neutral" "servo: no key for 0.6 s → the dead-man puts the output back to neutral"
keys s
expect "channels.vx.neutral_us: 1500.0 → 1520.0" "servo: the diff shows the new neutral"
expect "channels.vx.reversed: false → true" "servo: the diff shows the direction"
keys y
expect "saved .*sim-two-rooms.yaml" "servo: saved"
keys q
expect "outputs off \(full-OFF\), governor disarmed" "servo: quitting turns the outputs off"
tmux kill-session -t "$SESSION"

# 3. The file: the measured numbers, and the tools use it.
grep -q "oscillator_trim: 1.0400" "$CAL" && echo "ok   file: oscillator trim 1.0400" || { echo "FAIL file trim"; cat "$CAL"; exit 1; }
grep -q "vx: {min_us: 1070, neutral_us: 1520, max_us: 1970, reversed: true, deadband_us: 20}" "$CAL" \
  && echo "ok   file: vx min 1070, neutral 1520, max 1970, reversed, deadband 20" || { echo "FAIL file vx"; cat "$CAL"; exit 1; }
[ -f "$CAL.bak" ] && echo "ok   file: backup kept" || { echo "FAIL no backup"; exit 1; }
"$BIN" check-board "$BOARD" | grep -q "vx .*pulse 1070/1520/1970 µs reversed, deadband 20 µs" && echo "ok   check-board shows the new pulse map" \
  || { echo "FAIL check-board"; "$BIN" check-board "$BOARD"; exit 1; }
cd "$REPO"
out=$("$BIN" run --board "$BOARD" --policy follower --model none --arm --episodes 3 --no-realtime --trajectory none)
echo "$out" | grep -q "calibration $CAL" && echo "ok   run loads the saved calibration" || { echo "FAIL run calibration"; echo "$out"; exit 1; }
echo "$out" | grep -q "success 3/3" && echo "ok   run with the calibrated reversed servo reaches the goal 3/3" || { echo "FAIL run"; echo "$out" | tail -12; exit 1; }
echo "calibrate-tmux: all steps passed"
