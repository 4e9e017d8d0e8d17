#!/usr/bin/env bash
# The gateway's reading of a rotated driver log, checked on the real Ray of
# `.ci/ray.sh` (Ray 2.60 does not rotate yet: ray PR #65006 will, by
# copy-then-truncate): a finished `flood` job's `job-driver-{id}.log` is rotated by
# hand in Ray's log directory, twice, the second copy cut mid-line (`.2` = the first
# 20,000 bytes, `.1` = the next 20,123, the active file the rest); then through a
# release gateway `agentctl jobs logs ID` must be byte-identical to the log before,
# `jobs logs --tail N` the last N lines for N within and across the copies, and
# `jobs tail ID` every line. Ray's own Jobs API then answers the active file only.
#
#   flock /work/ray.lock .ci/ray.sh start
#   cargo build --release -p agent-gateway -p agentctl
#   flock /work/ray.lock crates/agent-gateway/examples/rotated_log_check.sh
#
# Environment: AGENT_GATEWAY_BIN, AGENTCTL_BIN (default: $CARGO_TARGET_DIR/release,
# else target/release), RAY_TEMP_DIR (the head's --temp-dir, default /tmp/ray-e2e),
# PORT (18616). The job runs on the head (its driver log is in the head's log dir).
# Exits 1 at the first difference.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=crates/agent-gateway/examples/gateway_lib.sh
. "$ROOT/crates/agent-gateway/examples/gateway_lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${AGENT_GATEWAY_BIN:-$TARGET/release/agent-gateway}
CTL=${AGENTCTL_BIN:-$TARGET/release/agentctl}
LOGS=${RAY_TEMP_DIR:-/tmp/ray-e2e}/session_latest/logs
PORT=${PORT:-18616}
URL="http://127.0.0.1:$PORT"
TOKEN=rotation-check
WORK=$(mktemp -d)
GW="" F=""
cleanup() {
    if [ -n "$GW" ]; then kill "$GW" 2>/dev/null || true; fi
    if [ -n "$F" ]; then rm -f "$F.1" "$F.2"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "rotated_log_check: $*" >&2
    exit 1
}

test_registry "$WORK/plugins.toml" check
export_ray_token
AGENT_TOKEN=$TOKEN "$BIN" --ray-address "${AGENT_E2E_RAY:-http://127.0.0.1:8265}" \
    --listen "127.0.0.1:$PORT" --plugins "$WORK/plugins.toml" --quiet 2>"$WORK/gateway.log" &
GW=$!
until curl -sf -H "Authorization: $TOKEN" "$URL/health/" >/dev/null; do
    kill -0 "$GW" 2>/dev/null || fail "the gateway exited: $(tail -3 "$WORK/gateway.log")"
    sleep 0.2
done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

JOB=$(submit_job check@1 flood '{"tag": "rot", "count": 1000}')
for _ in $(seq 200); do
    S=$(curl -sf -H "Authorization: $TOKEN" "$URL/jobs/$JOB/" | json '["status"]')
    [ "$S" = SUCCEEDED ] && break
    sleep 0.3
done
[ "$S" = SUCCEEDED ] || fail "job $JOB is $S"
F=$LOGS/job-driver-$JOB.log
[ -s "$F" ] || fail "no $F (is RAY_TEMP_DIR the head's --temp-dir?)"

export AGENT_URL=$URL AGENT_TOKEN=$TOKEN
"$CTL" jobs logs "$JOB" >"$WORK/before.out"
echo "job $JOB: $(wc -l <"$WORK/before.out") lines, sha256 $(sha256sum <"$WORK/before.out" | cut -c1-16)"

# copy-then-truncate, twice (the first copy is the older, .2)
python3 - "$F" <<'EOF'
import sys
p = sys.argv[1]
data = open(p, "rb").read()
open(p + ".2", "wb").write(data[:20000])
open(p + ".1", "wb").write(data[20000:40123])
with open(p, "r+b") as f:
    f.truncate(0)
    f.write(data[40123:])
EOF
RAYS=$(curl -sf ${RAY_AUTH_TOKEN:+-H "Authorization: Bearer $RAY_AUTH_TOKEN"} \
    "${AGENT_E2E_RAY:-http://127.0.0.1:8265}/api/jobs/$JOB/logs" | json '["logs"].count("\n")')
echo "rotated: Ray's own Jobs API now answers $RAYS lines"

"$CTL" jobs logs "$JOB" >"$WORK/after.out"
cmp -s "$WORK/before.out" "$WORK/after.out" || fail "jobs logs differs after the rotation"
echo "jobs logs: byte-identical ($(sha256sum <"$WORK/after.out" | cut -c1-16))"
for n in 5 600 700 1001 1002 5000; do
    "$CTL" jobs logs "$JOB" --tail "$n" >"$WORK/t.out"
    tail -n "$n" "$WORK/before.out" | cmp -s - "$WORK/t.out" || fail "jobs logs --tail $n differs"
done
echo "jobs logs --tail N: the last N lines, for N = 5 600 700 1001 1002 5000"
"$CTL" jobs tail "$JOB" >"$WORK/tail.out" || fail "jobs tail failed"
cmp -s "$WORK/before.out" "$WORK/tail.out" || fail "jobs tail differs"
echo "jobs tail: every line, once"
