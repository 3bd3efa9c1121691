"""Time ``generate_demo`` on a fresh SQLite database, per size.

Run from the repository root::

    /work/venv/bin/python bench/demo.py            # small and medium
    /work/venv/bin/python bench/demo.py --large    # and large (≈ 1.5 M touchpoints)

Each size runs in its own process, on a new SQLite file in a temporary directory
(``ONEFUNNEL_HOME`` is set before Django loads; migrations run first and are not timed), and
prints one row: seconds, contacts, touchpoints, stage changes and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile


def _one(size: str) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
    django.setup()
    from django.core.management import call_command

    from onefunnel.services.demo import DemoSize, generate_demo

    call_command("migrate", verbosity=0)
    summary = generate_demo(seed=42, size=DemoSize(size))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{size:8s} {summary.seconds:9.1f} {summary.contacts:9d} {summary.touchpoints:12d} "
        f"{summary.stage_changes:14d} {peak_mb:10.0f}"
    )


def main() -> None:
    """Run each requested size in a fresh process and directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also run the large size")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one)
        return
    sizes = ["small", "medium"] + (["large"] if args.large else [])
    print(f"{'size':8s} {'seconds':>9s} {'contacts':>9s} {'touchpoints':>12s} "
          f"{'stage changes':>14s} {'peak MB':>10s}")  # fmt: skip
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="onefunnel-bench-") as home:
            env = {**os.environ, "ONEFUNNEL_HOME": home}
            env.pop("DATABASE_URL", None)
            subprocess.run([sys.executable, __file__, "--one", size], env=env, cwd=home, check=True)


if __name__ == "__main__":
    main()
