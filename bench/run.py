"""Run the benchmarks one after another (never as tests); each prints its own table.

    python bench/run.py                  # the quick set: scoring, demo, intent, attribution (100k)
    python bench/run.py --all            # everything at full size (long: large demo, 1M rows)
    python bench/run.py scoring reports  # just these

Each benchmark is a script in this folder with its own options (see its docstring); this runner
only chooses sizes. Timings depend on the machine and its load: quote them with both.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK: dict[str, list[str]] = {
    "scoring": [],
    "demo": [],
    "intent": [],
    "attribution": ["--rows", "100000"],
    "imports": ["--rows", "100000", "--small", "10000"],
    "ingest": ["--seconds", "10"],
    "reports": ["--size", "medium", "--repeat", "1"],
    "ltv": ["--customers", "100000"],
    "retention": ["--size", "medium", "--repeat", "3"],
}
FULL: dict[str, list[str]] = {
    "scoring": [],
    "demo": ["--large"],
    "intent": [],
    "attribution": [],
    "imports": [],
    "ingest": ["--seconds", "15"],
    "reports": ["--size", "large", "--repeat", "3"],
    "ltv": [],
    "retention": ["--size", "large", "--repeat", "5"],
}


def main() -> int:
    """Run the chosen benchmarks; the exit code is the number that failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"any of: {', '.join(QUICK)}")
    parser.add_argument("--all", action="store_true", help="full sizes (long)")
    args = parser.parse_args()
    sizes = FULL if args.all else QUICK
    names = args.names or (
        list(sizes) if args.all else ["scoring", "demo", "intent", "attribution"]
    )
    unknown = [n for n in names if n not in sizes]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    failed = 0
    for name in names:
        print(f"\n=== bench/{name}.py {' '.join(sizes[name])}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / f"{name}.py"), *sizes[name]], check=False)
        failed += done.returncode != 0
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
