#!/usr/bin/env bash
# `sazesh serve` under load from wrk (keep-alive connections on loopback): commands per second and
# latency for a write (POST /v1/message on one of 64 cases, each request a new command) and a
# query (GET /v1/case), at 16, 64 and 256 connections, beside GET /healthz on the same server
# (the HTTP path without the engine: this server's own HTTP limit).
#   benchmarks/serve_load.sh [SECONDS]     (default 10 per run)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-10}"
"$root/tools/build.sh" sazesh >&2
command -v wrk >/dev/null || { sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo); "${sudo_cmd[@]}" apt-get install -y -q wrk >&2; }
S="$root/build/cli/sazesh"
dir="$(mktemp -d /tmp/sazesh-serve-load.XXXXXX)"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
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
  out=$(wrk -t2 -c"$2" -d"${seconds}s" --latency -s "$3" "$url$4" 2>&1)
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
echo
echo "peak RSS of the server: $(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
