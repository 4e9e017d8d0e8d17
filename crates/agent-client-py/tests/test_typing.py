"""The stubs (agent_client/__init__.pyi, py.typed) are precise enough for
``mypy --strict`` on the seed document's examples (mypy comes from PyPI into
target/py-venv with maturin and pytest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_mypy_strict_accepts_the_seed_examples() -> None:
    seed = sorted(str(p) for p in (HERE / 'seed').glob('*.py'))
    assert len(seed) == 2
    done = subprocess.run(
        [sys.executable, '-m', 'mypy', '--strict', '--no-incremental', '--cache-dir=/dev/null', *seed],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Success: no issues found in 2 source files' in done.stdout
