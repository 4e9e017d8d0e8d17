"""Ray's own client, for comparison: submit the flood job straight to Ray and tail it
with JobSubmissionClient.tail_job_logs. Prints one JSON line of measurements.

    python ray_tail_bench.py RAY_ADDRESS PLUGIN_PY TAG COUNT [ACTION [DELAY]]
"""
import asyncio
import json
import shlex
import sys
import time

from ray.job_submission import JobSubmissionClient


async def main():
    address, plugin, tag, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    action = sys.argv[5] if len(sys.argv) > 5 else "flood"
    delay = float(sys.argv[6]) if len(sys.argv) > 6 else 0.05
    client = JobSubmissionClient(address)
    params = json.dumps({"tag": tag, "count": count, "delay": delay})
    entrypoint = f"python -u {shlex.quote(plugin)} {action} {shlex.quote(params)}"
    t0 = time.monotonic()
    job = client.submit_job(entrypoint=entrypoint)
    first = None
    mine = 0
    in_order = True
    partial = ""
    async for chunk in client.tail_job_logs(job):
        if first is None:
            first = time.monotonic() - t0
        text = partial + chunk
        lines = text.split("\n")
        partial = lines.pop()
        for line in lines:
            if line.startswith(tag + " "):
                if line not in (f"{tag} last line", f"{tag} line {mine}") and not line.startswith(
                    f"{tag} {mine:08d} "
                ):
                    in_order = False
                mine += 1
    if partial.startswith(tag + " "):
        mine += 1
    total = time.monotonic() - t0
    print(json.dumps({
        "job": job,
        "first_line_s": first,
        "total_s": total,
        "lines": mine,
        "expected": count + 1,
        "in_order": in_order,
    }))


asyncio.run(main())
