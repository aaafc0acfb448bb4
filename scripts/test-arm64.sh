#!/usr/bin/env bash
# Runs the aarch64 unit test bundle (make test-arm64 builds it) under qemu-aarch64 user-mode emulation, as a CPU
# with the dot product (-cpu max: the int8 kernels portable, neon, neon-dot) and as a Cortex-A72 (Raspberry Pi 4:
# portable, neon). Each run must find exactly those int8 kernels, so the SDOT and the ARMv8.0 paths are both
# checked against the portable one. The shipped model's quality checks are left to eval-smoke, as in test-unit.
# Usage: scripts/test-arm64.sh TEST_BUNDLE SYSROOT
set -euo pipefail
bundle=$1; sysroot=$2
# The test bundle loads sid's shared Swift runtime (sid ships swift-testing and XCTest only as shared libraries),
# which needs glibc 2.38 and sid's libstdc++, above the bookworm libraries the sysroot links against: it runs under
# trixie's loader and C library and sid's C++ runtime (sid-root.sh unpacks them at /opt/test-runtime in the
# sysroot). qemu runs that loader as the program (from the host's path to it); the loader finds the rest through
# qemu's -L, with the Swift runtime's and OpenBLAS's directories given by path (the sysroot has no loader cache).
runtime=/opt/test-runtime/usr/lib/aarch64-linux-gnu
loader=$sysroot$runtime/ld-linux-aarch64.so.1
[ -e "$loader" ] || { echo "test-arm64: no $runtime in $sysroot (made by scripts/sid-root.sh)" >&2; exit 1; }
libs=$runtime:/usr/libexec/swift/lib/swift/linux:/usr/lib/aarch64-linux-gnu/openblas-pthread
status=0
for run in "max portable,neon,neon-dot" "cortex-a72 portable,neon"; do
  read -r cpu kernels <<< "$run"
  echo "test-arm64: qemu-aarch64 -cpu $cpu (int8 kernels $kernels)"
  start=$(date +%s)
  # qemu passes its environment to the program (its -E splits values at commas); qemu itself is static. The
  # governor's property test runs 20 000 random sequences here, not 100 000 as on the build machine: the same
  # code, and 100 000 would take 9–10 minutes a run under emulation.
  if CEREBELLUM_EXPECT_KERNELS=$kernels CEREBELLUM_PROPERTY_SEQUENCES=20000 qemu-aarch64-static -L "$sysroot" -cpu "$cpu" \
      "$loader" --library-path "$libs" "$bundle" --testing-library swift-testing --skip ShippedModelQualityTests > "$bundle.$cpu.log" 2>&1; then
    result=passed
  else
    result=FAILED; status=1
    grep -E '✘ Test .*recorded an issue' "$bundle.$cpu.log" | cut -c1-400 | head -20 >&2 || true
  fi
  echo "test-arm64: -cpu $cpu $result in $(( $(date +%s) - start )) s: $(tail -1 "$bundle.$cpu.log" | cut -c1-200)"
done
exit $status
