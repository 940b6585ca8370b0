#!/usr/bin/env bash
# The README's first command: install what is missing, build tern in Release,
# and run it on a model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/dev/install-deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_BUILD_TESTS=OFF -DTERN_BUILD_BENCH=OFF
cmake --build build
./build/tern info build/demo.gguf
