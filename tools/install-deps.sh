#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing Sazesh needs.
# Safe to run again: packages already present are left as they are.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librocksdb-dev
  libflatbuffers-dev flatbuffers-compiler
  librdkafka-dev
  libboost-dev
  libfmt-dev
  doctest-dev
  libsodium-dev
  libssl-dev
  libjemalloc-dev
  # tools/kafka.sh (a local broker for the tests: Kafka's jars come from Maven Central) and
  # tests/kafka_test.cc (kcat reads an agency's topic as an independent client)
  openjdk-17-jre-headless maven kcat
  # the portal's tests in a real browser (tests/portal/)
  chromium
  # tools/verify-bundle.py, the bundle verifier that needs nothing of Sazesh, and its tests
  python3-cryptography python3-flatbuffers
  # the sanitizer builds and the fuzz targets (tools/sanitize.sh, tests/fuzz/); llvm-16 for
  # /usr/bin/llvm-symbolizer-16, which clang 16's sanitizers run to name the functions in a
  # report: without it tools/tsan.supp's suppressions by function name match nothing
  clang-16 libclang-rt-16-dev llvm-16
)
# Node.js runs those tests; a machine with a node of its own keeps it (Debian's npm would
# conflict with a node that bundles npm).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
