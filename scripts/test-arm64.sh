#!/usr/bin/env bash
# Runs the aarch64 unit test bundle (make test-arm64 builds it) under qemu-aarch64 user-mode emulation, as a CPU
# with the dot product (-cpu max: the int8 kernels portable, neon, neon-dot) and as a Cortex-A72 (Raspberry Pi 4:
# portable, neon). Each run must find exactly those int8 kernels, so the SDOT and the ARMv8.0 paths are both
# checked against the portable one. The shipped model's quality checks are left to eval-smoke, as in test-unit.
# Usage: scripts/test-arm64.sh TEST_BUNDLE SYSROOT
set -euo pipefail
bundle=$1; sysroot=$2
# The sysroot's loader has no cache: the Swift runtime's and OpenBLAS's directories are given by path.
libs=/usr/libexec/swift/lib/swift/linux:/usr/lib/aarch64-linux-gnu/openblas-pthread
status=0
for run in "max portable,neon,neon-dot" "cortex-a72 portable,neon"; do
  read -r cpu kernels <<< "$run"
  echo "test-arm64: qemu-aarch64 -cpu $cpu (int8 kernels $kernels)"
  start=$(date +%s)
  # qemu passes its environment to the program (its -E splits values at commas); qemu itself is static.
  if LD_LIBRARY_PATH=$libs CEREBELLUM_EXPECT_KERNELS=$kernels qemu-aarch64-static -L "$sysroot" -cpu "$cpu" \
      "$bundle" --testing-library swift-testing --skip ShippedModelQualityTests > "$bundle.$cpu.log" 2>&1; then
    result=passed
  else
    result=FAILED; status=1
    grep -E '✘ Test .*recorded an issue' "$bundle.$cpu.log" | cut -c1-400 | head -20 >&2 || true
  fi
  echo "test-arm64: -cpu $cpu $result in $(( $(date +%s) - start )) s: $(tail -1 "$bundle.$cpu.log" | cut -c1-200)"
done
exit $status
