"""Benchmark of scoring on the database, on the medium demo (10,000 contacts, ~300,000 touches).

Run from the repository root::

    python bench/intent.py                          # medium demo in ./.bench-intent (made once)
    python bench/intent.py --home /tmp/ofm --repeat 3 --updates 500
    DATABASE_URL=postgresql://... python bench/intent.py

It measures, through the services (queries, numpy and writes included):

* ``rescore_all``: the full rescore of every contact (best and median of --repeat runs; the
  target is <= 5 s);
* ``score_on_touch``: the O(1) score update when one touch arrives, for --updates page-view
  touches on different contacts (median and p99; the target is <= 2 ms median), and the whole
  ``record_touch`` path around it (store the touch, advance the stage, update the score);
* ``lead_cost``: a handoff's cost for the --costs newest handoffs, under the configured
  attribution model and under the even split (median; after one warm-up call).

Touches added by the benchmark are rolled back. It prints one table; timings depend on the
machine and its load, so quote them with both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _setup(home: Path) -> None:
    os.environ["ONEFUNNEL_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
    home.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".bench-intent"))
    parser.add_argument("--size", default="medium")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--costs", type=int, default=20)
    args = parser.parse_args()
    _setup(args.home.resolve())

    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from onefunnel.domain.touches import TouchKind
    from onefunnel.models import Contact, Handoff, Touchpoint
    from onefunnel.services.demo import DemoSize, generate_demo
    from onefunnel.services.handoff_values import even_split_lead_cost, lead_cost
    from onefunnel.services.scoring import rescore_all, score_on_touch
    from onefunnel.services.touches import TouchInput, record_touch

    if not Contact.objects.exists():
        print(f"generating the {args.size} demo in {args.home} …", file=sys.stderr)
        generate_demo(seed=42, size=DemoSize(args.size))
    contacts = Contact.objects.count()
    touches = Touchpoint.objects.filter(contact__isnull=False).count()

    rescore: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        rescore_all()
        rescore.append(time.perf_counter() - started)

    ids = list(
        Contact.objects.filter(stage__in=["awareness", "consideration"])
        .order_by("pk")
        .values_list("pk", flat=True)[: args.updates]
    )
    update: list[float] = []
    whole: list[float] = []
    now = timezone.now()
    with transaction.atomic():
        for n, pk in enumerate(ids):
            contact = Contact.objects.get(pk=pk)
            touch = Touchpoint.objects.create(
                message_id=f"bench-{n}", contact=contact, kind=TouchKind.PAGE_VIEW.value,
                team="marketing", channel="direct", occurred_at=now, received_at=now,
            )  # fmt: skip
            started = time.perf_counter()
            score_on_touch(contact, touch)
            update.append(time.perf_counter() - started)
        for n, pk in enumerate(ids):
            started = time.perf_counter()
            record_touch(
                TouchInput(
                    message_id=f"bench-whole-{n}",
                    kind=TouchKind.PAGE_VIEW,
                    occurred_at=now + timedelta(seconds=1),
                    contact_id=pk,
                )
            )
            whole.append(time.perf_counter() - started)
        transaction.set_rollback(True)

    newest = list(
        Handoff.objects.order_by("-created_at").values_list("contact_id", "created_at")[
            : args.costs
        ]
    )
    attributed: list[float] = []
    even: list[float] = []
    methods: set[str] = set()
    for i, (contact_id, at) in enumerate(newest):
        started = time.perf_counter()
        methods.add(lead_cost(contact_id, at).method)
        if i:  # the first call warms the database cache
            attributed.append(time.perf_counter() - started)
        started = time.perf_counter()
        even_split_lead_cost(contact_id, at)
        if i:
            even.append(time.perf_counter() - started)

    def ms(values: list[float], q: float) -> str:
        ordered = sorted(values)
        return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.2f} ms"

    rows = [
        ("database", f"{connection.vendor}"),
        ("contacts / touches", f"{contacts:,} / {touches:,}"),
        ("full rescore, best", f"{min(rescore):.2f} s  (target <= 5 s)"),
        ("full rescore, median", f"{statistics.median(rescore):.2f} s  ({args.repeat} runs)"),
        ("score_on_touch, median", f"{ms(update, 0.5)}  (target <= 2 ms; {len(update)} touches)"),
        ("score_on_touch, p99", ms(update, 0.99)),
        ("record_touch (whole path), median", ms(whole, 0.5)),
        ("record_touch (whole path), p99", ms(whole, 0.99)),
        (
            "lead_cost (configured), median",
            f"{ms(attributed, 0.5)}  ({', '.join(sorted(methods))})",
        ),
        ("lead_cost (even split), median", ms(even, 0.5)),
        ("load average (1 min)", f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
