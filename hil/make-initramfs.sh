#!/usr/bin/env bash
# Packs the guest: busybox as PID 1 and shell, the kernel modules the tests need (with depmod), the ones
# built out of tree (gpio-sim; i2c-stub on arm64), the cerebellum binary (Swift runtime linked in) with the
# shared libraries it loads, and the files it reads (HIL board profile, calibration, the shipped model, a goal image).
# Usage: hil/make-initramfs.sh ARCH KROOT BINARY OUT.cpio.gz [SYSROOT]
#   amd64: the libraries are the host's (the guest runs the same glibc). arm64: BINARY is the cross-compiled
#   aarch64 program (make build-arm64) and its libraries come from SYSROOT, the arm64 root it was linked against.
set -euo pipefail
arch=$1; kroot=$(cd "$2" && pwd); binary=$3; out=$4; sysroot=${5:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
kver=$(cat "$kroot/../kernel-version")
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,proc,sys,dev,tmp,etc,lib/modules/"$kver",lib/modules/extra,cerebellum/boards,cerebellum/calibration,cerebellum/models,cerebellum/goals}
if [ "$arch" = amd64 ]; then cp /bin/busybox "$stage/bin/busybox"; else cp "$kroot/bin/busybox" "$stage/bin/busybox"; fi
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$stage/bin/$applet"; done
cp "$repo/hil/init.sh" "$stage/init"

# Modules: what the tests load, with their dependencies, as modprobe resolves them (the package ships
# no modules.dep: depmod makes it). Debian's arm64 kernel has no i2c-stub: build-modules.sh builds it.
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || /sbin/depmod -b "$kroot" "$kver"
mods=(vivid i2c-dev configfs uinput evdev i6300esb)
[ "$arch" = amd64 ] && mods+=(i2c-stub)
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
cp "$kroot/../modules/"*.ko "$stage/lib/modules/extra/"

# The program and the shared libraries it loads.
cp "$binary" "$stage/cerebellum/cerebellum"
if [ "$arch" = amd64 ]; then
  # Same paths as on the host: the guest has the same glibc.
  ldd "$binary" | awk '/=>/ {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
    [ -f "$lib" ] || continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
else
  # The closure of the binary's DT_NEEDED names, found in the sysroot as its loader would find them on a
  # board (multiarch directories, OpenBLAS's pthread build behind the libopenblas.so.0 link), into the
  # guest's /lib/aarch64-linux-gnu, and the loader the binary names.
  [ -d "$sysroot" ] || { echo "initramfs: arm64 needs the SYSROOT the binary was linked against" >&2; exit 1; }
  find_lib() {
    local d
    for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
      [ -e "$sysroot/$d/$1" ] && { echo "$sysroot/$d/$1"; return 0; }
    done
    return 1
  }
  mkdir -p "$stage/lib/aarch64-linux-gnu"
  interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  cp -L "$sysroot$interp" "$stage$interp"
  queue=("$binary"); seen=" "
  while [ ${#queue[@]} -gt 0 ]; do
    elf=${queue[0]}; queue=("${queue[@]:1}")
    for name in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      case "$seen" in *" $name "*) continue ;; esac
      seen="$seen$name "
      lib=$(find_lib "$name") || { echo "initramfs: $name (needed by $(basename "$elf")) is not in $sysroot" >&2; exit 1; }
      cp -L "$lib" "$stage/lib/aarch64-linux-gnu/$name"
      queue+=("$stage/lib/aarch64-linux-gnu/$name")
    done
  done
  echo "initramfs: aarch64 libraries:$seen"
fi
cp "$repo/boards"/hil-*.yaml "$stage/cerebellum/boards/"
cp "$repo/calibration"/hil-*.yaml "$stage/cerebellum/calibration/"
cp "$repo/models/two-rooms.safetensors" "$stage/cerebellum/models/"
cp "$repo/hil/goal.png" "$stage/cerebellum/goals/hil.png"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
echo "initramfs: $out ($(du -h "$out" | cut -f1), $(find "$stage/lib/modules" -name '*.ko' | wc -l) modules)"
