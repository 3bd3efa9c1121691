"""The records behind amounts add up to them, on the demo: attribution credits (every model,
the fractional ones too) and every retention cell (by month, period and cohort)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import period_of
from onefunnel.analytics.records_amounts import (
    RETENTION_COUNTS,
    CreditRecords,
    RetentionRecords,
)
from onefunnel.analytics.reports import run_report
from onefunnel.analytics.reports.attribution import AttributionQuery
from onefunnel.domain.attribution import AttributionModel
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.errors import InputError

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = datetime.now(UTC).date()


@pytest.fixture
def demo() -> None:
    generate_demo(seed=5, size=DemoSize.SMALL)


@pytest.mark.parametrize("by", ["channel", "campaign"])
def test_the_shares_behind_each_credit_add_up_to_it(demo: None, by: str) -> None:
    engine = DjangoEngine()
    period = period_of(None, None, today=TODAY)
    models = [m.value for m in AttributionModel]
    credits = AttributionQuery(period, by, models=",".join(models)).credits(engine)
    checked = 0
    for model in models:
        assert credits[model], model
        conversions = 0.0
        for label, (conv, revenue) in credits[model].items():
            for measure, expected in (("conversions", conv), ("revenue", revenue)):
                table = CreditRecords(period, model, by, label, measure).run(engine)
                amounts = [float(a) for a in table.column("amount")]  # type: ignore[arg-type]
                assert sum(amounts) == pytest.approx(expected, rel=1e-9, abs=1e-6), (
                    model, label, measure,
                )  # fmt: skip
                if measure == "conversions":
                    conversions += sum(amounts)
                    # A journey is an account that converted: each appears once.
                    accounts = table.column("account_id")
                    assert len(set(accounts)) == len(accounts)
                checked += 1
        converting = AttributionQuery(period, by, models=model).journeys(engine).converting
        assert conversions == pytest.approx(converting)
    assert checked > 40


def test_a_fractional_credit_lists_fractions(demo: None) -> None:
    engine = DjangoEngine()
    period = period_of(None, None, today=TODAY)
    credits = AttributionQuery(period, "channel", models="linear").credits(engine)["linear"]
    label = max(credits, key=lambda k: credits[k][0])
    shares = CreditRecords(period, "linear", "channel", label, "conversions").run(engine)
    assert any(0 < float(a) < 1 for a in shares.column("amount"))  # type: ignore[arg-type]


@pytest.mark.parametrize("by", ["month", "period", "cohort"])
def test_the_accounts_behind_each_retention_cell_add_up_to_it(demo: None, by: str) -> None:
    engine = DjangoEngine()
    period = period_of("2025-06-01", TODAY.isoformat(), today=TODAY)
    table = run_report("retention", engine, period, by=by)
    assert table.rows
    checked = 0
    for row in table.to_records():
        label = str(row["month" if by == "cohort" else by])
        measures = ("customers", "churned_customers", "initial_mrr", "mrr", "expansion_mrr") \
            if by == "cohort" else ("customers_start", "churned_customers", "starting_mrr",
                                    "expansion_mrr", "contraction_mrr", "churned_mrr",
                                    "new_mrr", "ending_mrr")  # fmt: skip
        for measure in measures:
            records = RetentionRecords(
                period, by, label, str(row["currency"]), measure,
                cohort=str(row["cohort"]) if by == "cohort" else None,
            ).run(engine)  # fmt: skip
            if measure in RETENTION_COUNTS:
                assert len(records) == row[measure], (row, measure)
            else:
                total = sum(float(a) for a in records.column("amount"))  # type: ignore[arg-type]
                assert total == pytest.approx(float(row[measure] or 0), abs=1e-6), (row, measure)
            checked += 1
    assert checked >= 8


def test_bad_retention_questions_name_the_field() -> None:
    period = period_of("2025-01-01", "2025-12-31", today=TODAY)
    for kwargs, field in (
        ({"by": "week", "label": "2025-01", "currency": "EUR", "measure": "new_mrr"}, "by"),
        ({"by": "month", "label": "2025-01", "currency": "EUR", "measure": "grr"}, "measure"),
        ({"by": "month", "label": "2031-01", "currency": "EUR", "measure": "new_mrr"}, "group"),
        ({"by": "month", "label": "2025-01", "currency": "euro", "measure": "new_mrr"},
         "currency"),
        ({"by": "cohort", "label": "2025-01", "currency": "EUR", "measure": "mrr"}, "cohort"),
    ):  # fmt: skip
        with pytest.raises(InputError, match=f"^{field}: "):
            RetentionRecords(period=period, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^model: "):
        CreditRecords(period, "linear,first", "channel", "email")
    with pytest.raises(InputError, match=r"^by: "):
        CreditRecords(period, "linear", "rep", "x")
