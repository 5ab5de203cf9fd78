#!/usr/bin/env bash
# `sazesh serve` under load from wrk (keep-alive connections on loopback): commands per second and
# latency for a write (POST /v1/message on one of 64 cases, each request a new command) and a
# query (GET /v1/case), at 16, 64 and 256 connections, beside
#   - the same messages through the engine in process, from as many threads (the ratio),
#   - GET /healthz on the same server (its HTTP path without the engine), and
#   - sazesh-http-floor, a bare Beast server's fixed answer (the HTTP limit of this machine);
# and with EVENTS, queries of random cases over HTTP on a log of that many generated events.
#   benchmarks/serve_load.sh [SECONDS] [EVENTS]     (default 10 s per run; no large log)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-10}"
events="${2:-}"
"$root/tools/build.sh" sazesh sazesh-bench sazesh-http-floor >&2
command -v wrk >/dev/null || { sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo); "${sudo_cmd[@]}" apt-get install -y -q wrk >&2; }
S="$root/build/cli/sazesh"
dir="$(mktemp -d /tmp/sazesh-serve-load.XXXXXX)"
pid=""; floor=""
trap 'kill $pid $floor 2>/dev/null || true; wait $pid $floor 2>/dev/null || true; rm -rf "$dir"' EXIT
op=$("$S" --data-dir "$dir/data" --json account bootstrap --id bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$S" --data-dir "$dir/data" serve --listen 127.0.0.1:0 --tick-every 0 --workers 64 > "$dir/serve.out" 2> "$dir/serve.err" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(awk '{print $3}' "$dir/serve.out")
post() { curl -sf "$url/v1/$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$3"; }
post register-business "$op" '{"seal-id":"1002","domain":"load.example.ir","name":"بار"}' >/dev/null
consumer=$(curl -sf "$url/v1/register-consumer" -H 'Content-Type: application/json' \
  -d '{"national-code":"0013542419","mobile":"09121234567","name":"مریم"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["credential"]["token"])')
cases=()
for i in $(seq 64); do
  cases+=("$(post file "$consumer" "{\"business\":\"1002\",\"order-ref\":\"L-$i\",\"purchase-date\":\"1405/08/01\",\"amount\":1000,\"category\":\"other\",\"description\":\"x\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["stream"])')")
done
list=$(printf '"%s",' "${cases[@]}")
cat > "$dir/message.lua" <<LUA
local cases = {${list%,}}
local n = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $consumer"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/message", nil, '{"case":"' .. cases[(n % #cases) + 1] .. '","text":"پیام ' .. n .. '"}')
end
LUA
cat > "$dir/auth.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $consumer"
LUA
printf '| request | connections | requests/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n'
run() {  # label connections script target
  local out
  out=$(wrk -t$(( $2 < 2 ? $2 : 2 )) -c"$2" -d"${seconds}s" --latency -s "$3" "$url$4" 2>&1)
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$rps" "$p50" "$p99" "${errs:-0}"
}
for c in 16 64 256; do run "POST /v1/message (a write, durable)" "$c" "$dir/message.lua" "/v1/message"; done
for c in 16 64 256; do run "GET /v1/case (a query)" "$c" "$dir/auth.lua" "/v1/case?case=${cases[0]}"; done
for c in 16 64 256; do run "GET /healthz (HTTP only)" "$c" "$dir/auth.lua" "/healthz"; done
rss=$(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

# The same messages in process, from as many threads as there were connections: the engine
# alone, and the engine with the projections brought up to date after each write, as serve does.
for project in 0 1; do
  for c in 16 64 256; do
    rm -rf "$dir/inproc"
    "$root/build/benchmarks/sazesh-bench" messages --dir "$dir/inproc" --clients "$c" --seconds "$seconds" --project "$project" |
      python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency"]
what = "messages in process, engine and projections" if r["projected"] else "messages in process, engine alone"
print("| %s | %d | %.0f | %.2f | %.2f | %d |" % (what, r["clients"], r["commands_per_second"], l["p50_us"]/1000, l["p99_us"]/1000, r["failed"]))'
  done
done

# The floor: a bare Beast server's fixed answer.
"$root/build/benchmarks/sazesh-http-floor" > "$dir/floor.out" &
floor=$!
for _ in $(seq 50); do grep -q listening "$dir/floor.out" 2>/dev/null && break; sleep 0.1; done
floor_url=$(awk '{print $3}' "$dir/floor.out")
url="$floor_url"
for c in 16 64 256; do run "bare Beast server, fixed answer" "$c" "$dir/auth.lua" "/"; done
kill "$floor"; wait "$floor" 2>/dev/null || true; floor=""
echo
echo "peak RSS of the server through the writes and queries: $rss"

[ -n "$events" ] || exit 0
# Queries at scale: a generated log of EVENTS events, served; GET /v1/case on random cases.
echo
echo "generating $events events (the workload of benchmarks/README.md) …" >&2
big="$dir/big"
"$root/build/benchmarks/sazesh-bench" generate --dir "$big" --events "$events" > "$dir/generate.json"
op=$("$S" --data-dir "$big" --json account bootstrap --id bench | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
"$S" --data-dir "$big" --as analyst:bench --json cases --limit 100000 |
  python3 -c 'import json,sys,random; ids=[r["case"] for r in json.load(sys.stdin)]; random.seed(7); random.shuffle(ids); print("\n".join(ids[:5000]))' > "$dir/ids"
"$S" --data-dir "$big" serve --listen 127.0.0.1:0 --tick-every 0 --workers 64 > "$dir/serve.out" 2> "$dir/serve.err" &
pid=$!
for _ in $(seq 1200); do grep -q listening "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(awk '{print $3}' "$dir/serve.out")
list=$(awk '{printf "\"%s\",", $0}' "$dir/ids")
cat > "$dir/random_case.lua" <<LUA
local cases = {${list%,}}
local n = 0
wrk.headers["Authorization"] = "Bearer $op"
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/case?case=" .. cases[(n * 7919 % #cases) + 1])
end
LUA
printf '| request, %s events (%s cases) | connections | requests/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n' \
  "$events" "$(python3 -c 'import json; print(json.load(open("'"$dir/generate.json"'"))["cases"])')"
for c in 1 16 64; do run "GET /v1/case, a random case" "$c" "$dir/random_case.lua" "/v1/case"; done
echo
echo "peak RSS of the server: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
