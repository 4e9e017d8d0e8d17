#!/usr/bin/env bash
# Issue 22's targets for the far end of a big log, through a release gateway
# with --archive-dir on the Ray of `.ci/ray.sh`: a `flood` job of LINES lines of
# 100 bytes (default 10,000,000: 1 GB), then
#   1. `jobs/{id}/logs/?tail=100` and `agentctl jobs logs ID --tail 100`: bytes
#      on the wire and time (Ray reads the last lines from the end of the file);
#   2. the whole log read once (`jobs/{id}/logs/`, which the archive keeps as
#      it streams; --log-linger 0, so what follows is answered from the archive);
#   3. a tail resumed at line LINES - 1000 (`?from_line=`, what a client sends
#      after a dropped stream) and `agentctl jobs tail ID --from-line K`: bytes
#      on the wire, time to the first line, total time.
#
#   .ci/ray.sh start && cargo build --release -p agent-gateway -p agentctl
#   crates/agent-gateway/examples/far_end_bench.sh [LINES]
#
# Environment: AGENT_GATEWAY_BIN, AGENTCTL_BIN (default target/release),
# AGENT_E2E_RAY (default http://127.0.0.1:8265), PORT (default 18615).
set -euo pipefail

LINES=${1:-10000000}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=crates/agent-gateway/examples/gateway_lib.sh
. "$ROOT/crates/agent-gateway/examples/gateway_lib.sh"
REL=${CARGO_TARGET_DIR:-$ROOT/target}/release
BIN=${AGENT_GATEWAY_BIN:-$REL/agent-gateway}
CTL=${AGENTCTL_BIN:-$REL/agentctl}
RAY=${AGENT_E2E_RAY:-http://127.0.0.1:8265}
PORT=${PORT:-18615}
TOKEN=bench-token
WORK=$(mktemp -d)
GW=""
trap 'kill "$GW" 2>/dev/null || true; rm -rf "$WORK"' EXIT

test_registry "$WORK/plugins.toml" bench
export_ray_token
AGENT_TOKEN=$TOKEN "$BIN" --ray-address "$RAY" --listen "127.0.0.1:$PORT" \
    --plugins "$WORK/plugins.toml" --archive-dir "$WORK/archive" \
    --archive-max-bytes 4294967296 --log-linger 0 --quiet 2>"$WORK/gateway.log" &
GW=$!
URL="http://127.0.0.1:$PORT"
until curl -sf -H "Authorization: $TOKEN" "$URL/health/" >/dev/null; do sleep 0.2; done
export AGENT_URL=$URL AGENT_TOKEN=$TOKEN

TAG="f$$"
JOB=$(submit_job bench@1 flood "{\"tag\": \"$TAG\", \"count\": $LINES}")
echo "job $JOB: $LINES lines of 100 bytes"
START=$(date +%s.%N)
"$CTL" jobs wait "$JOB" --timeout 3600 >/dev/null
echo "finished in $(awk "BEGIN {printf \"%.0f\", $(date +%s.%N) - $START}") s"

measure() { # NAME URL-PATH: status, bytes, time to first byte, total
    curl -sN -o /dev/null -H "Authorization: $TOKEN" \
        -w "$1: status %{http_code}, %{size_download} bytes, first byte %{time_starttransfer} s, total %{time_total} s\n" \
        "$URL$2"
}
timed() { # NAME COMMAND...: wall time and output size of an agentctl command
    local s e
    s=$(date +%s.%N)
    "${@:2}" >"$WORK/out"
    e=$(date +%s.%N)
    echo "$1: $(wc -c <"$WORK/out") bytes printed, $(awk "BEGIN {printf \"%.3f\", $e - $s}") s"
}

echo "== the last 100 lines (Ray reads them from the end of the file)"
measure "logs/?tail=100" "/jobs/$JOB/logs/?tail=100"
timed "agentctl jobs logs --tail 100" "$CTL" jobs logs "$JOB" --tail 100
timed "agentctl jobs tail --tail 100" "$CTL" jobs tail "$JOB" --tail 100

echo "== the whole log once (kept by the archive as it streams)"
measure "logs/" "/jobs/$JOB/logs/"
for _ in $(seq 600); do
    ls "$WORK"/archive/*.zst >/dev/null 2>&1 && break
    sleep 0.5
done
echo "archive entry: $(du -b "$WORK"/archive/*.zst | cut -f1) bytes"

K=$((LINES - 1000))
echo "== a tail resumed at line $K"
measure "logs/stream/?from_line=$K" "/jobs/$JOB/logs/stream/?from_line=$K"
timed "agentctl jobs tail --from-line $K" "$CTL" jobs tail "$JOB" --from-line "$K"
echo "lines printed: $(wc -l <"$WORK/out") (the log's lines from $K to its end, Ray's own lines counted)"
