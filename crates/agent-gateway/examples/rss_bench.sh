#!/usr/bin/env bash
# Peak RSS of the agent-gateway process while it tails a big job's log:
# N concurrent HTTP-stream tails (curl) of a `flood` job of LINES lines of 100 bytes.
#
#   .ci/ray.sh start
#   cargo build --release -p agent-gateway
#   crates/agent-gateway/examples/rss_bench.sh 20 100000      # 20 tails, 100k lines (10 MB)
#   crates/agent-gateway/examples/rss_bench.sh 1 10000000     # 1 tail, 10M lines (1 GB)
#
# Prints, per run: the gateway's VmHWM before and after, the lines each tail got
# (every one of the job's lines must arrive: LINES + 1 with the last line), and
# the time. Uses target/ray-auth-token when the cluster has token auth.
set -euo pipefail

TAILS=${1:-20}
LINES=${2:-100000}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=${AGENT_GATEWAY_BIN:-$ROOT/target/release/agent-gateway}
RAY=${AGENT_E2E_RAY:-http://127.0.0.1:8265}
PORT=${PORT:-18613}
TOKEN=bench-token
WORK=$(mktemp -d)
trap 'kill "$GW" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cat >"$WORK/plugins.toml" <<EOF
[[releases]]
code = "bench"
version = "1"
entrypoint = "python -u '$ROOT/crates/agent-gateway/tests/support/plugin.py' {action} {params}"
EOF

if [ -s "$ROOT/target/ray-auth-token" ]; then
    RAY_AUTH_TOKEN=$(cat "$ROOT/target/ray-auth-token")
    export RAY_AUTH_TOKEN
fi
AGENT_TOKEN=$TOKEN "$BIN" --ray-address "$RAY" --listen "127.0.0.1:$PORT" \
    --plugins "$WORK/plugins.toml" --quiet 2>"$WORK/gateway.log" &
GW=$!
URL="http://127.0.0.1:$PORT"
until curl -sf -H "Authorization: $TOKEN" "$URL/health/" >/dev/null; do sleep 0.2; done

hwm() { awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$GW/status"; }
echo "gateway pid $GW, peak RSS at start: $(hwm)"

TAG="b$$"
JOB=$(curl -sf -H "Authorization: $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"action\": \"flood\", \"params\": {\"tag\": \"$TAG\", \"count\": $LINES}}" \
    "$URL/plugin_releases/bench@1/run/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
echo "job $JOB: $LINES lines of 100 bytes, $TAILS concurrent tails"

START=$(date +%s.%N)
PIDS=()
for i in $(seq "$TAILS"); do
    curl -sfN -H "Authorization: $TOKEN" "$URL/jobs/$JOB/logs/stream/" |
        grep -c "$TAG " >"$WORK/tail-$i.count" &
    PIDS+=($!)
done
wait "${PIDS[@]}" || true
END=$(date +%s.%N)

echo "peak RSS after: $(hwm); $(awk "BEGIN {printf \"%.1f\", $END - $START}") s"
echo "lines per tail (want $((LINES + 1))): $(cat "$WORK"/tail-*.count | sort | uniq -c | tr '\n' ' ')"
