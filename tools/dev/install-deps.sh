#!/usr/bin/env bash
# Installs the Debian 12 packages tern needs, only those missing (so it works
# offline once they are present). Usage: install-deps.sh build|test
set -euo pipefail
build_pkgs="build-essential cmake ninja-build pkg-config git libcli11-dev libfmt-dev nlohmann-json3-dev libpcre2-dev libcpp-httplib-dev libssl-dev libedit-dev"
# nodejs, npm and chromium: the server's client tests (tests/serve_js: the openai
# package, and the chat page in headless Chromium); prometheus: promtool checks
# the server's alert rules (deploy/prometheus); libsimde-dev: the AVX-512 and
# AVX-VNNI tables checked on hosts without them (tests/x86_emulated).
test_pkgs="$build_pkgs libgtest-dev libbenchmark-dev clang libclang-rt-14-dev python3 python3-numpy qemu-user g++-aarch64-linux-gnu nodejs chromium prometheus libsimde-dev"
case "${1:-build}" in
  build) want=$build_pkgs ;;
  test) want=$test_pkgs ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm: Debian's package, unless node came with its own npm (NodeSource's nodejs does,
# and conflicts with Debian's npm).
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null; then missing="$missing npm"; fi
if [ -n "$missing" ]; then
  echo "== installing:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
