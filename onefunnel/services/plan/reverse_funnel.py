"""The reverse funnel on measured rates: plan a revenue target backwards, save it as a
version, and read saved plans (``domain.plan.reverse_funnel`` explains the arithmetic).

The rates are measured set-based over a trailing window (6 months by default, ending today):

* deal size — won new-business deals closed in the window (amounts, for the bootstrap);
* win rate and acceptance rate — the scorecard report's counts over the window's handoffs
  (``won_of_accepted`` of ``accepted``; ``accepted`` of ``accepted + rejected``);
* MQL rate — of the leads (contacts created in the window), those handed off;
* cost per lead — the window's spend per lead;
* the channel mix — the attribution report's conversions by channel under the chosen model;
  each channel's own MQL rate and cost per lead from its leads (first-touch channel) and spend;
* cycle lengths — medians of lead → first handoff, handoff → decision, decision → won close.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from onefunnel.analytics.dimensions import FIRST_TOUCH_CTE, NONE_LABEL
from onefunnel.analytics.engines import DjangoEngine
from onefunnel.analytics.period import Period
from onefunnel.analytics.reports.attribution import AttributionQuery
from onefunnel.analytics.reports.scorecard import ScorecardQuery
from onefunnel.domain.access import Action, Actor, Work
from onefunnel.domain.plan.periods import (
    add_months,
    month_label,
    parse_period,
    require_future,
)
from onefunnel.domain.plan.reverse_funnel import (
    ChannelInput,
    DealSize,
    Estimate,
    FunnelRates,
    Rate,
    ReversePlan,
    plan_backwards,
    split_by_channel,
    spread_by_month,
)
from onefunnel.domain.touches import Channel
from onefunnel.models import CampaignBudget, Contact, Deal, Handoff, Plan, Spend
from onefunnel.models.routing import RepProfile
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.plan.common import MAX_AMOUNT, plan_errors

DEFAULT_WINDOW_MONTHS = 6
DEFAULT_MODEL = "linear"


@dataclass(frozen=True, slots=True)
class PlanResult:
    """A reverse-funnel plan and what it was made from."""

    plan: ReversePlan
    period: str
    rates: FunnelRates
    channel_inputs: tuple[ChannelInput, ...]
    window_first: date
    window_last: date
    model: str
    currency: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: steps, channels, rates with samples and intervals, limits."""
        return {
            "period": self.period,
            "revenue": self.plan.revenue,
            "currency": self.currency,
            "reachable": self.plan.reachable,
            "limits": list(self.plan.limits),
            "window": {
                "first": self.window_first.isoformat(),
                "last": self.window_last.isoformat(),
            },
            "model": self.model,
            "rates": rates_dict(self.rates),
            "steps": [
                {
                    "step": s.name,
                    **_estimate(s.quantity),
                    "rate": s.rate,
                    "from": s.window_first.isoformat(),
                    "to": s.window_last.isoformat(),
                }
                for s in self.plan.steps
            ],
            "channels": [
                {
                    "channel": c.channel,
                    "mql_share": round(c.mql_share, 4),
                    "mqls": _estimate(c.mqls),
                    "leads": _estimate(c.leads),
                    "cost_per_lead": None if c.cost_per_lead is None else round(c.cost_per_lead, 2),
                    "spend": _estimate(c.spend),
                    "notes": list(c.notes),
                }
                for c in self.plan.channels
            ],
        }


def _estimate(e: Estimate | None) -> dict[str, float | None]:
    if e is None:
        return {"value": None, "low": None, "high": None}
    return {
        "value": round(e.value, 2),
        "low": None if e.low is None else round(e.low, 2),
        "high": None if e.high is None else round(e.high, 2),
    }


def _rate(r: Rate) -> dict[str, Any]:
    low, high = r.interval
    return {
        "successes": r.successes,
        "n": r.trials,
        "value": round(r.point, 4),
        "low": round(low, 4),
        "high": round(high, 4),
    }


def rates_dict(rates: FunnelRates) -> dict[str, Any]:
    """The measured rates with sample sizes and 90 % intervals."""
    size = rates.deal_size
    return {
        "deal_size": {
            "n": size.n,
            "value": round(size.mean, 2),
            "low": round(size.low, 2),
            "high": round(size.high, 2),
        },
        "win_rate": _rate(rates.win_rate),
        "acceptance_rate": _rate(rates.acceptance_rate),
        "mql_rate": _rate(rates.mql_rate),
        "cost_per_lead": {
            "n": rates.leads,
            "spend": round(rates.spend, 2),
            "value": None if rates.cost_per_lead is None else round(rates.cost_per_lead, 2),
        },
        "cycle_days": {
            "lead_to_mql": round(rates.days_lead_to_mql, 1),
            "mql_to_decision": round(rates.days_mql_to_decision, 1),
            "decision_to_close": round(rates.days_decision_to_close, 1),
        },
    }


def _median(values: Iterable[float]) -> float:
    got = [v for v in values if v >= 0]
    return statistics.median(got) if got else 0.0


def _days(a: datetime | None, b: datetime | None) -> float:
    if a is None or b is None:
        return -1.0
    return (b - a).total_seconds() / 86400


def _count(value: object) -> int:
    return int(value) if isinstance(value, (int, float)) else 0


def measure_rates(first: date, last: date) -> FunnelRates:
    """The funnel's rates over the days ``first`` to ``last`` (both included)."""
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    stop = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    won = Deal.objects.filter(
        kind="new_business", status="won", closed_at__gte=start, closed_at__lt=stop
    )
    sizes = [float(str(a)) for a in won.values_list("amount", flat=True)]
    card = ScorecardQuery(Period(first, last)).run(DjangoEngine()).to_records()
    row = card[0] if card else {}
    accepted, rejected = _count(row.get("accepted")), _count(row.get("rejected"))
    won_of_accepted = _count(row.get("won_of_accepted"))
    leads = Contact.objects.filter(created_at__gte=start, created_at__lt=stop)
    handed = leads.annotate(first_handoff=Min("handoffs__created_at")).filter(
        first_handoff__isnull=False
    )
    lead_to_mql = [_days(c, h) for c, h in handed.values_list("created_at", "first_handoff")]
    decided = Handoff.objects.filter(
        status="accepted", created_at__gte=start, created_at__lt=stop
    ).annotate(at=Coalesce(F("decided_at"), F("first_response_at")))
    mql_to_decision = [_days(c, d) for c, d in decided.values_list("created_at", "at")]
    closes = won.annotate(
        decided=Max(Coalesce(F("handoffs__decided_at"), F("handoffs__first_response_at")))
    ).filter(decided__isnull=False)
    decision_to_close = [_days(d, c) for d, c in closes.values_list("decided", "closed_at")]
    spend = Spend.objects.filter(day__gte=first, day__lte=last).aggregate(s=Sum("amount"))["s"]
    return FunnelRates(
        deal_size=DealSize.of(sizes),
        win_rate=Rate("win_rate", won_of_accepted, accepted),
        acceptance_rate=Rate("acceptance_rate", accepted, accepted + rejected),
        mql_rate=Rate("mql_rate", len(lead_to_mql), leads.count()),
        spend=float(str(spend or 0)),
        leads=leads.count(),
        days_lead_to_mql=_median(lead_to_mql),
        days_mql_to_decision=_median(mql_to_decision),
        days_decision_to_close=_median(decision_to_close),
    )


_CHANNEL_LEADS = f"""
WITH {FIRST_TOUCH_CTE},
leads AS (
  SELECT COALESCE(ft.channel, '{NONE_LABEL}') AS channel,
         CASE WHEN EXISTS (SELECT 1 FROM onefunnel_handoff AS h WHERE h.contact_id = ct.id)
              THEN 1 ELSE 0 END AS handed
  FROM onefunnel_contact AS ct
  LEFT JOIN first_touch AS ft ON ft.contact_id = ct.id
  WHERE ct.created_at >= :period_start AND ct.created_at < :period_end
)
SELECT l.channel, COUNT(*) AS leads, SUM(l.handed) AS mqls
FROM leads AS l
GROUP BY l.channel
"""


def measure_channels(first: date, last: date, model: str) -> list[ChannelInput]:
    """Each channel's attributed share of conversions under ``model``, and its own leads, MQL
    rate and spend over the window."""
    period = Period(first, last)
    engine = DjangoEngine()
    mix = AttributionQuery(period, "channel", models=model).run(engine).to_records()
    shares: dict[str, float] = {}
    for r in mix:
        shares[str(r["channel"])] = shares.get(str(r["channel"]), 0.0) + float(
            r["conversions"] or 0  # type: ignore[arg-type]
        )
    counts = {
        str(ch): (int(n or 0), int(k or 0))
        for ch, n, k in engine.fetch(_CHANNEL_LEADS, period.params())
    }
    spend = dict(
        Spend.objects.filter(day__gte=first, day__lte=last)
        .values("campaign__channel")
        .annotate(s=Sum("amount"))
        .values_list("campaign__channel", "s")
    )
    out = []
    for channel in sorted(shares, key=lambda c: -shares[c]):
        if shares[channel] <= 0:
            continue
        n, k = counts.get(channel, (0, 0))
        out.append(
            ChannelInput(
                channel,
                shares[channel],
                Rate("mql_rate", min(k, n), n),
                float(str(spend.get(channel) or 0)),
                n,
            )
        )
    return out


def _revenue(value: str | float | Decimal) -> float:
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise InputError(f"revenue: not a number: {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise InputError("revenue: the target must be a positive amount")
    if amount >= MAX_AMOUNT:
        raise InputError(f"revenue: too large (got {amount})")
    return float(amount)


@plan_errors
def make_plan(
    revenue: str | float | Decimal,
    period: str,
    *,
    by: str | None = None,
    window_months: int = DEFAULT_WINDOW_MONTHS,
    model: str = DEFAULT_MODEL,
    today: date | None = None,
) -> PlanResult:
    """Plan ``revenue`` in ``period`` backwards from the rates of the trailing window."""
    from django.conf import settings

    target = _revenue(revenue)
    day = today or timezone.now().date()
    plan_period = parse_period(period)
    require_future(plan_period, day)
    if by not in (None, "channel"):
        raise InputError(f"by: a plan is split by channel only (got {by!r})")
    if not 1 <= window_months <= 36:
        raise InputError("window: between 1 and 36 months")
    window_first = add_months(day.replace(day=1), -window_months)
    window_last = day - timedelta(days=1)
    rates = measure_rates(window_first, window_last)
    plan = plan_backwards(target, plan_period.first, plan_period.last, rates)
    leads = plan.step("leads")
    if plan.reachable and leads.window_first < day:
        late = (day - leads.window_first).days
        plan = ReversePlan(
            plan.revenue, plan.period_first, plan.period_last, plan.steps, plan.channels,
            plan.reachable,
            (*plan.limits, f"timing: leads should have started arriving on"
             f" {leads.window_first.isoformat()}, {late} days ago, for their deals to close in"
             f" {plan_period.label}"),
        )  # fmt: skip
    inputs: tuple[ChannelInput, ...] = ()
    if by == "channel":
        inputs = tuple(measure_channels(window_first, window_last, model))
        plan = split_by_channel(plan, rates, inputs)
        if not inputs:
            plan = ReversePlan(
                plan.revenue, plan.period_first, plan.period_last, plan.steps, (),
                plan.reachable,
                (*plan.limits, "channels: no conversion attributed to a channel in the window"),
            )  # fmt: skip
    return PlanResult(
        plan,
        plan_period.label,
        rates,
        inputs,
        window_first,
        window_last,
        model,
        str(settings.ONEFUNNEL_CURRENCY),
    )


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """A saved plan version."""

    id: int
    name: str
    version: int
    period: str
    revenue: float
    currency: str
    created_by: str | None
    created_at: datetime
    budgets: int
    body: dict[str, Any]
    team: str | None = None  # the team the plan is for; None: the company's

    def summary(self) -> dict[str, Any]:
        """One line of ``plans list``."""
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "period": self.period,
            "team": self.team,
            "revenue": self.revenue,
            "currency": self.currency,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "budgets": self.budgets,
        }


def save_plan(
    actor: Actor,
    result: PlanResult,
    *,
    name: str | None = None,
    budgets: bool = False,
    team: str | None = None,
) -> SavedPlan:
    """Save the plan as the next version of ``name`` (default: its period, and the team's
    name before it for a team's plan), optionally with its spend per channel and month as the
    budget of the plan. All or nothing; refused for a plan that cannot reach its target (its
    limits say why).

    Who saves follows the targets' rule (``Action.SET_TARGETS``): admins save the company's
    plan and any team's, a team lead their own team's (``team``). Budgets are marketing's
    spend, so writing them also needs ``Action.EDIT_MARKETING``. A name is one series of
    versions for one scope: a team's plan never adds a version to the company's or another
    team's plan of the same name."""
    scope = (team or "").strip() or None
    if scope is not None and not RepProfile.objects.filter(team=scope).exists():
        raise NotFoundError(f"team: no rep is in a team {scope!r}")
    require(actor, Action.SET_TARGETS, Work("plan", team=scope))
    if budgets:
        require(actor, Action.EDIT_MARKETING, Work("budget"))
    if not result.plan.reachable:
        raise InputError("plan: cannot be saved: " + "; ".join(result.plan.limits))
    default = result.period if scope is None else f"{scope} {result.period}"
    label = (name or default).strip()
    if not label or len(label) > 120:
        raise InputError("name: between 1 and 120 characters")
    if budgets and not result.plan.channels:
        raise InputError("budgets: make the plan --by channel to write its budgets")
    body = result.as_dict()
    now = timezone.now()
    try:
        with transaction.atomic():
            last = Plan.objects.select_for_update().filter(name=label).order_by("-version").first()
            if last is not None and last.inputs.get("team") != scope:
                theirs = last.inputs.get("team")
                whose = f"team {theirs!r}" if theirs else "the company"
                raise InputError(f"name: {label!r} is a plan of {whose}; choose another name")
            plan = Plan.objects.create(
                name=label,
                version=(last.version + 1) if last else 1,
                period=result.period,
                period_first=result.plan.period_first,
                period_last=result.plan.period_last,
                revenue=Decimal(str(result.plan.revenue)).quantize(Decimal("0.01")),
                currency=result.currency,
                inputs={
                    **{k: body[k] for k in ("window", "model", "rates", "reachable")},
                    "team": scope,
                },
                steps=body["steps"],
                channels=body["channels"],
                limits=body["limits"],
                created_by_id=actor.user_id,
                created_at=now,
            )
            written = 0
            if budgets:
                written = _write_budgets(plan, result, actor, now)
    except IntegrityError:
        # Two saves of the same name at once: the version numbers met; nothing was written.
        raise InputError(
            f"name: another version of {label!r} was saved at the same time; save again"
        ) from None
    return _saved(plan, written)


def _write_budgets(plan: Plan, result: PlanResult, actor: Actor, now: datetime) -> int:
    spend_step = result.plan.step("spend")
    rows = []
    for ch in result.plan.channels:
        if ch.spend is None or ch.channel not in Channel.__members__.values():
            continue
        for month, amount in spread_by_month(
            ch.spend.value, spend_step.window_first, spend_step.window_last
        ).items():
            rows.append(
                CampaignBudget(
                    plan=plan,
                    month=month,
                    channel=ch.channel,
                    amount=Decimal(str(round(amount, 2))),
                    currency=result.currency,
                    goal_leads=round(ch.leads.value * amount / ch.spend.value)
                    if ch.leads and ch.spend.value
                    else None,
                    set_by_id=actor.user_id,
                    set_at=now,
                )
            )
    CampaignBudget.objects.bulk_create(rows)
    return len(rows)


def _saved(plan: Plan, budgets: int | None = None) -> SavedPlan:
    body = {
        "period": plan.period,
        "revenue": float(str(plan.revenue)),
        "currency": plan.currency,
        **plan.inputs,
        "limits": plan.limits,
        "steps": plan.steps,
        "channels": plan.channels,
    }
    return SavedPlan(
        id=plan.pk,
        name=plan.name,
        version=plan.version,
        period=plan.period,
        revenue=float(str(plan.revenue)),
        currency=plan.currency,
        created_by=plan.created_by.get_username() if plan.created_by else None,
        created_at=plan.created_at,
        budgets=plan.budgets.count() if budgets is None else budgets,
        body=body,
        team=plan.inputs.get("team"),
    )


def list_plans() -> list[SavedPlan]:
    """Every saved plan version, newest first."""
    return [_saved(p) for p in Plan.objects.select_related("created_by").order_by("-id")]


def get_plan(plan_id: int) -> SavedPlan:
    """One saved plan version; NotFoundError naming the id."""
    plan = Plan.objects.select_related("created_by").filter(pk=plan_id).first()
    if plan is None:
        raise NotFoundError(f"plan: no plan #{plan_id}")
    return _saved(plan)


def planned_by_month(plan_id: int) -> list[tuple[str, str, str, float]]:
    """A saved plan's numbers as (step, channel, month, planned) rows — each step spread over
    its window by days — for the plan-vs-actual report (``all`` is the company's channel)."""
    saved = get_plan(plan_id)
    rows: list[tuple[str, str, str, float]] = []
    spend_window: tuple[date, date] | None = None
    for step in saved.body["steps"]:
        if step["value"] is None:
            continue
        first, last = date.fromisoformat(step["from"]), date.fromisoformat(step["to"])
        if step["step"] == "spend":
            spend_window = (first, last)
        for month, value in spread_by_month(float(step["value"]), first, last).items():
            rows.append((step["step"], "all", month_label(month), value))
    for ch in saved.body["channels"]:
        spend = ch["spend"]["value"]
        if spend is None or spend_window is None:
            continue
        for month, value in spread_by_month(float(spend), *spend_window).items():
            rows.append(("spend", str(ch["channel"]), month_label(month), value))
    return rows
