#!/usr/bin/env bash
# The arm64 kernel tests: cross-compile tests/arm (kernels + arm_kernels_test,
# static) with Debian's g++-aarch64-linux-gnu, then run them under qemu-user on
#   - `-cpu max`        (ASIMD + dotprod + i8mm): the neon_dotprod and neon tables;
#   - `-cpu cortex-a53` (ASIMD, no dotprod): the neon table, dispatch falls back
#     to it, and TERN_ISA=neon_dotprod is a clean error, not a SIGILL.
# Ends with one line: "arm: N passed, M failed". Exit status non-zero on failure.
# Usage: tests/arm/run.sh [jobs]   (build dir: build-arm)
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${1:-$(nproc)}
build=build-arm
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "tests/arm/run.sh: $tool not found (apt-get install g++-aarch64-linux-gnu qemu-user)"; exit 1; }
done

cmake -S tests/arm -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" >/dev/null
cmake --build "$build" -j "$jobs"
bin=$build/arm_kernels_test

passed=0
failed=0
run_suite() {  # cpu, expect_dotprod
  local out rc=0
  out=$(env -u TERN_ISA qemu-aarch64 -cpu "$1" "$bin" --expect-dotprod="$2" 2>&1) || rc=$?
  echo "$out" | tail -n 40
  local line p f
  line=$(echo "$out" | grep -E '^arm kernel tests .*: [0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true)
  p=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
  f=$(echo "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
  if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
    echo "FAIL: qemu-aarch64 -cpu $1: exit status $rc"
    failed=$((failed + ${f:-0} + 1))
    passed=$((passed + ${p:-0}))
  else
    passed=$((passed + p))
  fi
}
expect_active() {  # cpu, TERN_ISA ('' = unset), wanted first line, wanted exit status
  local out rc=0
  out=$(env -u TERN_ISA ${2:+TERN_ISA=$2} qemu-aarch64 -cpu "$1" "$bin" --print-active 2>&1) || rc=$?
  if [[ "$rc" -eq "$4" && "$out" == $3* ]]; then
    passed=$((passed + 1))
    echo "ok: -cpu $1 TERN_ISA=${2:-(unset)}: $out"
  else
    failed=$((failed + 1))
    echo "FAIL: -cpu $1 TERN_ISA=${2:-(unset)}: exit $rc, '$out' (wanted exit $4, '$3...')"
  fi
}

echo "-- qemu-aarch64 -cpu max (dotprod)"
run_suite max 1
echo "-- qemu-aarch64 -cpu cortex-a53 (no dotprod)"
run_suite cortex-a53 0
echo "-- dispatch under qemu"
expect_active max "" "neon_dotprod" 0
expect_active max neon "neon" 0
expect_active cortex-a53 "" "neon" 0
expect_active cortex-a53 neon_dotprod "error: kernel table 'neon_dotprod' needs neon+dotprod" 3

echo "arm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
