"""`DjangoEngine.in_parallel`: two parts of a report at once on two connections, or one after the
other inside a transaction (where a second connection would not see the caller's rows)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest
from django.db import transaction

from onefunnel.analytics.engines import DjangoEngine, Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.services.demo import DemoSize, generate_demo

COUNT = "SELECT COUNT(*) AS n FROM onefunnel_contact"


def _where(engine: Engine) -> tuple[int, object]:
    return threading.get_ident(), engine.run(COUNT, {}).rows[0][0]


@pytest.mark.django_db(transaction=True)
def test_parts_run_on_two_threads_outside_a_transaction_and_agree() -> None:
    generate_demo(seed=11, size=DemoSize.SMALL)
    engine = DjangoEngine()
    (first_thread, first_count), (second_thread, second_count) = engine.in_parallel(_where, _where)
    assert first_thread == threading.get_ident() != second_thread
    assert first_count == second_count == 1_000

    period = Period(date(2025, 1, 1), date(2026, 12, 31))
    options = ReportOptions(model="markov")
    at_once = run_report("spend", engine, period, by="channel", options=options)
    with transaction.atomic():
        one_by_one = run_report("spend", DjangoEngine(), period, by="channel", options=options)
    assert at_once == one_by_one
    assert sum(float(v or 0) for v in at_once.column("attributed_revenue")) > 0


@pytest.mark.django_db
def test_inside_a_transaction_the_parts_run_in_turn_and_see_its_rows(
    make_contact: Callable[..., object],
) -> None:
    make_contact()
    (first_thread, first_count), (second_thread, second_count) = DjangoEngine().in_parallel(
        _where, _where
    )
    assert first_thread == second_thread == threading.get_ident()
    assert first_count == second_count == 1
