#!/usr/bin/env bash
# Packs the guest: busybox as PID 1 and shell, the kernel modules the tests need (with depmod), gpio-sim,
# the cerebellum binary (Swift runtime linked in with -static-stdlib) with the shared libraries it
# loads, and the files it reads (HIL board profile, calibration, the shipped model, a goal image).
# Usage: hil/make-initramfs.sh ARCH KROOT BINARY OUT.cpio.gz
#   amd64: BINARY is the cerebellum program. arm64: BINARY is the static int8 kernel check (no Swift for aarch64 here).
set -euo pipefail
arch=$1; kroot=$(cd "$2" && pwd); binary=$3; out=$4
repo=$(cd "$(dirname "$0")/.." && pwd)
kver=$(cat "$kroot/../kernel-version")
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,proc,sys,dev,tmp,etc,lib/modules/"$kver",lib/modules/extra,cerebellum/boards,cerebellum/calibration,cerebellum/models,cerebellum/goals}
if [ "$arch" = amd64 ]; then cp /bin/busybox "$stage/bin/busybox"; else cp "$kroot/bin/busybox" "$stage/bin/busybox"; fi
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$stage/bin/$applet"; done
cp "$repo/hil/init.sh" "$stage/init"

# Modules: what the tests load, with their dependencies, as modprobe resolves them (the package ships
# no modules.dep: depmod makes it). Debian's arm64 kernel has no i2c-stub; that guest skips the I2C checks.
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || /sbin/depmod -b "$kroot" "$kver"
mods=(vivid i2c-dev configfs uinput evdev)
[ "$arch" = amd64 ] && mods+=(i2c-stub i6300esb)
for m in "${mods[@]}"; do
  /sbin/modprobe -d "$kroot" -S "$kver" --show-depends "$m" > "$stage/deps" || { echo "initramfs: no module $m in $kver" >&2; exit 1; }
  awk '$1=="insmod"{print $2}' "$stage/deps"
done | sort -u | while read -r ko; do
  rel=${ko#"$kroot"/lib/modules/"$kver"/}
  mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
  cp "$ko" "$stage/lib/modules/$kver/$rel"
done
cp "$kroot"/lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} "$stage/lib/modules/$kver/" 2>/dev/null || true
/sbin/depmod -b "$stage" "$kver"
cp "$kroot/../gpio-sim/gpio-sim.ko" "$stage/lib/modules/extra/"

if [ "$arch" = amd64 ]; then
  # The program and the shared libraries it loads (same paths as on the host; the guest has the same glibc).
  cp "$binary" "$stage/cerebellum/cerebellum"
  ldd "$binary" | awk '/=>/ {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
    [ -f "$lib" ] || continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
  cp "$repo/boards"/hil-*.yaml "$stage/cerebellum/boards/"
  cp "$repo/calibration"/hil-*.yaml "$stage/cerebellum/calibration/"
  cp "$repo/models/two-rooms.safetensors" "$stage/cerebellum/models/"
  cp "$repo/hil/goal.png" "$stage/cerebellum/goals/hil.png"
else
  cp "$binary" "$stage/cerebellum/check-kernels"
fi
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
echo "initramfs: $out ($(du -h "$out" | cut -f1), $(find "$stage/lib/modules" -name '*.ko' | wc -l) modules)"
