#!/usr/bin/env bash
# Runs every benchmark in one go and prints one table (also written, with the machine, the
# library versions and the date, to benchmarks/RESULTS.md). Installs and builds what it needs,
# starts a private Kafka broker with tools/kafka.sh (stopped and wiped on exit), and passes its
# arguments to benchmarks/run.py, e.g.
#   benchmarks/run.sh                       # 100k and 1M events
#   benchmarks/run.sh --sizes 100k,1m,10m   # the growth up to 10M events (long: most of an hour)
#   benchmarks/run.sh --no-kafka            # the embedded log only
#   benchmarks/run.sh --cluster             # appends to a three-node cluster only (RESULTS-cluster.md)
# The benchmarks are long runs on purpose; the tests (tools/test.sh) never time anything.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/build.sh" sazesh sazesh-bench >&2
args=()
kafka=1
cluster=0
for a in "$@"; do
  case "$a" in
    --no-kafka) kafka=0 ;;
    --cluster) cluster=1 ;;
    *) args+=("$a") ;;
  esac
done
if [ "$kafka" = 1 ]; then
  SAZESH_KAFKA_DIR="$(mktemp -u /tmp/sazesh-kafka-bench.XXXXXX)"
  export SAZESH_KAFKA_DIR
  scope=()  # tools/kafka.sh's commands for one broker; "cluster …" for three
  [ "$cluster" = 0 ] || scope=(cluster)
  trap '"$root/tools/kafka.sh" ${scope[@]+"${scope[@]}"} stop >/dev/null 2>&1 || true; rm -f "$SAZESH_KAFKA_DIR.lock"' EXIT
  if [ "$cluster" = 1 ]; then
    "$root/tools/kafka.sh" cluster start >&2
    args+=(--kafka "$("$root/tools/kafka.sh" cluster bootstrap)" --kafka-replication 3 --kafka-appends-only
           --out "$root/benchmarks/RESULTS-cluster.md")
  else
    args+=(--kafka "$("$root/tools/kafka.sh" start)")
  fi
fi
python3 "$root/benchmarks/run.py" --bench "$root/build/benchmarks/sazesh-bench" --sazesh "$root/build/cli/sazesh" \
  ${args[@]+"${args[@]}"}
