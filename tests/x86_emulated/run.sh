#!/usr/bin/env bash
# The AVX-512 and AVX-VNNI kernel tables checked on any x86-64 host: built
# with SIMDe standing in for the instructions (tests/x86_emulated), every
# conformance case at full size on every x86 table. Ends with one line:
# "x86 emulated tables: N passed, M failed"; non-zero exit status on failure.
# Usage: tests/x86_emulated/run.sh [jobs]   (build dir: build-x86emu)
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${1:-$(nproc)}
[ -f /usr/include/simde/x86/avx512.h ] || { echo "tests/x86_emulated/run.sh: SIMDe not found (apt-get install libsimde-dev)"; exit 1; }
cmake -S tests/x86_emulated -B build-x86emu -G Ninja -DCMAKE_CXX_COMPILER=g++ >/dev/null
cmake --build build-x86emu -j "$jobs"
build-x86emu/x86_emulated_test
