#!/usr/bin/env bash
# A local Ray head for the end-to-end tests of agent-gateway.
#
#   .ci/ray.sh install   # Ray into a pinned virtual environment (target/ray-venv), if missing
#   .ci/ray.sh start     # install, start a head on loopback, wait until its dashboard answers
#   .ci/ray.sh stop      # stop every Ray process of this machine's session (ray stop --force)
#   .ci/ray.sh status    # exit 0 when the dashboard answers
#
# Every command is idempotent. `start` prints the address to export:
#   AGENT_E2E_RAY=http://127.0.0.1:8265
# Settings (environment): RAY_VENV (default target/ray-venv), RAY_DASHBOARD_PORT (8265),
# RAY_READY_TIMEOUT (seconds, default 180).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${RAY_VENV:-$ROOT/target/ray-venv}
RAY_VERSION=2.60.0
PORT=${RAY_DASHBOARD_PORT:-8265}
ADDRESS="http://127.0.0.1:$PORT"
READY_TIMEOUT=${RAY_READY_TIMEOUT:-180}

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
get() {
    "$VENV/bin/python" - "$ADDRESS$1" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
EOF
}

ready() {
    # The dashboard answers, the head node is alive, and the Jobs API lists jobs.
    get /api/version >/dev/null 2>&1 &&
        get /api/jobs/ >/dev/null 2>&1 &&
        get "/api/v0/nodes?limit=10" 2>/dev/null | grep -q '"ALIVE"'
}

start() {
    install
    if ready; then
        log "a head is already up at $ADDRESS"
        echo "AGENT_E2E_RAY=$ADDRESS"
        return 0
    fi
    log "starting a head (dashboard at $ADDRESS)"
    local started=$SECONDS
    # The venv first on PATH: jobs' `python` is then the one that has Ray.
    PATH="$VENV/bin:$PATH" ray start --head --num-cpus=2 \
        --dashboard-host=127.0.0.1 --dashboard-port="$PORT" --include-dashboard=true \
        --disable-usage-stats --object-store-memory=200000000 >&2
    until ready; do
        if [ $((SECONDS - started)) -ge "$READY_TIMEOUT" ]; then
            log "the dashboard did not answer within $READY_TIMEOUT s"
            stop || true
            return 1
        fi
        sleep 1
    done
    log "ready in $((SECONDS - started)) s"
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
