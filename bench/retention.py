"""Time the retention report (GRR, NRR, logo churn, expansion) on the large demo on SQLite;
prints a table. The target: ≤ 2 s for each grouping.

    python bench/retention.py [--size large] [--repeat 5]

The demo is generated once into ``bench/out/retention-<size>/`` and reused by later runs
(delete the folder to regenerate). Each case runs ``--repeat`` times; the table shows the
best and the median wall time, and the period's GRR and NRR. Never run as a test.
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
CASES: list[str] = ["month", "cohort", "period"]
TARGET_SECONDS = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=["small", "medium", "large"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    home = OUT / f"retention-{args.size}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DATABASE_URL", None)
    os.environ["ONEFUNNEL_HOME"] = str(home)
    os.environ["DJANGO_SETTINGS_MODULE"] = "onefunnel.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    from onefunnel.analytics.engines import DjangoEngine
    from onefunnel.analytics.period import Period
    from onefunnel.analytics.reports import run_report
    from onefunnel.models import Contract, Touchpoint
    from onefunnel.services.demo import DemoSize, generate_demo

    call_command("migrate", interactive=False, verbosity=0)
    started = time.perf_counter()
    summary = generate_demo(seed=42, size=DemoSize(args.size))
    contracts = Contract.objects.count()
    print(
        f"demo {args.size}: {contracts:,} contract terms, {Touchpoint.objects.count():,} touches"
        f" ({'cached' if summary.already_loaded else 'generated'}"
        f" in {time.perf_counter() - started:.1f} s) at {home}"
    )
    if contracts == 0:
        print(f"no contracts: delete {home} and run again")
        return 1
    last = Touchpoint.objects.order_by("-occurred_at").values_list("occurred_at", flat=True)[0]
    period = Period(date(last.year - 1, last.month, 1), last.date())
    engine = DjangoEngine()
    print(f"period {period.first} – {period.last}, SQLite, best and median of {args.repeat}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"{'by':<8} {'rows':>5} {'best s':>8} {'median s':>9} {'≤ 2 s':>6}")
    slow = 0
    for by in CASES:
        times = []
        rows = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            table = run_report("retention", engine, period, by=by)
            times.append(time.perf_counter() - t0)
            rows = len(table)
        ok = min(times) <= TARGET_SECONDS
        slow += not ok
        print(
            f"{by:<8} {rows:>5} {min(times):>8.3f} {statistics.median(times):>9.3f}"
            f" {'yes' if ok else 'NO':>6}"
        )
    whole = run_report("retention", engine, period, by="period")
    for record in whole.to_records():
        print(
            f"{record['currency']}: GRR {record['grr']:.3f}, NRR {record['nrr']:.3f},"
            f" logo churn {record['logo_churn']:.3f} over {record['customers_start']} customers"
        )
    return slow


if __name__ == "__main__":
    sys.exit(main())
