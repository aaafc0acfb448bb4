#!/usr/bin/env bash
# Line coverage of the Safety module by its tests; fails below 100 %.
# Builds into its own folder (.build-coverage) so it does not disturb the normal debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=.build-coverage
swift build --build-tests --enable-code-coverage --scratch-path "$SCRATCH" >/dev/null
swift test --skip-build --enable-code-coverage --scratch-path "$SCRATCH" --filter SafetyTests >/dev/null
BIN_DIR=$(swift build --show-bin-path --scratch-path "$SCRATCH")
PROFDATA="$BIN_DIR/codecov/default.profdata"
TESTBIN=$(ls -d "$BIN_DIR"/*PackageTests.xctest | head -n1)
# The toolchain's llvm-cov matches its profile format; a system llvm-cov may not.
LLVM_COV="$(dirname "$(readlink -f "$(command -v swift)")")/llvm-cov"
[ -x "$LLVM_COV" ] || LLVM_COV=$(command -v llvm-cov)
"$LLVM_COV" report "$TESTBIN" -instr-profile="$PROFDATA" Sources/Safety/*.swift | tee "$SCRATCH/safety-coverage.txt"
total=$(awk '/^TOTAL/ {print $(NF-3)}' "$SCRATCH/safety-coverage.txt")
echo "Safety line coverage: $total"
if [ "$total" != "100.00%" ]; then
  echo "coverage-safety: FAILED — Safety line coverage is $total, must be 100.00%. Uncovered lines:"
  "$LLVM_COV" show "$TESTBIN" -instr-profile="$PROFDATA" Sources/Safety/*.swift -show-line-counts-or-regions \
    | grep -E '^ +[0-9]+\| +0\|' | head -40 || true
  exit 1
fi
echo "coverage-safety: passed"
