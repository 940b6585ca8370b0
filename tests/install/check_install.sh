#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a program outside
# the tree against it twice — with find_package(tern CONFIG) and with
# pkg-config — and checks that both reproduce the bundled model's golden
# greedy transcript, and that the installed `tern` runs.
# Usage: check_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
model=$src/models/tern-tinystories-4m.gguf
golden=$src/tests/data/tinystories_greedy48.txt
prompt="Once upon a time"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for f in bin/tern include/tern/model.h include/tern/generate.h lib/cmake/tern/tern-config.cmake lib/pkgconfig/tern.pc; do
  [ -e "$work/prefix/$f" ] || { echo "FAIL: the install has no $f"; cat "$work/install.log"; exit 1; }
done
ls "$work/prefix"/lib/libtern.* > /dev/null
"$work/prefix/bin/tern" --version

check() {  # name, binary
  { printf '%s' "$prompt"; "$2" "$model" "$prompt" 48; } > "$work/$1.txt"
  if cmp -s "$work/$1.txt" "$golden"; then
    echo "ok: $1 reproduces the golden transcript"
  else
    echo "FAIL: $1 output differs from $golden:"; cat "$work/$1.txt"; exit 1
  fi
}

# 1. find_package(tern CONFIG)
cmake -S "$src/tests/install/consumer" -B "$work/cmake-build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/cmake.log" || { cat "$work/cmake.log"; exit 1; }
cmake --build "$work/cmake-build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
check find_package "$work/cmake-build/consumer"

# 2. pkg-config
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs tern)
echo "pkg-config --cflags --libs tern: $flags"
# shellcheck disable=SC2086
g++ -std=c++20 -O1 "$src/tests/install/consumer/consumer.cpp" -o "$work/consumer-pc" $flags
check pkg-config "$work/consumer-pc"
echo "install: 2 passed, 0 failed"
