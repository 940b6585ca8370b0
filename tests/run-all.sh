#!/usr/bin/env bash
# The README's test command: install what is missing, then build and run every
# test, twice: with GCC in Release, and with Clang under AddressSanitizer +
# UndefinedBehaviorSanitizer, followed by a bounded libFuzzer run of the GGUF
# reader. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/dev/install-deps.sh test
bash tools/dev/fetch-test-data.sh
jobs=$(nproc)
start=$(date +%s)
logs=$(mktemp -d)

echo "== GCC Release build and tests"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs" | tee "$logs/release.txt"

# The server's real clients (tests/serve_js): the official openai package, a load
# test, the chat page in Debian's headless Chromium. npm ci only when the
# installed packages do not match package-lock.json (it needs the npm registry).
echo "== tern serve with real clients: openai (JavaScript), load, the chat page in Chromium"
npm ls --prefix tests/serve_js >/dev/null 2>&1 || (cd tests/serve_js && npm ci --no-audit --no-fund)
root=$PWD
(cd tests/serve_js && TERN_BINARY="$root/build/tern" TERN_MODEL="$root/models/tern-tinystories-4m.gguf" \
  node --test --test-reporter=tap --test-concurrency=1) | tee "$logs/node.txt"
node_total=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$logs/node.txt" | tail -n 1)
node_failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$logs/node.txt" | tail -n 1)
[ -n "$node_total" ] && [ "$node_failed" = 0 ] || { echo "node tests: no summary, or failures"; exit 1; }

echo "== Clang + AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DTERN_SANITIZE=ON -DTERN_FUZZ=ON -DTERN_BUILD_BENCH=OFF
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" | tee "$logs/asan.txt"

echo "== Clang + ThreadSanitizer: where threads meet (thread pool, sessions on one model)"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DTERN_TSAN=ON -DTERN_BUILD_BENCH=OFF
cmake --build build-tsan -j "$jobs" --target tern_tests
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./build-tsan/tests/tern_tests \
  --gtest_filter='ThreadPool.*:Library.*:Batch.*' | tee "$logs/tsan.txt"
tsan_total=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\.$/\1/p' "$logs/tsan.txt")

echo "== libFuzzer: GGUF reader for ${TERN_FUZZ_SECONDS:-60} s"
corpus=$(mktemp -d)
cp tests/fuzz/corpus/* "$corpus"/
./build-asan/tests/fuzz_gguf -max_total_time="${TERN_FUZZ_SECONDS:-60}" -max_len=4096 -print_final_stats=1 \
  "$corpus" > "$logs/fuzz.txt" 2>&1 || { tail -n 40 "$logs/fuzz.txt"; echo "fuzzer found a failure"; exit 1; }
grep -E "stat::number_of_executed_units|Done" "$logs/fuzz.txt" || true
rm -rf "$corpus"

# ---------------------------------------------------------------- arm64 (begin)
# The arm64 kernel tables (kernels/arm), cross-compiled with aarch64-linux-gnu-g++
# and run under qemu-aarch64 on two CPU models (with and without dotprod);
# tests/arm/run.sh ends with "arm: N passed, M failed". About a minute on 2 cores.
echo "== arm64 kernel tests: cross-compiled, run under qemu-aarch64 (-cpu max, -cpu cortex-a53)"
bash tests/arm/run.sh "$jobs" | tee "$logs/arm.txt"
arm_summary=$(grep -E '^arm: [0-9]+ passed, [0-9]+ failed$' "$logs/arm.txt" | tail -n 1)
# ---------------------------------------------------------------- arm64 (end)

# The AVX-512 and AVX-VNNI tables on whatever x86-64 host this is: SIMDe stands
# in for the instructions (tests/x86_emulated), every conformance case on every
# x86 table; ends with "x86 emulated tables: N passed, M failed". ~1.5 min.
x86emu_total=0
if [ "$(uname -m)" = x86_64 ]; then
  echo "== x86 kernel tables without the hardware: AVX-512 / AVX-VNNI on SIMDe"
  bash tests/x86_emulated/run.sh "$jobs" | tee "$logs/x86emu.txt"
  x86emu_total=$(sed -n 's/^x86 emulated tables: \([0-9]*\) passed.*/\1/p' "$logs/x86emu.txt" | tail -n 1)
fi

# ctest prints "100% tests passed, 0 tests failed out of N" per run; the arm
# step "arm: N passed, M failed", the x86 emulated step likewise; node's test
# runner "# pass N". Any failure stopped the script above.
count() { sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$1" | tail -n 1; }
ctest_total=$(( $(count "$logs/release.txt") + $(count "$logs/asan.txt") + tsan_total ))
arm_total=$(echo "$arm_summary" | sed -n 's/^arm: \([0-9]*\) passed.*/\1/p')
echo "== done in $(( $(date +%s) - start )) s: GCC Release and Clang ASan+UBSan runs of the suite," \
  "the threaded tests under TSan ($ctest_total tests), fuzzing, arm64 under qemu ($arm_total checks)," \
  "the AVX-512 / AVX-VNNI tables on SIMDe ($x86emu_total cases), the server's node clients ($node_total tests)"
echo "tests: $(( ctest_total + arm_total + x86emu_total + node_total )) passed, 0 failed"
