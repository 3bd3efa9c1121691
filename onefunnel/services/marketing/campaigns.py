"""Marketing's campaigns: create and edit them, record their spend (a month grid or the spend
CSV), and build the UTM links whose touches land on them — as the signed-in actor.

Every interface (the campaign pages, the API, the admin) calls these, so one set of rules
holds: ``campaign_rules`` (dates in order, budget not negative, spend only on the campaign's
days) and the rule book (``Action.EDIT_MARKETING``: marketing and admins).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Sum

from onefunnel.domain.access import Action, Actor
from onefunnel.domain.plan.periods import PlanError, add_months, month_label, parse_month
from onefunnel.domain.touches import Channel, Utm
from onefunnel.domain.tracking import EventType, TrackingEvent, channel_for_event
from onefunnel.domain.utm_links import SUGGESTED, UtmLink, UtmLinkError, build_link
from onefunnel.models import Campaign, CampaignBudget, Spend
from onefunnel.services import crm_records
from onefunnel.services.access import require
from onefunnel.services.crm_records import CampaignRecord
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.campaign_rules import check_spend_day
from onefunnel.services.spend import (
    SpendImportReport,
    SpendInput,
    SpendRecorded,
    check_amount,
    import_spend,
    record_spend,
)
from onefunnel.services.tracking import current_rules

#: A month grid covers at most this many months (a campaign of ten years is a typo).
MAX_GRID_MONTHS = 120


def create_campaign(actor: Actor, utm_campaign: str, fields: Mapping[str, Any]) -> CampaignRecord:
    """Create a planned campaign (InputError naming the field; AccessDeniedError unless the
    actor edits marketing's records)."""
    require(actor, Action.EDIT_MARKETING)
    return crm_records.create_campaign(utm_campaign, fields)


def update_campaign(actor: Actor, campaign_id: int, fields: Mapping[str, Any]) -> CampaignRecord:
    """Set the fields given, all or nothing (see ``create_campaign``)."""
    require(actor, Action.EDIT_MARKETING)
    return crm_records.update_campaign(campaign_id, fields)


def get_campaign(campaign_id: int) -> CampaignRecord:
    """One campaign; NotFoundError if there is none."""
    return crm_records.get_campaign(campaign_id)


def all_campaigns() -> list[CampaignRecord]:
    """Every campaign, by name."""
    return [CampaignRecord.of(c) for c in Campaign.objects.order_by("name", "id")]


@dataclass(frozen=True, slots=True)
class MonthSpend:
    """One month of a campaign: its budget line (if planned), its spend, and spend to date."""

    month: str
    budget: Decimal | None
    spent: Decimal
    to_date: Decimal
    in_campaign: bool


def _months(first: date, last: date) -> list[date]:
    months: list[date] = []
    month = first.replace(day=1)
    while month <= last and len(months) < MAX_GRID_MONTHS:
        months.append(month)
        month = add_months(month, 1)
    return months


def spend_by_month(campaign_id: int, *, today: date) -> tuple[MonthSpend, ...]:
    """The campaign's months (its dates, widened to any month with spend or a budget line;
    to today when it has no end) with budget, spend and cumulative spend."""
    campaign = crm_records.get_campaign(campaign_id)
    spent: dict[date, Decimal] = defaultdict(Decimal)
    for day, amount in Spend.objects.filter(campaign_id=campaign_id).values_list("day", "amount"):
        spent[day.replace(day=1)] += Decimal(str(amount))
    budgets: dict[date, Decimal] = defaultdict(Decimal)
    for month, amount in CampaignBudget.objects.filter(campaign_id=campaign_id).values_list(
        "month", "amount"
    ):
        budgets[month] += Decimal(str(amount))
    known = [*spent, *budgets]
    first = campaign.start_date or (min(known) if known else today)
    last = campaign.end_date or max([today, *known])
    first = min([first.replace(day=1), *known])
    last = max([last, *known])
    rows, total = [], Decimal(0)
    for month in _months(first, last):
        total += spent.get(month, Decimal(0))
        end = add_months(month, 1)
        inside = (campaign.start_date is None or campaign.start_date < end) and (
            campaign.end_date is None or campaign.end_date >= month
        )
        rows.append(MonthSpend(month_label(month), budgets.get(month), spent.get(month, Decimal(0)),
                               total, inside))  # fmt: skip
    return tuple(rows)


def set_month_spend(actor: Actor, campaign_id: int, month: str, amount: str) -> SpendRecorded:
    """Set a month's spend of the campaign (the month grid): the month's entries are replaced
    by one entry of ``amount`` on the month's first campaign day, in one transaction.
    InputError names ``month``, ``amount`` or ``date`` (a month outside the campaign)."""
    require(actor, Action.EDIT_MARKETING)
    try:
        first = parse_month(month, "month")
    except PlanError as exc:
        raise InputError(str(exc)) from None
    try:
        value = check_amount(Decimal(amount.replace(",", "").strip()))
    except (ArithmeticError, ValueError):
        raise InputError(f"amount: not a number: {amount[:40]!r}") from None
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise NotFoundError(f"id: no campaign #{campaign_id}")
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        day = max(first, campaign.start_date) if campaign.start_date else first
        if day > last:
            raise InputError(f"month: {month} is before campaign {campaign.utm_campaign!r} starts")
        try:
            check_spend_day(campaign, day)
        except InputError:
            raise InputError(
                f"month: {month} is after campaign {campaign.utm_campaign!r} ends"
            ) from None
        Spend.objects.filter(
            campaign=campaign, day__gte=first, day__lte=last, currency=campaign.currency
        ).exclude(day=day).delete()
        return record_spend(
            SpendInput(campaign.utm_campaign, day, value, currency=campaign.currency)
        )


def month_total(campaign_id: int, month: str) -> Decimal:
    """The campaign's spend in a ``YYYY-MM`` month."""
    first = parse_month(month, "month")
    total = Spend.objects.filter(
        campaign_id=campaign_id, day__gte=first, day__lt=add_months(first, 1)
    ).aggregate(s=Sum("amount"))["s"]
    return Decimal(str(total or 0))


def preview_spend_file(actor: Actor, path: Path) -> SpendImportReport:
    """What importing the spend CSV would do (``onefunnel import spend --dry-run``): the same
    code runs in a transaction that is rolled back."""
    require(actor, Action.EDIT_MARKETING)
    return import_spend(path, dry_run=True, rejects_path=path.with_suffix(".rejects.csv"))


def import_spend_file(actor: Actor, path: Path) -> SpendImportReport:
    """Import the spend CSV (``onefunnel import spend``): good rows written, bad ones listed."""
    require(actor, Action.EDIT_MARKETING)
    return import_spend(path, rejects_path=path.with_suffix(".rejects.csv"))


@dataclass(frozen=True, slots=True)
class CampaignLink:
    """A UTM link for a campaign and the channel its touches will be counted in."""

    link: UtmLink
    channel: str
    lands_on_campaign: bool


def suggested_tags(channel: str) -> tuple[str, str]:
    """A source and medium the default rules map to the channel (empty when there is none)."""
    try:
        return SUGGESTED.get(Channel(channel), ("", ""))
    except ValueError:
        return "", ""


def campaign_link(
    campaign_id: int, url: str, *, source: str, medium: str, content: str = "", term: str = ""
) -> CampaignLink:
    """A link carrying the campaign's UTM key, and the channel the tracking's own rules
    (``channel_for_event`` with the installation's ``ONEFUNNEL_UTM_CHANNELS``) will give its
    touches: ``lands_on_campaign`` is False when that channel is not the campaign's."""
    campaign = crm_records.get_campaign(campaign_id)
    try:
        link = build_link(url, source=source, medium=medium, campaign=campaign.utm_campaign,
                          content=content, term=term)  # fmt: skip
    except UtmLinkError as exc:
        raise InputError(str(exc)) from None
    event = TrackingEvent(
        type=EventType.PAGE, message_id="link", user_id=None, anonymous_id="link",
        timestamp=datetime.now(UTC), utm=Utm(source=link.source, medium=link.medium,
                                             campaign=link.campaign),
    )  # fmt: skip
    channel = channel_for_event(event, current_rules())
    return CampaignLink(link, channel.value, channel.value == campaign.channel)
