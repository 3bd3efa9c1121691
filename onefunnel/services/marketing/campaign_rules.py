"""What a campaign must hold to be saved, whoever saves it (the API, the pages, the admin, an
import): dates in order, a budget that is not negative, and spend only on the campaign's days.

Kept apart from the use cases (``services.marketing.campaigns``) so the lower-level writers —
``services.crm_records`` and ``services.spend`` — ask the same rules without an import circle.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from onefunnel.models import Campaign, Spend
from onefunnel.services.errors import InputError


def check_campaign(campaign: Campaign) -> None:
    """InputError naming the field when the campaign's dates or budget are wrong, or when its
    (new) dates would leave recorded spend outside them."""
    start, end = campaign.start_date, campaign.end_date
    if start and end and end < start:
        raise InputError(f"end_date: {end.isoformat()} is before start_date {start.isoformat()}")
    if campaign.budget is not None and Decimal(str(campaign.budget)) < 0:
        raise InputError("budget: must not be negative")
    if campaign.pk is None or (start is None and end is None):
        return
    spend = Spend.objects.filter(campaign_id=campaign.pk)
    if start is not None:
        early = spend.filter(day__lt=start).order_by("day").values_list("day", flat=True).first()
        if early is not None:
            raise InputError(
                f"start_date: spend is recorded on {early.isoformat()}, before "
                f"{start.isoformat()} (move or delete that spend first)"
            )
    if end is not None:
        late = spend.filter(day__gt=end).order_by("-day").values_list("day", flat=True).first()
        if late is not None:
            raise InputError(
                f"end_date: spend is recorded on {late.isoformat()}, after {end.isoformat()} "
                "(move or delete that spend first)"
            )


def check_spend_day(campaign: Campaign, day: date) -> None:
    """InputError on ``date`` when the day is outside the campaign's dates (open ends allowed)."""
    start, end = campaign.start_date, campaign.end_date
    if (start is not None and day < start) or (end is not None and day > end):
        runs = f"{start.isoformat() if start else '…'} to {end.isoformat() if end else '…'}"
        raise InputError(
            f"date: {day.isoformat()} is outside campaign {campaign.utm_campaign!r} ({runs})"
        )
