#!/usr/bin/env bash
# A robot owner's path on the simulated board, scripted: drive from the serial console while recording
# (scripts/console-drive.py over a socat pseudo-terminal pair, watching the live view), look at the recording, train a world model
# on it, capture a goal image, and run the planner toward it with the new model. DRIVE_SECONDS and
# TRAIN_STEPS set the size (make test: a short drive and a few steps, which checks that the path works;
# make drive-to-goal: a long one, whose success it reports); the goal run, recorded with fixed work, must replay.
# EVAL_EPISODES > 0 (make drive-to-goal) then measures the drive-trained model with `eval` on that many goals,
# against a model trained the same way on exploration episodes of the same frame count, and fails when the drive's
# model reaches fewer than MIN_SUCCESS of them. DRIVER=blind drives random headings without watching the view.
# Usage: scripts/drive-train-goal-test.sh [path/to/cerebellum]
set -euo pipefail
BIN=$(realpath "${1:-.build/release/cerebellum}")
ROOT=$PWD
DRIVE_SECONDS=${DRIVE_SECONDS:-12}
TRAIN_STEPS=${TRAIN_STEPS:-20}
GOAL_AT=${GOAL_AT:-20,20}
EVAL_EPISODES=${EVAL_EPISODES:-0}
MIN_SUCCESS=${MIN_SUCCESS:-0.6}
DRIVER=${DRIVER:-watching}
DIR=$(mktemp -d -t cerebellum-drive.XXXXXX)
cleanup() {
  [ -n "${RUN_PID:-}" ] && kill "$RUN_PID" 2>/dev/null || true
  [ -n "${SOCAT_PID:-}" ] && kill "$SOCAT_PID" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
cd "$DIR"
mkdir -p boards calibration
cp "$ROOT/boards/sim-two-rooms.yaml" boards/
cp "$ROOT/calibration/sim-two-rooms.yaml" calibration/

socat pty,raw,echo=0,link="$DIR/controller" pty,raw,echo=0,link="$DIR/operator" 2>"$DIR/socat.log" &
SOCAT_PID=$!
for _ in $(seq 50); do [ -e "$DIR/controller" ] && [ -e "$DIR/operator" ] && break; sleep 0.1; done

# 1. Drive and record: the run waits for the operator, who arms, takes over and records, watching the
#    robot on the run's live view (port 0: any free one) to tour both rooms.
"$BIN" run --teleop "$DIR/controller" --policy follower --model none --episodes 1000 --live 0 \
  --duration $((DRIVE_SECONDS + 8)) --no-realtime --trajectory none > run-drive.log 2>&1 &
RUN_PID=$!
for _ in $(seq 100); do grep -q "^live view: ws://" run-drive.log 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o "ws://[0-9.]*:[0-9]*" run-drive.log | head -1)
[ -n "$URL" ] || { echo "FAIL the driving run printed no live view address:"; cat run-drive.log; exit 1; }
if [ "$DRIVER" = blind ]; then
  python3 "$ROOT/scripts/console-drive.py" "$DIR/operator" "$DRIVE_SECONDS" drive
else
  python3 "$ROOT/scripts/console-drive.py" "$DIR/operator" "$DRIVE_SECONDS" drive --live "$URL"
fi
wait "$RUN_PID" || { echo "FAIL the driving run:"; tail -20 run-drive.log; exit 1; }
RUN_PID=
grep -q "recorded recordings/drive.mcap" run-drive.log || { echo "FAIL the run's summary lists no recording"; tail -20 run-drive.log; exit 1; }
"$BIN" data info recordings | tee info.txt
grep -Eq "ticks: .*teleop [0-9]+" info.txt || { echo "FAIL the recording shows no operator ticks"; exit 1; }
echo "ok   drove from the console while recording"

# 2. Train on the drive (exit status 3, a latent not spread yet, is what a few steps give).
status=0
"$BIN" train recordings --out models/drive.safetensors --max-steps "$TRAIN_STEPS" --batch 16 > train.log 2>&1 || status=$?
[ $status -eq 0 ] || [ $status -eq 3 ] || { echo "FAIL train (exit $status):"; tail -20 train.log; exit 1; }
grep -E "^training:|^validation|^wrote" train.log | tail -3
echo "ok   trained a model on the recording"
grep -q "actions vx \[.*\], vy \[" train.log || { echo "FAIL train does not name the model's actions (vx, vy):"; grep "^data" train.log; exit 1; }
# A model of other actions than the board plans with is refused before anything starts.
status=0
"$BIN" train recordings --out models/vx.safetensors --actions vx --max-steps 2 --batch 16 > train-vx.log 2>&1 || status=$?
[ $status -eq 0 ] || [ $status -eq 3 ] || { echo "FAIL train --actions vx (exit $status):"; tail -5 train-vx.log; exit 1; }
status=0
"$BIN" run --arm --model models/vx.safetensors --duration 1 --no-realtime > run-vx.log 2>&1 || status=$?
[ $status -eq 2 ] && grep -q "trained on the actions \[vx\], this board plans with \[vx, vy\]" run-vx.log \
  || { echo "FAIL a model of the action vx alone was not refused on a board that plans vx, vy (exit $status):"; tail -5 run-vx.log; exit 1; }
echo "ok   a model trained on --actions vx is refused by the board that plans vx, vy"

# 3. A goal image, and the planner toward it with the new model.
"$BIN" goal capture target --at "$GOAL_AT" > goal.log 2>&1 || { echo "FAIL goal capture:"; cat goal.log; exit 1; }
[ -s goals/target.png ] || { echo "FAIL no goals/target.png"; exit 1; }
echo "ok   captured goals/target.png at $GOAL_AT"
"$BIN" run --arm --goal target --model models/drive.safetensors --episodes 1 --duration 15 --no-realtime \
  --json run-goal.json --trajectory none > run-goal.log 2>&1 || { echo "FAIL run --goal:"; tail -20 run-goal.log; exit 1; }
grep -E "^episode 1:" run-goal.log
GOAL_AT="$GOAL_AT" python3 - <<'PY'
import json, math, os
r = json.load(open("run-goal.json"))
e = r["episodes"][0]
gx, gy = (float(v) for v in os.environ["GOAL_AT"].split(","))
x, y = e["final_position"]
d = math.hypot(x - gx, y - gy)
print("ok   run --goal with the trained model: %d steps, ended at (%.1f, %.1f), %.1f px from the goal (%s; success is 4.5 px), "
      "plan time p99 %.2f ms" % (e["steps"], x, y, d, "reached" if d <= 4.5 else "not reached", r["plan_time"]["p99"]))
PY
# 4. The same goal run, recorded with fixed work, replays as recorded with the user's own model and goal image.
"$BIN" run --arm --goal target --model models/drive.safetensors --episodes 1 --duration 3 --no-realtime --fixed-work \
  --record recordings/goal-run --trajectory none > run-fixed.log 2>&1 || { echo "FAIL run --fixed-work:"; tail -20 run-fixed.log; exit 1; }
"$BIN" replay recordings/goal-run/run-0000.mcap > replay.log 2>&1 && grep -q "decided as recorded on every compared tick" replay.log \
  || { echo "FAIL replay of the goal run:"; cat replay.log; exit 1; }
echo "ok   the goal run, recorded with --fixed-work, replays as recorded: $(grep -Eo "compared [0-9]+ ticks: [0-9]+ differ" replay.log)"
if [ "$EVAL_EPISODES" -gt 0 ]; then
  # 5. Success over many goals, against exploration data of the same size trained the same way.
  FRAMES=$(grep -Eo "^total: [0-9]+ episode\(s\), [0-9]+ frames" info.txt | grep -Eo "[0-9]+ frames" | grep -Eo "[0-9]+")
  "$BIN" record --world two-rooms --episodes $((FRAMES / 101)) --steps 100 --seed 3 --out explore > record-explore.log 2>&1
  status=0
  "$BIN" train explore --out models/explore.safetensors --max-steps "$TRAIN_STEPS" --batch 16 > train-explore.log 2>&1 || status=$?
  [ $status -eq 0 ] || [ $status -eq 3 ] || { echo "FAIL train on exploration (exit $status):"; tail -5 train-explore.log; exit 1; }
  for m in drive explore; do
    "$BIN" eval --model models/$m.safetensors --episodes "$EVAL_EPISODES" --no-baselines --png none --json eval-$m.json > eval-$m.log 2>&1 \
      || { echo "FAIL eval of models/$m.safetensors:"; tail -5 eval-$m.log; exit 1; }
  done
  MIN_SUCCESS="$MIN_SUCCESS" python3 - <<'PY'
import json, os, re
def rank(log):
    found = re.findall(r"effective rank ([0-9.]+) of", open(log).read())
    return float(found[-1]) if found else float("nan")
rows = {}
for m, log, data in (("drive", "train.log", "the drive"), ("explore", "train-explore.log", "exploration")):
    p = json.load(open("eval-%s.json" % m))["policies"][0]
    rows[m] = p
    print("     %-26s %3d/%d = %5.1f %% [%.1f, %.1f] %%, latent effective rank %.1f" % (
        "model trained on " + data, p["successes"], len(p["episodes"]), 100 * p["success_rate"],
        100 * p["interval95_low"], 100 * p["interval95_high"], rank(log)))
d = rows["drive"]
if d["success_rate"] < float(os.environ["MIN_SUCCESS"]):
    raise SystemExit("FAIL the drive-trained model reached %.1f %% of the goals (under %s)" % (100 * d["success_rate"], os.environ["MIN_SUCCESS"]))
print("ok   the drive-trained model reaches %.1f %% of %d goals" % (100 * d["success_rate"], len(d["episodes"])))
PY
fi
echo "drive-train-goal test passed"
