#!/usr/bin/env bash
# The main job: builds Sazesh (installing what it needs) and runs the scripted complaint
# lifecycle on a fresh embedded data folder, printing what happened.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/build.sh" sazesh >/dev/null
exec "$root/build/cli/sazesh" demo "$@"
