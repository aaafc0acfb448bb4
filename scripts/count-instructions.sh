#!/usr/bin/env bash
# Counts the aarch64 instructions of each phase of a control tick under qemu-aarch64 (user mode) with an
# instruction-counting plugin (scripts/qemu-insn-count.c), as a Cortex-A72 (Raspberry Pi 4: no dot product) and
# a Cortex-A76 (Raspberry Pi 5: SDOT), and turns them into a time range on each board from its clock and an
# assumed range of instructions per cycle (docs/performance.md says why these). Emulation does not time; the
# instruction count of the same binary on the same CPU features is exact, the cycles per instruction are not.
# Each phase runs `cerebellum bench work` twice, with BASE and BASE+K repetitions; the difference over the
# units of work between them removes the start-up (loading, checks, first calls).
# Usage: scripts/count-instructions.sh BINARY SYSROOT [JSON]
set -euo pipefail
binary=$1; sysroot=$2; json=${3:-}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
plugin=$work/qemu-insn-count.so
${CC:-cc} -shared -fPIC -O2 -fvisibility=hidden -o "$plugin" "$(dirname "$0")/qemu-insn-count.c"
command -v qemu-aarch64 > /dev/null || { echo "count-instructions: qemu-aarch64 (Debian package qemu-user) is needed: its plugins" >&2; exit 1; }

# The board: its profile (camera size and format, planner settings), CPU model, clock (GHz) and the
# instructions-per-cycle range assumed for this code.
boards=("pi4 boards/raspberry-pi-4.yaml cortex-a72 1.5 1.0 2.0" "pi5 boards/raspberry-pi-5.yaml cortex-a76 2.4 1.5 3.0")
# Phase, predictor (auto: the board's choice), base repetitions, extra repetitions.
phases=("convert auto 1 20" "encode auto 1 10" "plan auto 1 3" "plan fp32 1 3" "plan int8 1 3" "route auto 1 2")

count() { # cpu phase predictor n board -> "instructions units detail"
  local out=$work/insn log=$work/log
  OPENBLAS_NUM_THREADS=1 qemu-aarch64 -L "$sysroot" -cpu "$1" -plugin "$plugin,out=$out" \
    "$binary" bench work --phase "$2" --predictor "$3" --count "$4" --board "$5" > "$log" 2>&1 \
    || { echo "count-instructions: bench work --phase $2 failed under -cpu $1:" >&2; tail -5 "$log" >&2; exit 1; }
  local units detail
  units=$(sed -n 's/^work: .*: \([0-9]*\) units.*/\1/p' "$log")
  detail=$(sed -n 's/^work: .* units (\(.*\))$/\1/p' "$log")
  echo "$(awk '{print $2}' "$out") $units $detail"
}

echo "count-instructions: $binary, qemu-aarch64 $(qemu-aarch64 --version | head -1 | awk '{print $3}')"
rows=()
for b in "${boards[@]}"; do
  read -r name board cpu ghz ipc_low ipc_high <<< "$b"
  for p in "${phases[@]}"; do
    read -r phase predictor base extra <<< "$p"
    read -r i1 u1 _ <<< "$(count "$cpu" "$phase" "$predictor" "$base" "$board")"
    read -r i2 u2 detail <<< "$(count "$cpu" "$phase" "$predictor" $((base + extra)) "$board")"
    per=$(awk -v a="$i1" -v b="$i2" -v x="$u1" -v y="$u2" 'BEGIN{printf "%.0f", (b-a)/(y-x)}')
    rows+=("$name $cpu $ghz $ipc_low $ipc_high $phase $predictor $per $(( (u2 - u1) / extra )) $detail")
  done
done

# Per unit, and per tick: convert and encode once per frame, the plan's configured work, route-search children per ms.
printf '\n%-4s %-11s %-8s %-6s %14s %12s %22s  %s\n' board cpu phase numbers "instr/unit" "units/tick" "ms per tick (IPC range)" "what ran"
for r in "${rows[@]}"; do
  read -r name cpu ghz lo hi phase predictor per units detail <<< "$r"
  if [ "$phase" = route ]; then
    awk -v p="$per" -v g="$ghz" -v lo="$lo" -v hi="$hi" -v n="$name" -v c="$cpu" -v ph="$phase" -v pr="$predictor" -v d="$detail" \
      'BEGIN{printf "%-4s %-11s %-8s %-6s %14.0f %12s %22s  %s\n", n, c, ph, pr, p, "–",
        sprintf("%.0f–%.0f children/ms", lo*g*1e6/p, hi*g*1e6/p), d}'
  else
    awk -v p="$per" -v u="$units" -v g="$ghz" -v lo="$lo" -v hi="$hi" -v n="$name" -v c="$cpu" -v ph="$phase" -v pr="$predictor" -v d="$detail" \
      'BEGIN{t=p*u; printf "%-4s %-11s %-8s %-6s %14.0f %12d %22s  %s\n", n, c, ph, pr, p, u,
        sprintf("%.3f–%.3f", t/(hi*g*1e6), t/(lo*g*1e6)), d}'
  fi
done
echo "(clock: Pi 4 1.5 GHz, Pi 5 2.4 GHz; instructions per cycle assumed 1.0–2.0 on the A72, 1.5–3.0 on the A76)"

if [ -n "$json" ]; then
  {
    echo '{"benchmark": "instructions", "rows": ['
    sep=""
    for r in "${rows[@]}"; do
      read -r name cpu ghz lo hi phase predictor per units detail <<< "$r"
      printf '%s{"board": "%s", "cpu": "%s", "ghz": %s, "ipc_low": %s, "ipc_high": %s, "phase": "%s", "predictor": "%s", ' \
        "$sep" "$name" "$cpu" "$ghz" "$lo" "$hi" "$phase" "$predictor"
      printf '"instructions_per_unit": %s, "units_per_repetition": %s, "detail": "%s"}\n' "$per" "$units" "$detail"
      sep=","
    done
    echo ']}'
  } > "$json"
  echo "report: $json"
fi
