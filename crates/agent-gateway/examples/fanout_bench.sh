#!/usr/bin/env bash
# What N concurrent tails of one job cost, through the gateway (issue 22's table):
# N `agentctl jobs tail ID` at once, each through the gateway to the Ray of
# `.ci/ray.sh`, of one `flood` job of LINES lines (the test plugin's; 100 bytes
# a line). For each N a fresh release gateway is started (each N starts cold).
#
#   flock /work/ray.lock .ci/ray.sh start
#   cargo build --release -p agent-gateway -p agentctl
#   flock /work/ray.lock crates/agent-gateway/examples/fanout_bench.sh               # N = 1 20 100, 10,000 lines
#   flock /work/ray.lock crates/agent-gateway/examples/fanout_bench.sh 10000 "1 20 100" finished
#   flock /work/ray.lock crates/agent-gateway/examples/fanout_bench.sh 10000 "1 20" live
#
# Arguments: LINES (default 10000), the Ns (default "1 20 100"), the mode:
# `finished` (default: the job has finished before the tails start) or `live`
# (a fresh job per run, the `count` action printing LINES lines with a 1 ms pause
# each; the tails start as soon as Ray reports it RUNNING).
# Environment: RUNS (runs per N, default 3; the table shows medians),
# AGENT_GATEWAY_BIN, AGENTCTL_BIN (default: $CARGO_TARGET_DIR/release, else
# target/release), AGENT_E2E_RAY (default http://127.0.0.1:8265), PORT (18615),
# VERBOSE=0 to leave out the per-process lines, IDLE (seconds the dashboard's
# CPU at rest is measured first, default 5).
#
# Per run it prints one line: Ray's dashboard CPU during the run (utime + stime
# from /proc/PID/stat: the head's dashboard process and its module subprocesses,
# plus every node's dashboard agent, which serves the log-file API; per process
# on a verbose line), the gateway's CPU during the run (the same, read before it
# exits), its peak RSS (VmHWM: the whole life of a fresh process), the wall time
# from the first tail's start to the last one's end, and the lines each tail
# printed (every tail that succeeds must print every line: LINES + 1 with the
# last; a short one stops the script). A tail that fails (exit status) is counted
# and the run goes on; the script then exits 1 once the table of the medians is
# out.
# CPU figures include nothing of Ray's workers, raylets or GCS, nor agentctl's.
# Uses target/ray-auth-token when the cluster has token auth (never printed).
set -euo pipefail

LINES=${1:-10000}
NS=${2:-1 20 100}
MODE=${3:-finished}
RUNS=${RUNS:-3}
VERBOSE=${VERBOSE:-1}
IDLE=${IDLE:-5}
case "$MODE" in finished | live) ;; *)
    echo "fanout_bench: the mode is finished or live, not $MODE" >&2
    exit 2
    ;;
esac

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
# shellcheck source=crates/agent-gateway/examples/gateway_lib.sh
. "$ROOT/crates/agent-gateway/examples/gateway_lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${AGENT_GATEWAY_BIN:-$TARGET/release/agent-gateway}
CTL=${AGENTCTL_BIN:-$TARGET/release/agentctl}
RAY=${AGENT_E2E_RAY:-http://127.0.0.1:8265}
PORT=${PORT:-18615}
URL="http://127.0.0.1:$PORT"
TOKEN=bench-token
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d)
GW=""
TAILS=()

fail() {
    echo "fanout_bench: $*" >&2
    exit 1
}

cleanup() {
    local p
    for p in "${TAILS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "$GW" ]; then kill "$GW" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in "$BIN" "$CTL"; do
    [ -x "$b" ] || fail "no $b (cargo build --release -p agent-gateway -p agentctl)"
done

test_registry "$WORK/plugins.toml" bench
export_ray_token

# A fresh gateway (the previous one ended first); its pid in GW.
start_gateway() {
    stop_gateway
    AGENT_TOKEN=$TOKEN "$BIN" --ray-address "$RAY" --listen "127.0.0.1:$PORT" \
        --plugins "$WORK/plugins.toml" --quiet 2>"$WORK/gateway.log" &
    GW=$!
    local tries=0
    until curl -sf -H "Authorization: $TOKEN" "$URL/health/" >/dev/null; do
        kill -0 "$GW" 2>/dev/null || fail "the gateway exited: $(tail -5 "$WORK/gateway.log")"
        tries=$((tries + 1))
        [ "$tries" -lt 150 ] || fail "the gateway did not answer /health/ within 30 s"
        sleep 0.2
    done
}

stop_gateway() {
    if [ -n "$GW" ]; then
        kill "$GW" 2>/dev/null || true
        wait "$GW" 2>/dev/null || true
        GW=""
    fi
}

api() { curl -sf -H "Authorization: $TOKEN" "$@"; }


job_status() {
    api "$URL/jobs/$1/" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'
}

# Waits until job $1 has a status in $2 (a regular expression), 600 s at most.
wait_status() {
    local started=$SECONDS s
    while :; do
        s=$(job_status "$1") || fail "cannot read job $1"
        if [[ $s =~ ^($2)$ ]]; then
            echo "$s"
            return 0
        fi
        case "$s" in FAILED | STOPPED) fail "job $1 is $s" ;; esac
        [ $((SECONDS - started)) -lt 600 ] || fail "job $1 still $s after 600 s"
        sleep 0.2
    done
}

# The Ray dashboard's processes, one "PID NAME" a line: the head's dashboard.py
# with its descendants (its module subprocesses, `ray-dashboard-JobHead-0` and
# the like, which serve the Jobs API and the State API's log routes), and every
# node's dashboard agent (`ray::DashboardAgent`, which reads the log files for
# the log-file API and Ray's tail sockets) with its descendants.
dashboard_pids() {
    local p argv kind roots=()
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        mapfile -d '' argv 2>/dev/null <"/proc/$p/cmdline" || continue
        kind=""
        case "${argv[0]:-} ${argv[1]:-}" in
        *" "*ray/dashboard/dashboard.py) kind=dashboard ;;
        "ray::DashboardAgent "* | *" "*ray/dashboard/agent.py) kind=DashboardAgent ;;
        esac
        if [ -n "$kind" ]; then roots+=("$p:$kind"); fi
    done
    local r kids next name
    for r in "${roots[@]}"; do
        echo "${r%%:*} ${r#*:}"
        kids=$(pgrep -P "${r%%:*}" || true)
        while [ -n "$kids" ]; do
            next=""
            for p in $kids; do
                # a module subprocess is named by its process title
                name=$({ tr '\0' '\n' <"/proc/$p/cmdline" | head -1 | cut -d' ' -f1; } 2>/dev/null || true)
                case "$name" in ray-dashboard-*) ;; *) name="${r#*:}-$(cat "/proc/$p/comm" 2>/dev/null || echo gone)" ;; esac
                echo "$p $name"
                next="$next $(pgrep -P "$p" || true)"
            done
            kids=$(echo "$next" | xargs)
        done
    done
}

# utime + stime of PID, in clock ticks (0 when it is gone).
ticks() {
    # the command name (field 2) may hold spaces: count fields after its ')'
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    echo "${stat##*) }" | awk '{print $12 + $13}'
}

secs() { awk -v t="$1" -v hz="$HZ" 'BEGIN {printf "%.2f", t / hz}'; }

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# One run: N tails of job $2 (live mode: a fresh job, submitted here).
run() {
    local n=$1 job=$2 i
    start_gateway
    if [ "$MODE" = live ]; then
        job=$(submit_job bench@1 count "{\"tag\": \"$TAG\", \"count\": $LINES, \"delay\": 0.001}")
        wait_status "$job" 'RUNNING|SUCCEEDED' >/dev/null
    fi
    local procs
    procs=$(dashboard_pids)
    [ -n "$procs" ] || fail "no Ray dashboard process found (is Ray up? .ci/ray.sh status)"
    declare -A before
    local pid name
    while read -r pid name; do before[$pid]=$(ticks "$pid"); done <<<"$procs"
    local gw_before
    gw_before=$(ticks "$GW")
    local start end
    start=$(date +%s.%N)
    TAILS=()
    for i in $(seq "$n"); do
        AGENT_URL=$URL AGENT_TOKEN=$TOKEN "$CTL" jobs tail "$job" \
            >"$WORK/tail-$i.out" 2>"$WORK/tail-$i.err" &
        TAILS+=($!)
    done
    local failed=0 bad=()
    for i in "${!TAILS[@]}"; do
        if ! wait "${TAILS[$i]}"; then
            failed=$((failed + 1))
            bad+=($((i + 1)))
            echo "fanout_bench: tail $((i + 1)) failed: $(tail -1 "$WORK/tail-$((i + 1)).err")" >&2
        fi
    done
    TAILS=()
    end=$(date +%s.%N)
    local gw_after hwm
    gw_after=$(ticks "$GW")
    hwm=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$GW/status")
    stop_gateway
    local ray_total=0 detail="" d
    while read -r pid name; do
        d=$(($(ticks "$pid") - ${before[$pid]}))
        [ "$d" -ge 0 ] || d=0
        ray_total=$((ray_total + d))
        if [ "$d" -gt 0 ]; then detail="$detail $name[$pid]=$(secs "$d")"; fi
    done <<<"$procs"
    # every tail printed every line: LINES tagged lines + the last line
    local want=$((LINES + 1)) counts
    counts=$(for i in $(seq "$n"); do grep -c "^$TAG " "$WORK/tail-$i.out" || true; done |
        sort | uniq -c | awk '{printf "%s%d x %d", (NR > 1 ? ", " : ""), $1, $2}')
    # a failed tail (its exit status; the gateway's log has why) is counted, not
    # fatal: it is a result too; every tail that succeeded printed every line
    for i in $(seq "$n"); do
        [[ " ${bad[*]} " == *" $i "* ]] && continue
        [ "$(grep -c "^$TAG " "$WORK/tail-$i.out" || true)" -eq "$want" ] ||
            fail "tail $i succeeded without every line (want $want each; got $counts)"
    done
    if [ "$failed" -gt 0 ]; then
        FAILED=$((FAILED + failed))
        echo "fanout_bench: the gateway's log of the run (its first lines about Ray):" >&2
        grep -i 'ray\|unreachable\|fail' "$WORK/gateway.log" | head -5 | cut -c1-400 >&2 || true
    fi
    local wall
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN {printf "%.2f", e - s}')
    echo "N=$n ray_dashboard_cpu=$(secs "$ray_total") gateway_cpu=$(secs $((gw_after - gw_before))) gateway_peak_rss_mib=$hwm wall=$wall failed_tails=$failed lines_per_tail=[$counts]"
    if [ "$VERBOSE" != 0 ]; then echo "  dashboard CPU per process (s; those that used any):$detail"; fi
    RESULT="$(secs "$ray_total") $(secs $((gw_after - gw_before))) $hwm $wall $failed"
}

TAG="f$$"
JOB=""
start_gateway
if [ "$MODE" = finished ]; then
    JOB=$(submit_job bench@1 flood "{\"tag\": \"$TAG\", \"count\": $LINES}")
    wait_status "$JOB" SUCCEEDED >/dev/null
    echo "job $JOB: $LINES lines of 100 bytes, finished; runs per N: $RUNS"
else
    echo "live: a fresh job per run, $LINES lines 1 ms apart; runs per N: $RUNS"
fi

# The dashboard's own background work (metrics, node polls), no tail running: the
# runs' figures include it for their wall time.
idle_ticks=0
while read -r pid name; do idle_ticks=$((idle_ticks - $(ticks "$pid"))); done <<<"$(dashboard_pids)"
sleep "$IDLE"
while read -r pid name; do idle_ticks=$((idle_ticks + $(ticks "$pid"))); done <<<"$(dashboard_pids)"
echo "Ray's dashboard CPU at rest: $(secs "$idle_ticks") s in $IDLE s (included in every run's figure, for its wall time)"

FAILED=0
declare -A RAYC GWC RSS WALL FAILS
for n in $NS; do
    for r in $(seq "$RUNS"); do
        RESULT=""
        run "$n" "$JOB"
        read -r a b c d e <<<"$RESULT"
        RAYC[$n]="${RAYC[$n]:-} $a"
        GWC[$n]="${GWC[$n]:-} $b"
        RSS[$n]="${RSS[$n]:-} $c"
        WALL[$n]="${WALL[$n]:-} $d"
        FAILS[$n]=$((${FAILS[$n]:-0} + e))
    done
done

echo
echo "Medians of $RUNS runs ($MODE job of $LINES lines):"
echo
echo "| N | Ray's dashboard CPU | gateway CPU | gateway peak RSS | wall | tails failed (all runs) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $NS; do
    echo "| $n | $(median <<<"${RAYC[$n]}") s | $(median <<<"${GWC[$n]}") s | $(median <<<"${RSS[$n]}") MiB | $(median <<<"${WALL[$n]}") s | ${FAILS[$n]} of $((n * RUNS)) |"
done
# a failed tail fails the script, once every figure is out
[ "$FAILED" -eq 0 ]
