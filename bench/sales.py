"""Benchmark of the deal board and deal reads with thousands of deals.

Run from the repository root::

    python bench/sales.py                      # 5,000 deals in ./.bench-sales (SQLite)
    python bench/sales.py --deals 20000 --repeat 5
    DATABASE_URL=postgresql://... python bench/sales.py

It writes --deals deals (once per home; 20 reps, 500 accounts, spread over the default
pipeline's stages, a tenth won and a tenth lost, each with its history rows) and measures,
through the services: ``deal_board`` (every column's count, amount and weighted amount plus a
page of 50 cards each) for leadership (all deals) and for one rep (their own), its 20th page,
``list_deals`` (200 for a rep) and ``stage_win_rates``. It prints the best and median of
--repeat runs; timings depend on the machine and its load, so quote them with both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _setup(home: Path) -> None:
    os.environ["ONEFUNNEL_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
    home.mkdir(parents=True, exist_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def _populate(n: int) -> None:
    import random
    from datetime import UTC, date, datetime, timedelta
    from decimal import Decimal

    from django.contrib.auth.models import Group, User
    from django.db import transaction

    from onefunnel.models import Account, Deal, DealHistory, PipelineStage
    from onefunnel.services.sales.deals import _pipeline

    if Deal.objects.count() >= n:
        return
    rng = random.Random(7)
    stages = list(PipelineStage.objects.filter(pipeline=_pipeline(None)).order_by("sequence"))
    open_stages = [s for s in stages if not (s.is_won or s.is_lost)]
    won = next(s for s in stages if s.is_won)
    lost = next(s for s in stages if s.is_lost)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        group, _ = Group.objects.get_or_create(name="sales_rep")
        reps = []
        for i in range(20):
            rep, _ = User.objects.get_or_create(username=f"rep{i}")
            rep.groups.add(group)
            reps.append(rep)
        accounts = Account.objects.bulk_create(
            Account(name=f"Account {i}", domain=f"a{i}.example", created_at=t0) for i in range(500)
        )
        deals = []
        for i in range(n):
            roll = rng.random()
            status, stage = (
                ("won", won) if roll < 0.1 else ("lost", lost) if roll < 0.2
                else ("open", rng.choice(open_stages))
            )  # fmt: skip
            deals.append(
                Deal(
                    name=f"Deal {i}", account=rng.choice(accounts), owner=rng.choice(reps),
                    pipeline_stage=stage, status=status, amount=Decimal(rng.randint(1, 500) * 100),
                    expected_close=date(2026, 6, 1) + timedelta(days=rng.randint(0, 180)),
                    created_at=t0 + timedelta(hours=i), lost_reason="price" if status == "lost" else None,
                )
            )  # fmt: skip
        deals = Deal.objects.bulk_create(deals, batch_size=2000)
        history = []
        for d in deals:
            history.append(DealHistory(deal=d, field="pipeline_stage", from_value="",
                                       to_value=str(open_stages[0].pk), at=d.created_at))  # fmt: skip
            if d.pipeline_stage_id != open_stages[0].pk:
                history.append(DealHistory(deal=d, field="pipeline_stage",
                                           from_value=str(open_stages[0].pk),
                                           to_value=str(d.pipeline_stage_id), at=d.created_at))  # fmt: skip
        DealHistory.objects.bulk_create(history, batch_size=5000)


def _time(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return min(runs), statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".bench-sales"))
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    _setup(args.home.resolve())
    _populate(args.deals)

    from django.db import connection

    from onefunnel.domain.access import Actor, Role
    from onefunnel.models import Deal
    from onefunnel.services.access import actor_by_username
    from onefunnel.services.sales.board import deal_board
    from onefunnel.services.sales.deals import list_deals, stage_win_rates

    boss = Actor(None, "boss", frozenset({Role.LEADERSHIP}))
    rep = actor_by_username("rep3")
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("deal_board, all deals, page 1", lambda: deal_board(None, boss, "all", 1)),
        ("deal_board, all deals, page 20", lambda: deal_board(None, boss, "all", 20)),
        ("deal_board, one rep's, page 1", lambda: deal_board(None, rep, "mine", 1)),
        ("list_deals, a rep, 200", lambda: list_deals(actor=rep, limit=200)),
        ("stage_win_rates", lambda: stage_win_rates()),
    ]
    print(f"{Deal.objects.count():,} deals on {connection.vendor}; best / median of {args.repeat}")
    print(f"{'case':<34} {'best ms':>9} {'median ms':>10}")
    for name, fn in cases:
        best, median = _time(fn, args.repeat)
        print(f"{name:<34} {best:>9.1f} {median:>10.1f}")


if __name__ == "__main__":
    main()
