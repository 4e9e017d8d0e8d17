#!/usr/bin/env bash
# A local two-node Ray cluster for the end-to-end tests of agent-gateway: a head
# and a worker node on the same machine (the worker offers the custom resource
# `side`, so a job submitted with "entrypoint_resources": {"side": 1} runs its
# driver there).
#
#   .ci/ray.sh install   # Ray into a pinned virtual environment (target/ray-venv), if missing
#   .ci/ray.sh start     # install, start the head and the worker on loopback, wait until
#                        # the dashboard lists both nodes alive
#   .ci/ray.sh stop      # stop every Ray process of this machine (ray stop --force)
#   .ci/ray.sh status    # exit 0 when the dashboard answers with every node alive
#
# Every command is idempotent. `start` prints the address to export:
#   AGENT_E2E_RAY=http://127.0.0.1:8265
# With token authentication (RAY_E2E_AUTH=token, the default) the cluster runs with
# RAY_AUTH_MODE=token and a token generated once into target/ray-auth-token (mode
# 600; never printed): export AGENT_E2E_RAY_TOKEN="$(cat target/ray-auth-token)".
# RAY_E2E_AUTH=none starts it without authentication.
# Settings (environment): RAY_VENV (default target/ray-venv), RAY_DASHBOARD_PORT (8265),
# RAY_READY_TIMEOUT (seconds, default 180), RAY_NODES (1 or 2, default 2),
# RAY_TEMP_DIR (default /tmp/ray-e2e: Ray's socket paths must stay short).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${RAY_VENV:-$ROOT/target/ray-venv}
RAY_VERSION=2.60.0
PORT=${RAY_DASHBOARD_PORT:-8265}
ADDRESS="http://127.0.0.1:$PORT"
READY_TIMEOUT=${RAY_READY_TIMEOUT:-180}
NODES=${RAY_NODES:-2}
TEMP_DIR=${RAY_TEMP_DIR:-/tmp/ray-e2e}
AUTH=${RAY_E2E_AUTH:-token}
TOKEN_FILE="$ROOT/target/ray-auth-token"

log() { echo "ray.sh: $*" >&2; }

installed() {
    [ -x "$VENV/bin/ray" ] &&
        "$VENV/bin/python" -c "import ray, ray.serve, ray.dashboard; assert ray.__version__ == '$RAY_VERSION'" 2>/dev/null
}

install() {
    if installed; then
        return 0
    fi
    log "installing ray[default,serve]==$RAY_VERSION into $VENV"
    local started=$SECONDS
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "ray[default,serve]==$RAY_VERSION"
    log "installed in $((SECONDS - started)) s"
}

# GET a dashboard path; prints the body, fails on a non-2xx answer or no answer.
# Sends the token when the cluster uses one.
get() {
    local token_file=""
    if [ "$AUTH" = token ]; then token_file=$TOKEN_FILE; fi
    "$VENV/bin/python" - "$ADDRESS$1" "$token_file" <<'EOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1])
if sys.argv[2]:
    with open(sys.argv[2]) as f:
        req.add_header("Authorization", "Bearer " + f.read().strip())
with urllib.request.urlopen(req, timeout=5) as r:
    sys.stdout.write(r.read().decode())
EOF
}

# The token of a cluster with token authentication, made once (never printed).
ensure_token() {
    if [ ! -s "$TOKEN_FILE" ]; then
        mkdir -p "$(dirname "$TOKEN_FILE")"
        (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))' >"$TOKEN_FILE")
    fi
    RAY_AUTH_MODE=token
    RAY_AUTH_TOKEN=$(cat "$TOKEN_FILE")
    export RAY_AUTH_MODE RAY_AUTH_TOKEN
}

# How many nodes the dashboard lists alive.
alive_nodes() {
    get "/api/v0/nodes?limit=10" 2>/dev/null | grep -o '"ALIVE"' | wc -l
}

head_ready() {
    # The dashboard answers, the head node is alive, and the Jobs API lists jobs.
    get /api/version >/dev/null 2>&1 &&
        get /api/jobs/ >/dev/null 2>&1 &&
        [ "$(alive_nodes)" -ge 1 ]
}

ready() {
    head_ready && [ "$(alive_nodes)" -ge "$NODES" ]
}

wait_until() {
    local what=$1 check=$2 started=$SECONDS
    until $check; do
        if [ $((SECONDS - started)) -ge "$READY_TIMEOUT" ]; then
            log "$what not ready within $READY_TIMEOUT s"
            stop || true
            return 1
        fi
        sleep 1
    done
    log "$what ready in $((SECONDS - started)) s"
}

start() {
    install
    if ready; then
        log "a cluster is already up at $ADDRESS"
        echo "AGENT_E2E_RAY=$ADDRESS"
        return 0
    fi
    # The venv first on PATH: jobs' `python` is then the one that has Ray.
    export PATH="$VENV/bin:$PATH"
    case "$AUTH" in
    token) ensure_token ;;
    none) unset RAY_AUTH_MODE RAY_AUTH_TOKEN ;;
    *)
        log "RAY_E2E_AUTH is token or none, not $AUTH"
        return 2
        ;;
    esac
    if ! head_ready; then
        log "starting a head (dashboard at $ADDRESS, temp dir $TEMP_DIR, auth: $AUTH)"
        # setsid: Ray's daemons leave this shell's process group (a Ctrl-C of a
        # test run does not half-kill the cluster; `stop` ends it).
        setsid ray start --head --num-cpus=2 --temp-dir="$TEMP_DIR" \
            --dashboard-host=127.0.0.1 --dashboard-port="$PORT" --include-dashboard=true \
            --disable-usage-stats --object-store-memory=200000000 >&2 </dev/null
        wait_until "the head" head_ready
    fi
    if [ "$NODES" -ge 2 ] && [ "$(alive_nodes)" -lt 2 ]; then
        log "starting a worker node (resource side=1)"
        # Its own dashboard-agent, metrics and runtime-env ports: without them it
        # has no dashboard agent and Ray answers 500 to every log request for a
        # driver there (fixtures/ray/README.md).
        setsid ray start --address=127.0.0.1:6379 --num-cpus=1 --resources='{"side": 1}' \
            --object-store-memory=100000000 --disable-usage-stats \
            --dashboard-agent-listen-port=52366 --dashboard-agent-grpc-port=52367 \
            --metrics-export-port=8091 --runtime-env-agent-port=52368 >&2 </dev/null
        wait_until "the worker node" ready
    fi
    echo "AGENT_E2E_RAY=$ADDRESS"
}

stop() {
    if [ -x "$VENV/bin/ray" ]; then
        # `ray stop` prints every killed command line (kilobytes each): keep it in a file.
        local out="$ROOT/target/ray-stop.log"
        if PATH="$VENV/bin:$PATH" ray stop --force >"$out" 2>&1; then
            log "stopped ($(grep -c 'Killed' "$out" || true) processes; details in $out)"
        else
            log "ray stop failed; see $out"
        fi
    fi
}

case "${1:-}" in
install) install ;;
start) start ;;
stop) stop ;;
status) if [ -x "$VENV/bin/python" ] && ready; then echo "up at $ADDRESS"; else echo "down"; exit 1; fi ;;
*)
    echo "usage: $0 install|start|stop|status" >&2
    exit 2
    ;;
esac
