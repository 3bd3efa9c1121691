"""Revenue retention on hand-checked contracts, on the configured database and on Spark.

Contracts (all USD unless said; MRR = amount a month, or amount / 12 for a yearly term):
  A: Core yearly 1,200 (MRR 100) 2025-01-01–2025-12-31, renewed 2026-01-01–2026-12-31;
     Analytics monthly 50 from 2026-02-01 (expansion, counted in January: it runs at Feb 1).
  B: Core yearly 2,400 (MRR 200) 2025-03-01–2026-02-28, not renewed (churn in February).
  C: Core monthly 300 2025-06-01–2026-01-31, renewed at 150 from 2026-02-01 (contraction, Jan).
  D: Core monthly 100 from 2026-02-15 (a new customer: never in a starting cohort in Feb).
  E: Core yearly 1,200 EUR 2026-01-01–2026-12-31 (another currency: its own rows).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from onefunnel.analytics.period import Period
from onefunnel.analytics.reports import RetentionQuery, run_report
from onefunnel.analytics.table import Table
from onefunnel.services.errors import InputError
from tests.analytics.conftest import ENGINES, at, engine_for
from tests.analytics.test_reports import check

Q1 = Period(date(2026, 1, 1), date(2026, 3, 31))
CONTRACTS = [
    ("A", "Core", "1200", "yearly", "2025-01-01", "2025-12-31", "USD"),
    ("A", "Core", "1200", "yearly", "2026-01-01", "2026-12-31", "USD"),
    ("A", "Analytics", "50", "monthly", "2026-02-01", "2026-12-31", "USD"),
    ("B", "Core", "2400", "yearly", "2025-03-01", "2026-02-28", "USD"),
    ("C", "Core", "300", "monthly", "2025-06-01", "2026-01-31", "USD"),
    ("C", "Core", "150", "monthly", "2026-02-01", "2026-07-31", "USD"),
    ("D", "Core", "100", "monthly", "2026-02-15", "2027-02-14", "USD"),
    ("E", "Core", "1200", "yearly", "2026-01-01", "2026-12-31", "EUR"),
]


@pytest.fixture
def contracts(db: None) -> None:
    from onefunnel.models import Account, Contract

    accounts: dict[str, Any] = {}
    for name, product, amount, period, start, end, currency in CONTRACTS:
        if name not in accounts:
            accounts[name] = Account.objects.create(
                name=name, domain=f"{name.lower()}.example", created_at=at("2025-01-01")
            )
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        Contract.objects.create(
            account=accounts[name], product=product, amount=Decimal(amount), currency=currency,
            billing_period=period, start_date=first, end_date=last, renewal_date=last,
            created_at=at(start),
        )  # fmt: skip


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, contracts: None, tmp_path: Path) -> Any:
    return engine_for(request.param, request, tmp_path)


def test_retention_by_month(engine: Any) -> None:
    steady_eur = (1, 0, 0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 100.0, 1.0, 1.0)
    check(
        engine,
        RetentionQuery(Q1),
        [
            # month, currency, customers, churned, logo churn, starting, expansion,
            # contraction, churned, new, ending, GRR, NRR
            ("2026-01", "EUR", *steady_eur),
            ("2026-01", "USD", 3, 0, 0.0, 600.0, 50.0, 150.0, 0.0, 0.0, 500.0, 0.75, 500 / 600),
            ("2026-02", "EUR", *steady_eur),
            ("2026-02", "USD", 3, 1, 1 / 3, 500.0, 0.0, 0.0, 200.0, 100.0, 300.0, 0.6, 0.6),
            ("2026-03", "EUR", *steady_eur),
            ("2026-03", "USD", 3, 0, 0.0, 400.0, 0.0, 0.0, 0.0, 0.0, 400.0, 1.0, 1.0),
        ],
    )


def test_retention_over_the_period(engine: Any) -> None:
    label = "2026-01-01..2026-03-31"
    check(
        engine,
        RetentionQuery(Q1, by="period"),
        [
            (label, "EUR", 1, 0, 0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 100.0, 1.0, 1.0),
            # kept = min(100, 150) + 0 + min(300, 150) = 250 of 600
            (label, "USD", 3, 1, 1 / 3, 600.0, 50.0, 150.0, 200.0, 100.0, 300.0, 250 / 600, 0.5),
        ],
    )


def test_retention_by_cohort(engine: Any) -> None:
    a = (1, 0, 0.0, 100.0, 150.0, 50.0, 1.0, 1.5)
    b_kept = (1, 0, 0.0, 200.0, 200.0, 0.0, 1.0, 1.0)
    b_gone = (1, 1, 1.0, 200.0, 0.0, 0.0, 0.0, 0.0)
    c = (1, 0, 0.0, 300.0, 150.0, 0.0, 0.5, 0.5)
    flat = (1, 0, 0.0, 100.0, 100.0, 0.0, 1.0, 1.0)
    check(
        engine,
        RetentionQuery(Q1, by="cohort"),
        [
            # cohort, month, currency, customers, churned, logo churn, initial, mrr,
            # expansion, GRR, NRR
            ("2025-01", "2026-01", "USD", *a),
            ("2025-01", "2026-02", "USD", *a),
            ("2025-01", "2026-03", "USD", *a),
            ("2025-03", "2026-01", "USD", *b_kept),
            ("2025-03", "2026-02", "USD", *b_gone),
            ("2025-03", "2026-03", "USD", *b_gone),
            ("2025-06", "2026-01", "USD", *c),
            ("2025-06", "2026-02", "USD", *c),
            ("2025-06", "2026-03", "USD", *c),
            ("2026-01", "2026-01", "EUR", *flat),
            ("2026-01", "2026-02", "EUR", *flat),
            ("2026-01", "2026-03", "EUR", *flat),
            ("2026-02", "2026-02", "USD", *flat),
            ("2026-02", "2026-03", "USD", *flat),
        ],
    )


@pytest.mark.django_db
def test_retention_is_a_named_report_and_refuses_unknown_groupings() -> None:
    from onefunnel.analytics.engines import DjangoEngine

    table: Table = run_report("retention", DjangoEngine(), Q1)
    assert table.columns[:2] == ("month", "currency")
    with pytest.raises(InputError, match=r"^by: "):
        run_report("retention", DjangoEngine(), Q1, by="channel")
    with pytest.raises(InputError, match=r"^from: "):
        RetentionQuery(Period(date(1990, 1, 1), date(2026, 1, 1))).snapshots()
