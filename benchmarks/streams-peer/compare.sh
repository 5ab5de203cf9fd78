#!/usr/bin/env bash
# Runs the Kafka Streams peer and Sazesh's own projector on the same events topic, and checks
# that their projections agree: the statuses, outcomes and categories histograms, and for every
# business the counters both keep (complaints, open cases, unanswered, settlements, referrals,
# rejections, withdrawals).
#
# Usage: benchmarks/streams-peer/compare.sh SAZESH BOOTSTRAP PREFIX [peer options]
#   SAZESH   the sazesh binary (e.g. build/cli/sazesh)
# Prints one JSON line: both rates and "agree": true|false; the differences go to stderr.
# Exit 0 when they agree, 1 when they do not.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[[ $# -ge 3 ]] || { echo "usage: $0 SAZESH BOOTSTRAP PREFIX [peer options]" >&2; exit 2; }
sazesh="$1" bootstrap="$2" prefix="$3"
shift 3

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$here/run.sh" "$bootstrap" "$prefix" --per-business "$@" >"$work/peer.json"

S=("$sazesh" --kafka "$bootstrap" --kafka-prefix "$prefix" --data-dir "$work/ours")
start=$(date +%s.%N)
"${S[@]}" project >"$work/project.txt"
end=$(date +%s.%N)
for by in status outcome category; do "${S[@]}" stats --by "$by" --json >"$work/stats-$by.json"; done
"${S[@]}" scorecard --json >"$work/scorecard.json"

python3 - "$work" "$start" "$end" <<'EOF'
import json, re, sys
work, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
peer = json.load(open(f"{work}/peer.json"))
applied = int(re.search(r"applied (\d+) events", open(f"{work}/project.txt").read()).group(1))
diffs = []

for by in ("status", "outcome", "category"):
    ours = {r[by]: r["cases"] for r in json.load(open(f"{work}/stats-{by}.json"))}
    if ours != peer[by]:
        diffs.append(f"{by} histogram: ours {ours}, peer {peer[by]}")

counters = ["complaints", "open_cases", "unanswered", "settled_negotiation", "settled_mediation",
            "referred", "rejected", "withdrawn"]
# Our scorecards also list registered businesses without a complaint; the peer's business
# table only has businesses that some case names.
ours = {r["business"]: {c: r[c] for c in counters}
        for r in json.load(open(f"{work}/scorecard.json")) if r["complaints"] > 0}
theirs = peer["per_business"]
for b in sorted(set(ours) | set(theirs)):
    if ours.get(b) != theirs.get(b):
        diffs.append(f"business {b}: ours {ours.get(b)}, peer {theirs.get(b)}")
if applied != peer["events"]:
    diffs.append(f"events: ours applied {applied}, peer read {peer['events']}")

for d in diffs[:50]:
    print("differs:", d, file=sys.stderr)
ours_seconds = end - start
print(json.dumps({
    "events": applied,
    "cases": sum(peer["status"].values()),
    "businesses_compared": len(set(ours) | set(theirs)),
    "ours_seconds": round(ours_seconds, 3),
    "ours_events_per_second": round(applied / ours_seconds, 1),
    "peer_seconds": round(peer["seconds"], 3),
    "peer_events_per_second": round(peer["events_per_second"], 1),
    "peer_guarantee": peer["guarantee"],
    "agree": not diffs,
}))
sys.exit(0 if not diffs else 1)
EOF
