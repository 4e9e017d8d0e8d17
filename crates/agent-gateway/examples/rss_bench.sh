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
#
# Whole-log mode, no Ray needed: `jobs/{id}/logs/` of a BYTES-byte log read by curl
# (to /dev/null, as it streams) from a gateway in front of the tests' stand-in Ray
# (examples/standin_ray.rs, which generates the log as it sends it):
#
#   cargo build --release -p agent-gateway --bin agent-gateway --example standin_ray
#   crates/agent-gateway/examples/rss_bench.sh logs 1073741824   # 1 GiB log
set -euo pipefail

if [ "${1:-}" = logs ]; then
    BYTES=${2:-1073741824}
    ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
    BIN=${AGENT_GATEWAY_BIN:-$ROOT/target/release/agent-gateway}
    STANDIN=${AGENT_STANDIN_BIN:-$ROOT/target/release/examples/standin_ray}
    PORT=${PORT:-18614}
    TOKEN=bench-token
    WORK=$(mktemp -d)
    GW="" RAYPID=""
    trap 'kill $GW $RAYPID 2>/dev/null || true; rm -rf "$WORK"' EXIT
    "$STANDIN" "$BYTES" >"$WORK/standin.out" &
    RAYPID=$!
    until [ -s "$WORK/standin.out" ]; do sleep 0.1; done
    read -r RAY JOB <"$WORK/standin.out"
    AGENT_TOKEN=$TOKEN "$BIN" --ray-address "$RAY" --listen "127.0.0.1:$PORT" \
        --quiet 2>"$WORK/gateway.log" &
    GW=$!
    URL="http://127.0.0.1:$PORT"
    until curl -sf -H "Authorization: $TOKEN" "$URL/health/" >/dev/null; do sleep 0.2; done
    hwm() { awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$GW/status"; }
    echo "gateway pid $GW, peak RSS at start: $(hwm)"
    echo "job $JOB: whole log of $BYTES bytes (one line of x between two short lines)"
    START=$(date +%s.%N)
    GOT=$(curl -sf -o /dev/null -w '%{http_code} %{size_download}' \
        -H "Authorization: $TOKEN" "$URL/jobs/$JOB/logs/") || GOT="$GOT (curl failed: $?)"
    END=$(date +%s.%N)
    # the JSON string: 2 quotes, "first line\n" (12), the x's, "\nlast line\n" (13)
    echo "answer (status, bytes; want 200 $((BYTES + 27))): $GOT"
    echo "peak RSS after: $(hwm); $(awk "BEGIN {printf \"%.1f\", $END - $START}") s"
    exit 0
fi

TAILS=${1:-20}
LINES=${2:-100000}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=crates/agent-gateway/examples/gateway_lib.sh
. "$ROOT/crates/agent-gateway/examples/gateway_lib.sh"
BIN=${AGENT_GATEWAY_BIN:-$ROOT/target/release/agent-gateway}
RAY=${AGENT_E2E_RAY:-http://127.0.0.1:8265}
PORT=${PORT:-18613}
TOKEN=bench-token
WORK=$(mktemp -d)
trap 'kill "$GW" 2>/dev/null || true; rm -rf "$WORK"' EXIT

test_registry "$WORK/plugins.toml" bench
export_ray_token
AGENT_TOKEN=$TOKEN "$BIN" --ray-address "$RAY" --listen "127.0.0.1:$PORT" \
    --plugins "$WORK/plugins.toml" --quiet 2>"$WORK/gateway.log" &
GW=$!
URL="http://127.0.0.1:$PORT"
until curl -sf -H "Authorization: $TOKEN" "$URL/health/" >/dev/null; do sleep 0.2; done

hwm() { awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$GW/status"; }
echo "gateway pid $GW, peak RSS at start: $(hwm)"

TAG="b$$"
JOB=$(submit_job bench@1 flood "{\"tag\": \"$TAG\", \"count\": $LINES}")
echo "job $JOB: $LINES lines of 100 bytes, $TAILS concurrent tails"

START=$(date +%s.%N)
PIDS=()
for i in $(seq "$TAILS"); do
    # (an event may hold several lines: the tag is counted, not the events)
    curl -sfN -H "Authorization: $TOKEN" "$URL/jobs/$JOB/logs/stream/" |
        grep -o "$TAG " | wc -l >"$WORK/tail-$i.count" &
    PIDS+=($!)
done
wait "${PIDS[@]}" || true
END=$(date +%s.%N)

echo "peak RSS after: $(hwm); $(awk "BEGIN {printf \"%.1f\", $END - $START}") s"
echo "lines per tail (want $((LINES + 1))): $(cat "$WORK"/tail-*.count | sort | uniq -c | tr '\n' ' ')"
