#!/usr/bin/env bash
# The test suite: builds everything (installing what it needs) and runs every doctest suite
# through ctest against real RocksDB folders.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/build.sh"
cd "$root/build"
ctest --output-on-failure -j"${SAZESH_JOBS:-2}" "$@"
