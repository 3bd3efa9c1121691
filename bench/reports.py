"""Time every report on the large demo (≥ 1,000,000 touches) on SQLite; prints a table.

    python bench/reports.py [--size large] [--repeat 3]

The demo is generated once into ``bench/out/reports-<size>.sqlite3`` and reused by later runs
(delete the file to regenerate). Each report runs ``--repeat`` times; the table shows the best
and the median wall time. Never run as a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"

CASES: list[tuple[str, str | None, str | None]] = [
    ("funnel", None, None),
    ("funnel", "channel", None),
    ("funnel", "cohort", None),
    ("spend", "campaign", "linear"),
    ("spend", "channel", "markov"),
    ("scorecard", "rep", None),
    ("scorecard", "campaign", None),
    ("attribution", "channel", "linear,markov,shapley"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=["small", "medium", "large"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    home = OUT / f"reports-{args.size}"
    home.mkdir(exist_ok=True)
    os.environ.pop("DATABASE_URL", None)
    os.environ["ONEFUNNEL_HOME"] = str(home)
    os.environ["DJANGO_SETTINGS_MODULE"] = "onefunnel.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    from onefunnel.analytics.engines import DjangoEngine
    from onefunnel.analytics.period import Period
    from onefunnel.analytics.reports import ReportOptions, run_report
    from onefunnel.models import Touchpoint
    from onefunnel.services.demo import DemoSize, generate_demo

    call_command("migrate", interactive=False, verbosity=0)
    started = time.perf_counter()
    summary = generate_demo(seed=42, size=DemoSize(args.size))
    print(
        f"demo {args.size}: {Touchpoint.objects.count():,} touches "
        f"({'cached' if summary.already_loaded else 'generated'} "
        f"in {time.perf_counter() - started:.1f} s) at {home}"
    )
    # The demo's year: its last touch decides the period.
    last = Touchpoint.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)[0]
    period = Period(date(last.year - 1, last.month, 1), last.date())
    engine = DjangoEngine()
    print(f"period {period.first} – {period.last}, SQLite, best and median of {args.repeat}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"{'report':<12} {'by':<10} {'model':<22} {'rows':>5} {'best s':>8} {'median s':>9}")
    for name, by, model in CASES:
        times = []
        rows = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            table = run_report(name, engine, period, by=by, options=ReportOptions(model=model))
            times.append(time.perf_counter() - t0)
            rows = len(table)
        print(
            f"{name:<12} {by or '-':<10} {model or '-':<22} {rows:>5} "
            f"{min(times):>8.3f} {statistics.median(times):>9.3f}"
        )
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
