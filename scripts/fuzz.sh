#!/usr/bin/env bash
# Runs each libFuzzer harness of tests/Fuzz for SECONDS from its committed seed corpus (copied to
# .fuzz/TARGET/, so what the fuzzer adds never dirties the checkout). Fails on any crash, sanitizer
# report, timeout or memory blow-up, naming the input that caused it; prints each target's count.
# Usage: scripts/fuzz.sh FUZZER SECONDS TARGET...
set -euo pipefail
fuzzer=$(realpath "$1"); seconds=$2; shift 2
root=$(pwd)
status=0
for t in "$@"; do
  work="$root/.fuzz/$t"
  mkdir -p "$work/corpus" "$work/findings"
  cp -n "$root/Tests/Fuzz/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
  dict=(); [ -f "$root/Tests/Fuzz/$t.dict" ] && dict=(-dict="$root/Tests/Fuzz/$t.dict")
  # A model or recording is at most 64 KiB here: enough for the seeds' structure, small enough to run fast.
  if (cd "$work" && SWIFT_BACKTRACE=enable=no CEREBELLUM_FUZZ_TARGET=$t "$fuzzer" -max_total_time="$seconds" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$work/findings/" corpus > "$work/log" 2>&1); then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
    echo "fuzz $t: $runs executions in $seconds s, no crash ($(ls "$work/corpus" | wc -l) inputs in .fuzz/$t/corpus)"
  else
    status=1
    echo "fuzz $t: FAILED — $(grep -m1 -E 'ERROR|Fatal error|deadly|timeout|out-of-memory' "$work/log" || tail -1 "$work/log")"
    echo "  input: $(ls "$work/findings"/* 2>/dev/null | head -1); log: $work/log"
  fi
done
exit $status
