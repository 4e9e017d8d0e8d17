"""The plugin the end-to-end tests register with the gateway.

Run by Ray as `python -u plugin.py ACTION PARAMS_JSON` (the gateway's entrypoint
template). Every line it prints starts with params["tag"], so a test can tell its
own lines from Ray's.
"""
import json
import sys
import time

action, params = sys.argv[1], json.loads(sys.argv[2])
tag = params["tag"]

if action == "count":
    # A known sequence, slowly; the last line is printed just before exit, with no
    # newline (the line Ray's tail is known to lose).
    for i in range(params.get("count", 10)):
        print(f"{tag} line {i}", flush=True)
        time.sleep(params.get("delay", 0.1))
    print(f"{tag} last line", end="", flush=True)
elif action == "sleep":
    print(f"{tag} sleeping", flush=True)
    time.sleep(params.get("seconds", 600))
elif action == "tasks":
    import ray

    ray.init()

    @ray.remote(num_cpus=0.5)
    def square(x):
        return x * x

    total = sum(ray.get([square.remote(i) for i in range(4)]))
    print(f"{tag} sum {total}", flush=True)
elif action == "flood":
    # params["count"] lines of exactly 100 bytes (newline included), as fast as
    # Python writes them, then a last line.
    out = sys.stdout
    width = 100 - len(tag) - 1 - 8 - 1 - 1
    pad = "x" * width
    for i in range(params["count"]):
        out.write(f"{tag} {i:08d} {pad}\n")
    out.write(f"{tag} last line\n")
    out.flush()
else:
    print(f"unknown action {action}", file=sys.stderr)
    sys.exit(2)
