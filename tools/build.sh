#!/usr/bin/env bash
# Installs the build dependencies (Debian 12) and builds everything into ./build.
# Usage: tools/build.sh [ninja targets...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/install-deps.sh"
# SAZESH_WERROR=ON (tools/test.sh sets it) makes warnings errors; unset, the cached choice stays.
werror=()
[ -z "${SAZESH_WERROR:-}" ] || werror=(-DSAZESH_WERROR="$SAZESH_WERROR")
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE="${SAZESH_BUILD_TYPE:-RelWithDebInfo}" "${werror[@]}" >/dev/null
# Two cores on the reference machine; more parallel jobs only thrash.
ninja -C "$root/build" -j"${SAZESH_JOBS:-2}" "$@"
