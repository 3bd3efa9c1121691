"""The records behind amounts add up to them, on the demo: attribution credits (every model,
the fractional ones too) and every retention cell (by month, period and cohort)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import User

from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import period_of
from onefunnel.analytics.records_amounts import (
    RETENTION_COUNTS,
    CreditRecords,
    RetentionRecords,
)
from onefunnel.analytics.reports import ReportOptions, run_report
from onefunnel.analytics.reports.attribution import AttributionQuery
from onefunnel.domain.attribution import AttributionModel
from onefunnel.domain.plan.periods import month_label
from onefunnel.services import records_amounts
from onefunnel.services.access import SYSTEM
from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.errors import InputError
from onefunnel.services.plan import forecast, reverse_funnel, targets

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


def test_the_records_behind_targets_forecast_and_plan_steps_add_up(demo: None) -> None:
    month = month_label(TODAY.replace(day=1))
    rep = User.objects.filter(groups__name="sales").order_by("pk").first()
    assert rep is not None
    targets.set_targets(SYSTEM, [
        targets.TargetInput(month, metric, value)
        for metric, value in (("deals_won", "10"), ("new_revenue", "90000"), ("mqls", "50"),
                              ("handoffs_accepted", "20"), ("spend", "9000"),
                              ("renewal_revenue", "1000"), ("expansion_revenue", "1000"))
    ] + [targets.TargetInput(month, "deals_won", "2", scope="rep", rep=rep.username)])  # fmt: skip
    for row in targets.list_targets(month=month):
        found = records_amounts.target_records(SYSTEM, row.id)
        if found.money:
            assert found.total == pytest.approx(row.actual, abs=1e-6), row
        else:
            assert len(found.rows) == row.actual, row
    # Attainment: the won deals counted toward the company's deal target.
    _report, owners = forecast.forecast_by_owner()
    for row in owners:
        for measure in ("won", "weighted", "deals"):
            found = records_amounts.forecast_records(
                SYSTEM, quarter=None, month="total", measure=measure, scope=row.scope,
                subject=row.subject,
            )  # fmt: skip
            expected = getattr(row, measure)
            got = len(found.rows) if measure == "deals" else found.total
            assert got == pytest.approx(expected, abs=0.01), (row, measure)
    report = forecast.forecast_period()
    for line in report.rows():
        for measure in ("commit", "best_case", "pipeline"):
            found = records_amounts.forecast_records(
                SYSTEM, quarter=None, month=str(line["month"]), measure=measure
            )
            assert found.total == pytest.approx(line[measure], abs=0.01), (line, measure)
    # The reverse funnel's actual per step and month.
    saved = reverse_funnel.save_plan(
        SYSTEM, reverse_funnel.make_plan("200000", month, by="channel", window_months=24),
        name="plan",
    )  # fmt: skip
    rows = tuple(reverse_funnel.planned_by_month(saved.id))
    table = run_report("plan", DjangoEngine(), period_of(None, None, today=TODAY),
                       options=ReportOptions(plan_rows=rows, today=TODAY))  # fmt: skip
    assert table.rows
    for r in table.to_records():
        first = date.fromisoformat(f"{r['month']}-01")
        found = records_amounts.plan_step_records(
            SYSTEM, step=str(r["step"]), channel=str(r["channel"]),
            period=period_of(first, first, today=TODAY),
        )  # fmt: skip
        got = found.total if found.money else len(found.rows)
        assert got == pytest.approx(float(r["actual"] or 0), abs=1e-6), r
