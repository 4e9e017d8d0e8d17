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
elif action == "bad_utf8":
    # Lines with bytes that are not UTF-8 between good ones (Ray's Jobs API then
    # answers 500 and its tail socket closes with no frame).
    out = sys.stdout.buffer
    out.write(f"{tag} good 1\n".encode())
    out.write(tag.encode() + b" bad \xff\xfe end\n")
    out.write(tag.encode() + b" cut \xe2\x82\n")
    out.write(f"{tag} good 2\n".encode())
    out.write(f"{tag} last line".encode())
    out.flush()
elif action == "quiet":
    # A line, then nothing for params["seconds"], then the rest.
    print(f"{tag} before", flush=True)
    time.sleep(params.get("seconds", 40))
    print(f"{tag} after", flush=True)
    print(f"{tag} last line", end="", flush=True)
else:
    print(f"unknown action {action}", file=sys.stderr)
    sys.exit(2)
