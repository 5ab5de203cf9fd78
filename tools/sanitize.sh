#!/usr/bin/env bash
# The suites under the sanitizers (CI runs this after tools/test.sh):
#  - AddressSanitizer + UndefinedBehaviorSanitizer (build-asan): every suite but Kafka's and the
#    browser's, then each fuzz target for a few seconds from its seeds (tests/fuzz/README.md);
#  - ThreadSanitizer (build-tsan): the concurrent suites (the engine's pipeline, the projector
#    following the log, the server).
# Either part alone: tools/sanitize.sh asan | tsan. Installs what it needs first.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/tools/install-deps.sh"
parts=("${@:-asan tsan}")
for part in ${parts[@]}; do
  start=$SECONDS
  cmake --preset "$part" >/dev/null
  cmake --build --preset "$part"
  ctest --preset "$part"
  echo "sanitize: $part took $((SECONDS - start)) s"
done
