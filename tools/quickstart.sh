#!/usr/bin/env bash
# The README's first command: install what is missing, build tern in Release,
# and run it on a model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/dev/install-deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_BUILD_TESTS=OFF -DTERN_BUILD_BENCH=OFF
cmake --build build
# The bundled story model (models/README.md); a fixed seed, so the story is
# the same every time and on every CPU.
./build/tern run -m models/tern-tinystories-4m.gguf -p "Once upon a time" -n 160 --temp 0.7 -s 3 --repeat-penalty 1.1
