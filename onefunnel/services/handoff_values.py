"""What a lead cost and what it is expected to be worth, stored on its handoff.

**Cost** — campaign spend attributed to the lead's touches (``domain.lead_cost``): over the
period of ``COST_LOOKBACK_DAYS`` before the handoff, every lead handed off in it is a
conversion whose journey (its touches in the ``COST_LOOKBACK_DAYS`` before its latest handoff;
the lead priced: before now) the configured attribution model credits to campaigns; each
campaign's spend in the period is shared by its leads in proportion to that credit. A handed-off
lead's credit is worked out once and kept (``HandoffCredit``), so pricing does not grow with the
number of leads in the period. The model is the setting
``ONEFUNNEL_HANDOFF_COST_MODEL`` (position-based by default; ``even_split`` turns attribution
off). When the lead has no campaign touch in the period, or the setting names no usable model,
the cost is the **even split**: every campaign that touched the lead shares its spend equally
among all the leads (contacts) it touched within the campaign's dates, summed over the lead's
campaigns. Only what is known at the handoff counts (spend and touches up to then). The
handoff stores which method produced its cost.

**Expected value** — conversion probability × the average won new-business deal of the lead's
segment (its account's employee band; all segments when the band has no won deal). The
probability is the predictive model's when one is switched on; otherwise the historical rate at
which earlier handed-off contacts of the same score band (width 10) reached conversion,
smoothed toward the overall rate so that a band with few leads does not read as 0 % or 100 %.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    Exists,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)

from onefunnel.domain.deals import DealKind, DealStatus
from onefunnel.domain.intent import (
    EMPLOYEE_BANDS,
    UNKNOWN_BAND,
    employee_band,
    even_split_cost,
    expected_value,
    score_band,
    smoothed_rate,
)
from onefunnel.domain.lead_cost import (
    COST_LOOKBACK_DAYS,
    DEFAULT_COST_METHOD,
    EVEN_SPLIT,
    NO_CAMPAIGN,
    CostMethodError,
    journey_credit,
    parse_cost_method,
    share_of_spend,
)
from onefunnel.domain.stages import Stage
from onefunnel.models import (
    Campaign,
    Contact,
    Deal,
    Handoff,
    HandoffCredit,
    Spend,
    Touchpoint,
)
from onefunnel.services.scoring import predictive_on

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class LeadCost:
    """A lead's cost, the method that produced it (``even_split`` or an attribution model)
    and how, in words, for the handoff's explanation."""

    amount: Decimal
    method: str
    note: str


def cost_method() -> tuple[str, str | None]:
    """The configured cost method, and why the even split stands in when the setting names
    no usable model."""
    configured = getattr(settings, "ONEFUNNEL_HANDOFF_COST_MODEL", None) or DEFAULT_COST_METHOD
    try:
        return parse_cost_method(configured), None
    except CostMethodError as exc:
        return EVEN_SPLIT, str(exc)


def lead_cost(contact_id: int, at: datetime) -> LeadCost:
    """What the contact cost by ``at``: attributed spend, or the even split as the fallback."""
    method, problem = cost_method()
    if method != EVEN_SPLIT:
        attributed = _attributed_cost(contact_id, at, method)
        if attributed is not None:
            return attributed
        problem = f"no campaign touch in the {COST_LOOKBACK_DAYS} days before the handoff"
    amount = even_split_lead_cost(contact_id, at)
    why = f"; {problem}" if problem else ""
    return LeadCost(amount, EVEN_SPLIT, f"even split of campaign spend per lead{why}")


def _attributed_cost(contact_id: int, at: datetime, model: str) -> LeadCost | None:
    """The attributed cost, or None when the lead has no campaign touch in the period."""
    start = at - timedelta(days=COST_LOOKBACK_DAYS)
    touches = _touches_in([contact_id], start, at)
    path, ages = _journey(touches.get(contact_id, []), start, at)
    own = journey_credit(path, ages, model)
    campaigns = [label for label in own if label != NO_CAMPAIGN]
    if not campaigns:
        return None
    _keep_credits(start, at, model)
    # One journey per lead, to its latest handoff in the period (a reassigned or recycled lead
    # is one lead); the lead priced counts with its journey up to now instead.
    later = Handoff.objects.filter(
        contact_id=OuterRef("contact_id"),
        created_at__gt=OuterRef("handed_off_at"),
        created_at__lte=at,
    )
    others = (
        HandoffCredit.objects.filter(
            model=model, label__in=campaigns, handed_off_at__gte=start, handed_off_at__lte=at
        )
        .exclude(contact_id=contact_id)
        .exclude(Exists(later))
    )
    pool = dict(own)
    for label, credit in (
        others.values("label").annotate(total=Sum("credit")).values_list("label", "total")
    ):
        pool[label] += credit or 0.0
    leads = others.values("contact_id").distinct().count() + 1
    spend = {
        str(k): Decimal(v or 0)
        for k, v in Spend.objects.filter(
            campaign_id__in=campaigns, day__gte=start.date(), day__lte=at.date()
        )
        .values("campaign_id")
        .annotate(total=Sum("amount"))
        .values_list("campaign_id", "total")
    }
    note = (
        f"{model} attribution of {len(campaigns)} campaign(s)' spend over "
        f"{leads} lead(s) handed off in the {COST_LOOKBACK_DAYS} days before"
    )
    return LeadCost(share_of_spend(own, pool, spend), model, note)


_Touch = tuple[datetime, int | None]


def _touches_in(contacts: list[int], start: datetime, end: datetime) -> dict[int, list[_Touch]]:
    """Each contact's touches between ``start`` and ``end``, in time order, with campaigns."""
    rows = (
        Touchpoint.objects.filter(
            contact_id__in=contacts, occurred_at__gte=start, occurred_at__lte=end
        )
        .order_by("contact_id", "occurred_at", "pk")
        .values_list("contact_id", "occurred_at", "campaign_id")
    )
    touches: dict[int, list[_Touch]] = {}
    for contact, occurred_at, campaign in rows:
        touches.setdefault(contact, []).append((occurred_at, campaign))
    return touches


def _journey(
    touches: list[_Touch], start: datetime, end: datetime
) -> tuple[list[str], list[float]]:
    """The campaign labels of the touches from ``start`` to ``end``, with their ages at ``end``
    in days (time decay reads them)."""
    path: list[str] = []
    ages: list[float] = []
    for occurred_at, campaign in touches:
        if start <= occurred_at <= end:
            path.append(NO_CAMPAIGN if campaign is None else str(campaign))
            ages.append((end - occurred_at).total_seconds() / 86_400)
    return path, ages


# Handoffs whose credit is worked out per round of ``_keep_credits`` (bounds the SQL parameters).
_CREDIT_ROUND = 500


def _keep_credits(start: datetime, at: datetime, model: str) -> None:
    """Work out and keep the credit of every handoff of the period that has none under
    ``model`` yet: in steady state the few made since the last lead was priced; after the
    model is changed, every handoff of the period, once."""
    kept = HandoffCredit.objects.filter(handoff_id=OuterRef("pk"), model=model)
    missing = list(
        Handoff.objects.filter(created_at__gte=start, created_at__lte=at)
        .exclude(Exists(kept))
        .order_by("pk")
        .values_list("pk", "contact_id", "created_at")
    )
    lookback = timedelta(days=COST_LOOKBACK_DAYS)
    for first in range(0, len(missing), _CREDIT_ROUND):
        handoffs = missing[first : first + _CREDIT_ROUND]
        touches = _touches_in(
            sorted({contact for _, contact, _ in handoffs}),
            min(created for _, _, created in handoffs) - lookback,
            max(created for _, _, created in handoffs),
        )
        rows = []
        for pk, contact, created in handoffs:
            path, ages = _journey(touches.get(contact, []), created - lookback, created)
            credit = journey_credit(path, ages, model) or {"": 0.0}
            rows += [
                HandoffCredit(
                    handoff_id=pk,
                    contact_id=contact,
                    handed_off_at=created,
                    model=model,
                    label=label,
                    credit=value,
                )
                for label, value in credit.items()
            ]
        # Another process pricing a lead at the same time may keep the same credits first.
        HandoffCredit.objects.bulk_create(rows, ignore_conflicts=True)


def even_split_lead_cost(contact_id: int, at: datetime) -> Decimal:
    """The contact's even-split share of the spend of every campaign that touched it by ``at``."""
    campaigns = list(
        Touchpoint.objects.filter(
            contact_id=contact_id, campaign__isnull=False, occurred_at__lte=at
        )
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    if not campaigns:
        return Decimal("0.00")
    spend = dict(
        Spend.objects.filter(campaign_id__in=campaigns, day__lte=at.date())
        .values("campaign_id")
        .annotate(total=Sum("amount"))
        .values_list("campaign_id", "total")
    )
    # A touch is in its campaign's period when its UTC day is within the campaign's dates:
    # compared as a time range on occurred_at itself (a per-row date cast is a Python call
    # per touch on SQLite, seconds on the medium demo).
    in_period = Q()
    for pk, start, end in Campaign.objects.filter(pk__in=campaigns).values_list(
        "pk", "start_date", "end_date"
    ):
        period = Q(campaign_id=pk)
        if start is not None:
            period &= Q(occurred_at__gte=_midnight(start))
        if end is not None:
            period &= Q(occurred_at__lt=_midnight(end + timedelta(days=1)))
        in_period |= period
    leads = dict(
        Touchpoint.objects.filter(contact__isnull=False, occurred_at__lte=at)
        .filter(in_period)
        .values("campaign_id")
        .annotate(n=Count("contact_id", distinct=True))
        .values_list("campaign_id", "n")
    )
    return even_split_cost(
        [str(c) for c in campaigns],
        {str(k): Decimal(v or 0) for k, v in spend.items()},
        {str(k): int(v) for k, v in leads.items()},
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _band_case() -> Case:
    whens = [
        When(
            Q(account__employee_count__gte=low)
            & (Q() if high is None else Q(account__employee_count__lte=high)),
            then=Value(label),
        )
        for label, low, high in EMPLOYEE_BANDS
    ]
    return Case(*whens, default=Value(UNKNOWN_BAND), output_field=CharField())


_shared: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar(
    "onefunnel_handoff_statistics", default=None
)


@contextmanager
def shared_statistics() -> Iterator[None]:
    """Within the block, the statistics behind expected values — each score band's historical
    rate (per day of the handoff) and each segment's average deal — are worked out once and
    reused.

    For a turn of the tracking processor, which may open dozens of handoffs in one transaction:
    each query reads every earlier handoff (or won deal), so repeating it per handoff made the
    turn's cost grow with the square of the history. The figures are those of the first
    handoff of the turn, so a later one does not count the turn's own earlier handoffs.
    """
    token = _shared.set({})
    try:
        yield
    finally:
        _shared.reset(token)


def _once(key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
    cache = _shared.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cast(_T, cache[key])


def average_deal(band: str) -> Decimal:
    """The average won new-business deal of a segment, or of all segments when it has none."""
    return _once(("deal", band), lambda: _average_deal(band))


def _average_deal(band: str) -> Decimal:
    won = Deal.objects.filter(kind=DealKind.NEW_BUSINESS, status=DealStatus.WON)
    by_band = dict(
        won.annotate(band=_band_case())
        .values("band")
        .annotate(avg=Avg("amount"))
        .values_list("band", "avg")
    )
    value = by_band.get(band)
    if value is None:
        value = won.aggregate(avg=Avg("amount"))["avg"]
    return Decimal(value or 0).quantize(Decimal("0.01"))


def historical_rate(score: Decimal | float | None, at: datetime) -> float:
    """How often contacts handed off before ``at`` with a score in the same band converted."""
    band = None if score is None else score_band(float(score))
    return _once(("rate", band, at.date()), lambda: _historical_rate(score, at))


def _historical_rate(score: Decimal | float | None, at: datetime) -> float:
    earlier = Handoff.objects.filter(created_at__lt=at)
    converted = Q(contact__stage_changes__to_stage=Stage.CONVERSION)

    def counts(handoffs: object) -> tuple[int, int]:
        result = handoffs.aggregate(  # type: ignore[attr-defined]
            total=Count("contact_id", distinct=True),
            won=Count("contact_id", distinct=True, filter=converted),
        )
        return int(result["won"]), int(result["total"])

    won_all, total_all = counts(earlier)
    prior = won_all / total_all if total_all else 0.0
    if score is None:
        return prior
    band = score_band(float(score))
    won, total = counts(earlier.filter(score__gte=band * 10, score__lt=(band + 1) * 10))
    return smoothed_rate(won, total, prior)


@dataclass(frozen=True, slots=True)
class LeadValue:
    """A lead's expected value and how it was found."""

    probability: float
    average_deal: Decimal
    band: str
    expected_value: Decimal
    source: str


def lead_value(contact: Contact, score: Decimal | None, at: datetime) -> LeadValue:
    """Expected value of a contact handed off at ``at`` with ``score``."""
    employees = contact.account.employee_count if contact.account_id and contact.account else None
    band = employee_band(employees)
    predicted = None
    if predictive_on():
        from onefunnel.services.predictive_scoring import probability_for

        predicted = probability_for(contact.pk, at)
    if predicted is not None:
        probability, source = predicted, "predictive model"
    else:
        probability, source = historical_rate(score, at), "historical rate of the score band"
    deal = average_deal(band)
    return LeadValue(probability, deal, band, expected_value(probability, deal), source)
