#!/usr/bin/env bash
# Runs one fuzz target for SECONDS from its seeds: run.sh TARGET SECONDS SEEDS WORK
# New inputs that add coverage go to WORK (never into the seeds kept in the repository); a
# crash, leak or timeout leaves its input in WORK/crashes and fails the run.
set -euo pipefail
target="$1" seconds="$2" seeds="$3" work="$4"
mkdir -p "$work/corpus" "$work/crashes"
exec "$target" "$work/corpus" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/crashes/"
