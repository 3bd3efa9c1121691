"""Marketing's budgets: planned spend per month and channel — a campaign's, or a plan's channel
line written by the reverse funnel and then adjusted — with goals, beside the actual spend."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.plan.periods import add_months, month_label, parse_month
from onefunnel.models import Campaign, CampaignBudget, Plan, Spend
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.plan.common import parse_decimal, plan_errors
from onefunnel.services.spend import parse_channel


@dataclass(frozen=True, slots=True)
class BudgetInput:
    """One budget line as given: a campaign's month, or a plan's channel and month."""

    month: str
    amount: str | float | Decimal
    campaign: str | None = None
    channel: str | None = None
    plan_id: int | None = None
    goal_leads: int | None = None
    goal_mqls: int | None = None
    goal_pipeline: str | float | Decimal | None = None


def _goal(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if not 0 <= value < 2**31:
        raise InputError(f"{field}: between 0 and {2**31 - 1}")
    return value


@plan_errors
def set_budget(actor: Actor, entry: BudgetInput) -> dict[str, Any]:
    """Create or replace one budget line (marketing's to edit); returns it with actual spend."""
    require(actor, Action.EDIT_MARKETING)
    month = parse_month(entry.month, "month")
    amount = parse_decimal(entry.amount, "amount")
    pipeline = (
        None if entry.goal_pipeline is None else parse_decimal(entry.goal_pipeline, "goal_pipeline")
    )
    goals = {
        "goal_leads": _goal(entry.goal_leads, "goal_leads"),
        "goal_mqls": _goal(entry.goal_mqls, "goal_mqls"),
        "goal_pipeline": pipeline,
    }
    with transaction.atomic():
        if entry.campaign:
            if entry.plan_id is not None:
                raise InputError("plan: a campaign's budget belongs to no plan")
            campaign = Campaign.objects.filter(utm_campaign=entry.campaign.strip()).first()
            if campaign is None:
                raise NotFoundError(f"campaign: no campaign {entry.campaign!r}")
            if entry.channel and parse_channel(entry.channel).value != campaign.channel:
                raise InputError(f"channel: campaign {campaign.utm_campaign} runs on"
                                 f" {campaign.channel}")  # fmt: skip
            budget, _ = CampaignBudget.objects.update_or_create(
                campaign=campaign,
                month=month,
                defaults={"channel": campaign.channel, "amount": amount, "plan": None,
                          "set_by_id": actor.user_id, "set_at": timezone.now(), **goals},
            )  # fmt: skip
        else:
            if not entry.channel or entry.plan_id is None:
                raise InputError("campaign: name a campaign, or a plan and a channel")
            channel = parse_channel(entry.channel)
            if not Plan.objects.filter(pk=entry.plan_id).exists():
                raise NotFoundError(f"plan: no plan #{entry.plan_id}")
            budget, _ = CampaignBudget.objects.update_or_create(
                plan_id=entry.plan_id,
                campaign=None,
                month=month,
                channel=channel.value,
                defaults={"amount": amount, "set_by_id": actor.user_id,
                          "set_at": timezone.now(), **goals},
            )  # fmt: skip
    return next(r for r in list_budgets(month=month_label(month)) if r["id"] == budget.pk)


@plan_errors
def list_budgets(*, month: str | None = None, plan_id: int | None = None) -> list[dict[str, Any]]:
    """Budget lines with the actual spend beside them: the campaign's in the month, or — for a
    plan's channel line — the channel's in the month."""
    qs = CampaignBudget.objects.select_related("campaign").order_by("month", "channel", "id")
    if month:
        qs = qs.filter(month=parse_month(month, "month"))
    if plan_id is not None:
        qs = qs.filter(plan_id=plan_id)
    budgets = list(qs)
    if not budgets:
        return []
    first = min(b.month for b in budgets)
    end = add_months(max(b.month for b in budgets), 1)
    by_campaign: dict[tuple[int, date], float] = defaultdict(float)
    by_channel: dict[tuple[str, date], float] = defaultdict(float)
    rows = (
        Spend.objects.filter(day__gte=first, day__lt=end)
        .values_list("campaign_id", "campaign__channel", "day")
        .annotate(s=Sum("amount"))
    )
    for campaign_id, channel, day, amount in rows:
        value = float(str(amount or 0))
        by_campaign[(campaign_id, day.replace(day=1))] += value
        by_channel[(channel, day.replace(day=1))] += value
    out = []
    for b in budgets:
        actual = (
            by_campaign[(b.campaign_id, b.month)]
            if b.campaign_id is not None
            else by_channel[(b.channel, b.month)]
        )
        planned = float(str(b.amount))
        out.append(
            {
                "id": b.pk,
                "month": month_label(b.month),
                "channel": b.channel,
                "campaign": b.campaign.utm_campaign if b.campaign else None,
                "plan_id": b.plan_id,
                "planned": planned,
                "actual": round(actual, 2),
                "attainment": round(actual / planned, 4) if planned else None,
                "goal_leads": b.goal_leads,
                "goal_mqls": b.goal_mqls,
                "goal_pipeline": None if b.goal_pipeline is None else float(str(b.goal_pipeline)),
            }
        )
    return out
