# Sourced by this directory's scripts (rss_bench.sh, fanout_bench.sh,
# rotated_log_check.sh): what they share. Needs ROOT, the repository's root.

# test_registry FILE CODE: a plugin registry holding the tests' plugin
# (tests/support/plugin.py) as release CODE, version 1.
test_registry() {
    cat >"$1" <<REGISTRY
[[releases]]
code = "$2"
version = "1"
entrypoint = "python -u '$ROOT/crates/agent-gateway/tests/support/plugin.py' {action} {params}"
REGISTRY
}

# Exports RAY_AUTH_TOKEN for the gateway when .ci/ray.sh's cluster has a token.
export_ray_token() {
    if [ -s "$ROOT/target/ray-auth-token" ]; then
        RAY_AUTH_TOKEN=$(cat "$ROOT/target/ray-auth-token")
        export RAY_AUTH_TOKEN
    fi
}

# submit_job RELEASE ACTION PARAMS: runs ACTION of RELEASE (e.g. bench@1) with
# PARAMS (JSON) through the gateway at URL with TOKEN; prints the job id.
submit_job() {
    curl -sf -H "Authorization: $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"action\": \"$2\", \"params\": $3}" "$URL/plugin_releases/$1/run/" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])'
}
