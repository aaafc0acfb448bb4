#!/usr/bin/env bash
# Boots the guest under QEMU TCG (KVM is not usable on these machines), streams its console to
# LOG, and turns the guest's result lines into an exit status.
# Usage: hil/run-guest.sh ARCH KROOT INITRAMFS LOG
set -euo pipefail
arch=$1; kroot=$(cd "$2" && pwd); initrd=$3; log=$4
kver=$(cat "$kroot/../kernel-version")
kernel="$kroot/boot/vmlinuz-$kver"
append="console=ttyS0 rdinit=/init panic=-1 quiet loglevel=3"
case $arch in
  amd64) qemu=(qemu-system-x86_64 -M q35 -cpu max -accel tcg -m 1G -smp 2 -device i6300esb) ;;
  arm64) qemu=(qemu-system-aarch64 -M virt -cpu max -accel tcg -m 1G -smp 2 -device i6300esb); append="console=ttyAMA0 rdinit=/init panic=-1 quiet loglevel=3" ;;
  *) echo "run-guest: unknown arch $arch" >&2; exit 2 ;;
esac
start=$(date +%s.%N)
timeout "${HIL_TIMEOUT:-900}" "${qemu[@]}" -kernel "$kernel" -initrd "$initrd" -append "$append" \
  -nographic -no-reboot -serial mon:stdio < /dev/null 2>&1 | tr -d '\r' | tee "$log" | grep --line-buffered -E "^(HIL|ok|not ok|1\.\.|summary|  |board|camera|pwm|watchdog|episode|error|warning|saved|loaded back|outputs off)|marked" || true
end=$(date +%s.%N)
echo "hil: $arch guest round trip $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s (boot, drivers, tests, power-off); console log $log"
grep -q "^HIL EXIT: 0" "$log" || { echo "hil: $arch guest FAILED (see $log)"; exit 1; }
echo "hil: $arch guest passed"
