"""Shared by the peer scripts: argument parsing and the one JSON result line.

Every script prints exactly one line of JSON on stdout, with the same keys as
the Rust contenders (`agent-bench`): workload, client, count, seconds, rate and
vmhwm_kb (the kernel's high-water mark of this process's resident memory,
read from /proc/self/status at the end; the xtask also polls it from outside).
"""

import json
import sys


def vmhwm_kb():
    """Peak resident set size of this process so far, in KiB (0 if unknown)."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def emit(workload, client, count, seconds, **extra):
    """Prints the result line."""
    result = {
        'workload': workload,
        'client': client,
        'count': count,
        'seconds': seconds,
        'rate': count / seconds if seconds > 0 else 0.0,
        'vmhwm_kb': vmhwm_kb(),
    }
    result.update(extra)
    sys.stdout.write(json.dumps(result) + '\n')
    sys.stdout.flush()
