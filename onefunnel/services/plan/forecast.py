"""The revenue forecast of a month or quarter, the forecast category reps set per deal, and the
walk-forward backtest that picks the default method (``domain.plan.forecast`` explains both).

What the backtest can know of the past: deals' creation, close, status, amount and expected
close are read as stored today. A deal's stage on a past day comes from its deal history (every
move is appended there, with its time; the demo writes its deals' history too); a deal without
history entries (one loaded in bulk before histories were kept) is weighed by the stage method
by its current stage while open and by the first stage's default once closed (the one stage it
surely was in) — ``_stage_at`` is that one place — and by the history method by kind and age.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from onefunnel.analytics.cache import cached, this_minute
from onefunnel.domain.access import Action, Actor
from onefunnel.domain.deals import HistoryField
from onefunnel.domain.plan.forecast import (
    Backtest,
    DealFacts,
    ForecastCategory,
    ForecastLine,
    ForecastMethod,
    backtest,
    backtest_months,
    forecast,
    win_rates,
)
from onefunnel.domain.plan.periods import PlanPeriod, add_months, month_label, parse_period
from onefunnel.models import Deal, DealForecast, DealHistory, PipelineStage, RepProfile
from onefunnel.services.access import deal_work, require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.plan.common import plan_errors


@dataclass(frozen=True, slots=True)
class ForecastReport:
    """A period's forecast by month, the method used and why it is the one."""

    period: str
    method: ForecastMethod
    why: str
    lines: tuple[ForecastLine, ...]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per month plus a total, for output."""
        out = [_line_dict(month_label(x.month), x) for x in self.lines]
        total = {k: sum(r[k] for r in out) for k in out[0] if k != "month"} if out else {}
        return [*out, {"month": "total", **total}] if out else out


def _line_dict(label: str, x: ForecastLine) -> dict[str, Any]:
    return {
        "month": label,
        "won": round(x.won, 2),
        "commit": round(x.commit, 2),
        "best_case": round(x.best_case, 2),
        "pipeline": round(x.pipeline, 2),
        "omitted": round(x.omitted, 2),
        "weighted": round(x.weighted, 2),
        "run_rate": round(x.run_rate, 2),
        "forecast": round(x.forecast, 2),
        "deals": x.deals,
    }


def deal_facts() -> list[DealFacts]:
    """Every deal as the forecast reads it, with the stages its history shows (two queries)."""
    timelines = _stage_timelines()
    rows = Deal.objects.values_list(
        "id",
        "kind",
        "amount",
        "created_at",
        "closed_at",
        "status",
        "expected_close",
        "probability",
        "pipeline_stage__probability",
        "forecast__category",
        "owner_id",
    )
    out = []
    for i, kind, amount, created, closed, status, close, manual, default, category, owner in rows:
        pct = manual if manual is not None else default
        out.append(
            DealFacts(
                id=i,
                kind=kind,
                amount=float(str(amount)),
                created_at=created,
                closed_at=closed,
                won=None if status == "open" else status == "won",
                expected_close=close,
                stage_probability=(pct or 0) / 100,
                category=ForecastCategory(category) if category else ForecastCategory.PIPELINE,
                stages=tuple(timelines.get(i, ())),
                owner_id=owner,
            )
        )
    return out


def _stage_timelines() -> dict[int, list[tuple[datetime, int]]]:
    """Each deal's pipeline stages over time, from its deal history: (time entered, stage id),
    in time order (one query)."""
    timelines: dict[int, list[tuple[datetime, int]]] = {}
    rows = (
        DealHistory.objects.filter(field=HistoryField.PIPELINE_STAGE)
        .exclude(to_value="")
        .order_by("deal_id", "at", "id")
        .values_list("deal_id", "at", "to_value")
    )
    for deal_id, at, stage in rows.iterator(chunk_size=5000):
        if stage.isdigit():
            timelines.setdefault(deal_id, []).append((at, int(stage)))
    return timelines


def _stage_at(
    first_stage: float, probability: dict[int, float]
) -> Callable[[DealFacts, datetime], float]:
    """The stage method's weight of a deal on a past day: the default probability of the
    stage its history shows then (see the module docstring for deals without history)."""
    known = probability

    def probability_at(deal: DealFacts, when: datetime) -> float:
        if deal.stages:
            stage = deal.stage_at(when)
            return known.get(stage, first_stage) if stage is not None else first_stage
        # No history: only an open deal's stage is known (today's); a closed one surely was
        # in the first.
        return deal.stage_probability if deal.closed_at is None else first_stage

    return probability_at


def run_backtest(
    *, today: date | None = None, deals: list[DealFacts] | None = None, warmup: int = 3
) -> Backtest:
    """Backtest both methods and the naive baseline over every full month of history (after
    ``warmup`` months to learn from) up to the last full month before ``today``."""
    day = today or timezone.now().date()
    facts = deal_facts() if deals is None else deals
    months = backtest_months(facts, add_months(day.replace(day=1), -1), warmup)
    return backtest(facts, months, probability_at=stage_weights())


def stage_weights() -> Callable[[DealFacts, datetime], float]:
    """The stage method's weight of a deal on a past day (``_stage_at``), from the pipeline
    stages' default probabilities."""
    first = PipelineStage.objects.order_by("sequence").values_list("probability", flat=True)
    first_stage = (first.first() or 0) / 100
    probability = {
        pk: pct / 100 for pk, pct in PipelineStage.objects.values_list("pk", "probability")
    }
    return _stage_at(first_stage, probability)


@plan_errors
def forecast_period(
    period: str | None = None,
    *,
    method: str | None = None,
    today: datetime | None = None,
) -> ForecastReport:
    """The forecast of a month or quarter (default: the current quarter) by expected close
    month. Without ``method``, the backtest's default (the method that beats the naive
    baseline on this database)."""
    now = today or this_minute()
    plan_period = _period(period, now)
    chosen_method = _chosen(method)

    def compute() -> ForecastReport:
        facts = deal_facts()
        chosen, why = _method(chosen_method, facts, now)
        lines = forecast(facts, plan_period.months, as_of=now.astimezone(UTC), method=chosen)
        return ForecastReport(plan_period.label, chosen, why, tuple(lines))

    # Kept until the deals change, or the minute ``now`` stands for ends (``this_minute``).
    present = (plan_period.label, chosen_method) if today is None else None
    return cached("forecast", (plan_period.label, chosen_method, now), compute, present=present)


def _chosen(method: str | None) -> ForecastMethod | None:
    """The method asked for (None: the backtest's default); an unknown one is refused."""
    if not method:
        return None
    try:
        return ForecastMethod(method.strip().lower())
    except ValueError:
        raise InputError(f"method: unknown method {method!r} (stage or history)") from None


def _period(period: str | None, now: datetime) -> PlanPeriod:
    day = now.date()
    return parse_period(period or f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def _method(
    method: ForecastMethod | None, facts: list[DealFacts], now: datetime
) -> tuple[ForecastMethod, str]:
    """The method asked for, else the backtest's default; and why it is the one."""
    if method is not None:
        return method, "chosen"
    day = now.date()
    # The backtest (most of a forecast's time) reads only the deals, their stages and the day:
    # kept until one of them changes (``analytics.cache``). ``facts`` are the database's deals.
    result = cached("forecast_backtest", (day,), lambda: run_backtest(today=day, deals=facts))
    errs = {e.name: e.mape for e in result.errors}
    mape, naive = errs.get(result.default.value), errs.get("naive")
    why = (
        f"default: lowest backtest MAPE ({_pct(mape)}) against the naive {_pct(naive)}"
        if result.beats_baseline
        else f"default: no method beat the naive baseline ({_pct(naive)}); lowest MAPE"
    )
    return result.default, why


@dataclass(frozen=True, slots=True)
class OwnerForecast:
    """A period's forecast for the company, a team or a rep (the deals they own)."""

    scope: str  # "company", "team", "rep"
    subject: str
    won: float
    weighted: float
    run_rate: float
    forecast: float
    deals: int


@plan_errors
def forecast_by_owner(
    period: str | None = None,
    *,
    method: str | None = None,
    today: datetime | None = None,
) -> tuple[ForecastReport, list[OwnerForecast]]:
    """The period's forecast for the company, each routing team and each rep: the same method
    and win rates for all (learnt from every deal), each over the deals it owns. Deals without
    an owner, or whose owner has no routing team, have a row of their own, so the reps' (and
    the teams') rows sum to the company's."""
    now = today or this_minute()
    plan_period = _period(period, now)
    chosen_method = _chosen(method)
    return cached(
        "forecast_by_owner",
        (plan_period.label, chosen_method, now),
        lambda: _by_owner(plan_period, chosen_method, now),
        present=(plan_period.label, chosen_method) if today is None else None,
    )


def _by_owner(
    plan_period: PlanPeriod, method: ForecastMethod | None, now: datetime
) -> tuple[ForecastReport, list[OwnerForecast]]:
    facts = deal_facts()
    chosen, why = _method(method, facts, now)
    as_of = now.astimezone(UTC)
    names = dict(User.objects.values_list("id", "username"))
    teams = dict(RepProfile.objects.values_list("user_id", "team"))
    owners = sorted({d.owner_id for d in facts if d.owner_id is not None},
                    key=lambda o: names.get(o, ""))  # fmt: skip
    # Learnt once from every deal: each row is weighed by the same rates.
    rates = win_rates(facts, as_of) if chosen is ForecastMethod.HISTORY else None

    def lines_of(include: Callable[[DealFacts], bool] | None) -> list[ForecastLine]:
        return forecast(facts, plan_period.months, as_of=as_of, method=chosen, include=include,
                        rates=rates)  # fmt: skip

    def summed(scope: str, subject: str, lines: list[ForecastLine]) -> OwnerForecast:
        return OwnerForecast(
            scope=scope,
            subject=subject,
            won=round(sum(x.won for x in lines), 2),
            weighted=round(sum(x.weighted for x in lines), 2),
            run_rate=round(sum(x.run_rate for x in lines), 2),
            forecast=round(sum(x.forecast for x in lines), 2),
            deals=sum(x.deals for x in lines),
        )

    def of_team(team: str | None) -> Callable[[DealFacts], bool]:
        return lambda d: teams.get(d.owner_id or 0) == team

    def of_owner(owner: int | None) -> Callable[[DealFacts], bool]:
        return lambda d: d.owner_id == owner

    def row(scope: str, subject: str, include: Callable[[DealFacts], bool]) -> OwnerForecast:
        return summed(scope, subject, lines_of(include))

    company = lines_of(None)
    rows = [summed("company", "company", company)]
    rows += [row("team", team, of_team(team)) for team in sorted(set(teams.values()))]
    rows.append(row("team", "(no team)", of_team(None)))
    rows += [row("rep", names.get(o, f"user #{o}"), of_owner(o)) for o in owners]
    rows.append(row("rep", "(no owner)", of_owner(None)))
    report = ForecastReport(plan_period.label, chosen, why, tuple(company))
    return report, [r for r in rows if r.scope == "company" or r.deals or r.forecast]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def backtest_rows(result: Backtest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The backtest as (error table, month table) rows for output."""
    errors = [
        {
            "forecast": e.name,
            "mape": None if e.mape is None else round(e.mape, 4),
            "bias": None if e.bias is None else round(e.bias, 4),
            "months": e.months,
            "default": e.name == result.default.value,
        }
        for e in result.errors
    ]
    months = [
        {
            "month": month_label(m.month),
            "actual": round(m.actual, 2),
            "stage": round(m.stage, 2),
            "history": round(m.history, 2),
            "naive": round(m.naive, 2),
        }
        for m in result.months
    ]
    return errors, months


def set_forecast_category(
    actor: Actor, deal_id: int, category: str, *, at: datetime | None = None
) -> ForecastCategory:
    """Set a deal's forecast category: the deal's rep (or their team lead, or an admin)."""
    try:
        value = ForecastCategory(category.strip().lower())
    except ValueError:
        known = ", ".join(c.value for c in ForecastCategory)
        raise InputError(f"category: unknown category {category!r} (one of {known})") from None
    with transaction.atomic():
        deal = Deal.objects.select_related("account").filter(pk=deal_id).first()
        if deal is None:
            raise NotFoundError(f"deal_id: no deal #{deal_id}")
        require(actor, Action.WORK_DEAL, deal_work(deal))
        if deal.status != "open":
            raise InputError(f"deal_id: deal #{deal_id} is {deal.status}; only open deals")
        DealForecast.objects.update_or_create(
            deal_id=deal.pk,
            defaults={
                "category": value.value,
                "set_by_id": actor.user_id,
                "set_at": at or timezone.now(),
            },
        )
    return value
