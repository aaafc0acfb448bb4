#!/bin/sh
# PID 1 of the hardware-in-the-loop guest (busybox): mounts, loads the kernel's simulated devices,
# runs the project's driver tests and `cerebellum run` against them, prints the results, powers off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /tmp && mount -t devpts devpts /dev/pts
mount -t tmpfs tmp /tmp
mount -t configfs configfs /sys/kernel/config 2>/dev/null || { modprobe configfs; mount -t configfs configfs /sys/kernel/config; }
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
arch=$(uname -m)
case $arch in x86_64) board=hil-x86_64 ;; *) board=hil-arm64 ;; esac
echo "HIL GUEST: $(uname -r) $arch, $(nproc) CPU(s)"
t0=$(cut -d' ' -f1 /proc/uptime)

# Camera: one vivid instance with only a video capture node.
modprobe vivid n_devs=1 node_types=0x1 || echo "HIL FAIL: vivid"
# GPIO: gpio-sim through configfs — one bank of 8 named lines, label cerebellum-hil.
insmod /lib/modules/extra/gpio-sim.ko || echo "HIL FAIL: gpio-sim"
g=/sys/kernel/config/gpio-sim/hil
mkdir -p $g/bank0
echo cerebellum-hil > $g/bank0/label
echo 8 > $g/bank0/num_lines
n=0
for name in estop motor-enable status-led pwm-oe limit-a limit-b spare-a spare-b; do
  mkdir -p $g/bank0/line$n; echo $name > $g/bank0/line$n/name; n=$((n+1))
done
echo 1 > $g/live || echo "HIL FAIL: gpio-sim live"
# The OE line has a pull-up, as a board must wire it (a released line means outputs disabled); the
# other lines keep gpio-sim's default pull-down (a released motor enable is off).
for d in /sys/devices/platform/gpio-sim.*/gpiochip*/sim_gpio3; do echo pull-up > $d/pull; done
# I2C: the SMBus stub answering at 0x40 (the PCA9685's address; built out of tree for arm64) and i2c-dev.
i2c=yes
modprobe i2c-dev
modprobe i2c-stub chip_addr=0x40 2>/dev/null || insmod /lib/modules/extra/i2c-stub.ko chip_addr=0x40 || i2c=no
# Input: uinput makes the virtual gamepad, evdev shows it as /dev/input/eventN.
modprobe uinput 2>/dev/null; modprobe evdev 2>/dev/null
# Watchdog: QEMU's i6300esb (a PCI device: on q35 and on the arm64 virt machine alike).
modprobe i6300esb 2>/dev/null
t1=$(cut -d' ' -f1 /proc/uptime)
echo "HIL DRIVERS: vivid $(ls /dev/video* 2>/dev/null | tr '\n' ' ')gpio $(ls /dev/gpiochip* | tr '\n' ' ')i2c $(ls /dev/i2c-* 2>/dev/null | tr '\n' ' ')watchdog $(ls /dev/watchdog 2>/dev/null) uinput $(ls /dev/uinput 2>/dev/null) (loaded in $(echo "$t1 $t0" | awk '{printf "%.1f", $1-$2}') s)"

cd /cerebellum
status=0
if [ "$i2c" = yes ]; then
  # The kill and stop checks start `cerebellum run --arm` as its own process on a copy of the profile that
  # keeps it armed on this emulated CPU (the starved planner only reported), without the watchdog (a
  # killed controller cannot close it: the guest would reset) and with a 150 ms supervisor limit.
  sed -e '/^watchdog:/,/^$/d' -e 's/^safety:$/safety:\n  acknowledge: [no_watchdog]/' boards/$board.yaml > boards/$board-faults.yaml
  printf 'planner:\n  starved_action: report\nsupervisor:\n  stall_ms: 150\n' >> boards/$board-faults.yaml
  # The arm64 guest emulates its CPU far more slowly: there the kernel's teardown of a killed controller alone takes
  # 100-300 ms and shares the two emulated CPUs with the supervisor's cut (45-70 ms of register writes), so its timed
  # kill checks get 150 ms more; the x86_64 guest's are the limits as they stand.
  slack=0; [ "$arch" = aarch64 ] && slack=150
  ./cerebellum hil-check --board boards/$board.yaml --fault-board boards/$board-faults.yaml --goal goals/hil.png --slack-ms $slack || status=1
  # The main command against the real drivers: capture from vivid, plan, write PWM registers to the stub.
  echo "HIL RUN: cerebellum run --board boards/$board.yaml --goal goals/hil.png --arm --duration 8 --record /tmp/hilrec"
  ./cerebellum run --board boards/$board.yaml --goal goals/hil.png --arm --duration 8 --no-realtime --json /tmp/run.json \
    --record /tmp/hilrec || status=1
  bus=$(ls /dev/i2c-* | head -1 | sed 's|/dev/i2c-||')
  pre=$(i2cget -y "$bus" 0x40 0xfe); m1=$(i2cget -y "$bus" 0x40 0x00); alloff=$(i2cget -y "$bus" 0x40 0xfd)
  off0=$(i2cget -y "$bus" 0x40 0x09)$(i2cget -y "$bus" 0x40 0x08 | sed 's/0x//')
  frames=$(sed -n '/"camera"/,/}/p' /tmp/run.json | grep -o '"frames" *: *[0-9]*' | grep -o '[0-9]*$')
  recorded=$(sed -n '/"recordings"/,/]/p' /tmp/run.json | grep -o '"frames" *: *[0-9]*' | grep -o '[0-9]*$')
  echo "HIL RUN RESULT: $frames camera frames; PCA9685 on the stub: MODE1 $m1, PRE_SCALE $pre, LED0_OFF $off0, ALL_LED_OFF_H $alloff after exit"
  [ "$pre" = 0x79 ] && [ "$m1" = 0x21 ] && [ "$alloff" = 0x10 ] && [ "${frames:-0}" -gt 10 ] || { echo "HIL FAIL: run"; status=1; }
  echo "HIL RECORD: $recorded frames recorded while it ran"
  [ "${recorded:-0}" -gt 10 ] || { echo "HIL FAIL: the run's recording"; status=1; }
  # The run above stops at once (this emulated CPU starves the planner, and the board stops on that), so its
  # efforts never vary and `train` rightly refuses it. The drive board is the fault board (a starved planner only
  # reported) with a planning budget the emulated CPU can plan in: a chunk of four samples over a short horizon fits
  # 30 ms under TCG (about 0.6 ms a predictor row on x86_64, 0.1 ms on arm64), so the drive moves whatever the
  # host's speed, and what it records from the real drivers (vivid frames, the efforts written to the stub) trains.
  sed 's/^  starved_action: report$/  starved_action: report\n  budget_ms: 30/' boards/$board-faults.yaml > boards/$board-drive.yaml
  ./cerebellum run --board boards/$board-drive.yaml --goal goals/hil.png --arm --duration 6 --no-realtime \
    --record /tmp/hildrive > /tmp/drive.log 2>&1 || { echo "HIL FAIL: the recorded drive"; tail -5 /tmp/drive.log; status=1; }
  ./cerebellum train /tmp/hildrive --out /tmp/hil-model.safetensors --max-steps 2 --epochs 1 --batch 4 --threads 1 > /tmp/train.log 2>&1
  trained=$?
  sed -n 's/^data: /HIL TRAIN: data: /p; s/^training: /HIL TRAIN: /p; s/^wrote /HIL TRAIN: wrote /p' /tmp/train.log
  # (Exit status 3 says the latent has not spread yet: expected after two steps; the model file is written.)
  { [ $trained -eq 0 ] || [ $trained -eq 3 ]; } && [ -s /tmp/hil-model.safetensors ] \
    || { echo "HIL FAIL: training on the run's recording"; tail -5 /tmp/train.log; status=1; }
  # And evaluating on it: no ground truth in a recording of real drivers, so the k-step error and the spread only.
  ./cerebellum eval-model /tmp/hil-model.safetensors --data /tmp/hildrive > /tmp/evalmodel.log 2>&1 \
    && grep -q "^k-step latent prediction error" /tmp/evalmodel.log && grep -q "probe of the agent's position: not run" /tmp/evalmodel.log \
    && sed -n 's/^  k=1/HIL EVAL-MODEL: k=1/p' /tmp/evalmodel.log \
    || { echo "HIL FAIL: eval-model on the run's recording"; tail -5 /tmp/evalmodel.log; status=1; }
  # A goal image from the real camera (vivid through V4L2, the board's crop and size), as a user captures one.
  ./cerebellum goal capture hilcap --board boards/$board.yaml > /tmp/goal.log 2>&1 && [ -s goals/hilcap.png ] \
    && ./cerebellum run --board boards/$board.yaml --goal goals/hilcap.png --duration 1 --no-realtime > /tmp/goalrun.log 2>&1 \
    && sed -n 's/^saved /HIL GOAL: saved /p' /tmp/goal.log \
    || { echo "HIL FAIL: goal capture on the real camera"; tail -5 /tmp/goal.log /tmp/goalrun.log; status=1; }
  # The other bench tools against the guest's devices.
  ./cerebellum calibrate i2c-scan --board boards/$board.yaml | sed 's/^/HIL I2C-SCAN: /'
  ./cerebellum calibrate i2c-scan --board boards/$board.yaml | grep -q "PCA9685 at 0x40 answers" || { echo "HIL FAIL: i2c-scan"; status=1; }
  ./cerebellum calibrate gpio --board boards/$board.yaml --watch 0.5 --toggle motor_enable --yes | sed 's/^/HIL GPIO: /'
  ./cerebellum calibrate camera --board boards/$board.yaml --seconds 2 --snapshot /tmp/snap.png | grep -v "^  control" | sed 's/^/HIL CAMERA: /'
  [ -s /tmp/snap.png ] || { echo "HIL FAIL: camera snapshot"; status=1; }
  # A bench calibration session against the stub, keys piped in as a person would type them: confirm, go to
  # 1600 µs, hold, mark neutral, save, confirm, quit. The register the chip would output is sampled meanwhile.
  echo "HIL CALIBRATE: cerebellum calibrate servo vx --board boards/$board.yaml (keys piped)"
  ( sleep 2; printf y; sleep 1; printf 'g1600\r'; for i in $(seq 30); do sleep 0.1; printf h; done
    printf x; sleep 0.5; printf s; sleep 1; printf y; sleep 1; printf q ) \
    | ./cerebellum calibrate servo vx --board boards/$board.yaml --deadman-ms 2000 > /tmp/calibrate.log 2>&1 &
  cal=$!
  seen=""
  for i in $(seq 50); do
    v=$(i2cget -y "$bus" 0x40 0x09 2>/dev/null)$(i2cget -y "$bus" 0x40 0x08 2>/dev/null | sed 's/0x//')
    case " $seen " in *" $v "*) ;; *) seen="$seen $v" ;; esac
    sleep 0.2
  done
  wait $cal || status=1
  grep -E "marked|changes|neutral_us|saved|loaded back|outputs off" /tmp/calibrate.log
  echo "HIL CALIBRATE RESULT: LED0_OFF values seen on the stub:$seen (1600 µs = 0x0148 counts at 50.03 Hz); $(grep -c 'neutral_us: 1600' calibration/$board.yaml) saved neutral, backup $(ls calibration/*.bak 2>/dev/null)"
  case "$seen" in *0x0148*) ;; *) echo "HIL FAIL: calibrate never drove 1600 µs"; status=1 ;; esac
  # The prompts (go-to, save?) wait longer than the supervisor's limit: the bench ticks through them.
  ! grep -qi "outputs cut" /tmp/calibrate.log || { echo "HIL FAIL: calibrate's outputs were cut at a prompt:"; grep -i "cut\|SUPERVISOR" /tmp/calibrate.log; status=1; }
  grep -q "vx: {min_us: 1000, neutral_us: 1600, max_us: 2000" calibration/$board.yaml && [ -f calibration/$board.yaml.bak ] \
    && ./cerebellum check-board boards/$board.yaml > /dev/null || { echo "HIL FAIL: calibration file"; status=1; }
else
  ./cerebellum hil-check --board boards/$board.yaml --no-i2c || status=1
fi
t2=$(cut -d' ' -f1 /proc/uptime)
echo "HIL TIME: $(echo "$t2 $t0" | awk '{printf "%.1f", $1-$2}') s from drivers loaded to tests done"
echo "HIL EXIT: $status"
sync
poweroff -f
