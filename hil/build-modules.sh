#!/usr/bin/env bash
# Builds the simulated devices Debian's kernel lacks, out of tree from linux-source-6.1 against the
# matching headers: gpio-sim (no Debian kernel ships it), with kernel/irq/irq_sim.c compiled into the same
# module (IRQ_SIM is off in Debian's config), and i2c-stub where the kernel's config leaves it out (arm64).
# irq_to_desc() is not exported to modules, so irq_sim's one call through it is replaced by
# generic_handle_irq(); the build fails loudly if that source line is not found.
# Usage: hil/build-modules.sh ARCH KROOT  (KROOT from fetch-kernel.sh; the .ko files land in KROOT/../modules/)
#        For ARCH arm64 on an x86_64 host, HOST_KBUILD names an amd64 linux-kbuild tree (its scripts run here).
set -euo pipefail
arch=$1; kroot=$(cd "$2" && pwd)
kver=$(cat "$kroot/../kernel-version")
build=$(cd "$kroot/.." && pwd)/modules
headers=$kroot/usr/src/linux-headers-$kver
config=$kroot/boot/config-$kver
modules=(gpio-sim)
grep -q '^CONFIG_I2C_STUB=[ym]' "$config" || modules+=(i2c-stub)
fresh=yes
for m in "${modules[@]}"; do [ -f "$build/$m.ko" ] && [ "$build/$m.ko" -nt "$headers/Module.symvers" ] || fresh=no; done
[ $fresh = yes ] && { echo "modules: up to date (${modules[*]} in $build)"; exit 0; }
rm -rf "$build"; mkdir -p "$build"
sources=(linux-source-6.1/drivers/gpio/gpio-sim.c linux-source-6.1/drivers/gpio/gpiolib.h linux-source-6.1/kernel/irq/irq_sim.c)
[[ " ${modules[*]} " == *" i2c-stub "* ]] && sources+=(linux-source-6.1/drivers/i2c/i2c-stub.c)
tar -xJf "$kroot/usr/src/linux-source-6.1.tar.xz" -C "$build" --strip-components=1 "${sources[@]}"
mv "$build/drivers/gpio/gpio-sim.c" "$build/gpio-sim-main.c"
mv "$build/drivers/gpio/gpiolib.h" "$build/gpiolib.h"
mv "$build/kernel/irq/irq_sim.c" "$build/irq_sim.c"
[ -f "$build/drivers/i2c/i2c-stub.c" ] && mv "$build/drivers/i2c/i2c-stub.c" "$build/i2c-stub.c"
rm -rf "$build/drivers" "$build/kernel"
needle='handle_simple_irq(irq_to_desc(irqnum));'
grep -qF "$needle" "$build/irq_sim.c" || { echo "modules: irq_sim.c no longer contains '$needle'; update hil/build-modules.sh" >&2; exit 1; }
sed -i "s/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/" "$build/irq_sim.c"
cat > "$build/Kbuild" <<'KB'
obj-m := gpio-sim.o
gpio-sim-y := gpio-sim-main.o irq_sim.o
KB
[ -f "$build/i2c-stub.c" ] && echo 'obj-m += i2c-stub.o' >> "$build/Kbuild"
# The headers' Makefile includes the common headers by absolute path: point it at the unpacked copy.
sed -i "s|^include /usr/src/|include $kroot/usr/src/|" "$headers/Makefile"
make_args=(-C "$headers" M="$build" modules)
if [ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ]; then
  make_args+=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
  # The arm64 kbuild package's helpers (fixdep, modpost) are arm64 programs: put the host's build of the
  # same kbuild version in their place.
  [ -n "${HOST_KBUILD:-}" ] || { echo "modules: set HOST_KBUILD to an amd64 linux-kbuild-6.1 tree" >&2; exit 1; }
  rm -rf "$kroot/usr/lib/linux-kbuild-6.1"
  cp -a "$HOST_KBUILD" "$kroot/usr/lib/linux-kbuild-6.1"
fi
make "${make_args[@]}" > "$build/build.log" 2>&1 || { tail -30 "$build/build.log" >&2; exit 1; }
echo "modules: built ${modules[*]} in $build for $kver"
