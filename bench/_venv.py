"""The reference tools' virtualenvs: the benchmarks compare onefunnel with tools whose pinned
versions would clash with ours, so each lives in a virtualenv of its own under bench/."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


def ensure_reference_venv(
    venv: Path, requirements: Sequence[str], probe: str, *, upgrade_pip: bool = False
) -> str | None:
    """Create ``venv`` with ``requirements`` unless ``probe`` (Python code importing them)
    already runs there; return an error text (the last line of the failing step) or None."""
    python = venv / "bin" / "python"
    if (
        python.exists()
        and subprocess.run([python, "-c", probe], capture_output=True).returncode == 0
    ):
        return None
    print(f"installing {' '.join(requirements)} into {venv} (minutes) …", flush=True)
    steps = [[sys.executable, "-m", "venv", str(venv)]]
    if upgrade_pip:
        steps.append([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    steps.append([str(python), "-m", "pip", "install", "-q", *requirements])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            return (done.stderr or done.stdout).strip().splitlines()[-1]
    check = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    return None if check.returncode == 0 else check.stderr.strip().splitlines()[-1]
