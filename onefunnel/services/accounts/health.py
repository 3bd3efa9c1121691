"""Customer health: each customer account's explained score, the churn-risk list sorted by
value at risk, and the versioned health configuration (usage events and weights).

Signals are read set-based — one grouped query per signal for every account at once — and
scored by ``domain.health``; a read of one account runs the same queries for that account.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, Q, Value, When

from onefunnel.analytics.cache import cached, this_minute
from onefunnel.domain.access import Action, Actor
from onefunnel.domain.contracts import BillingPeriod, ContractStatus, PaymentStatus, annual_value
from onefunnel.domain.deals import DealKind, DealStatus
from onefunnel.domain.health import (
    Health,
    HealthConfig,
    HealthConfigError,
    HealthSignals,
    health_score,
    parse_health_config,
    value_at_risk,
)
from onefunnel.domain.stages import CUSTOMER_STAGES
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Account, Contract, Deal, Touchpoint
from onefunnel.models import HealthConfig as HealthConfigRow
from onefunnel.services.access import require
from onefunnel.services.accounts.contracts import money
from onefunnel.services.accounts.renewals import visible_account_ids
from onefunnel.services.config_versions import (
    ConfigVersion,
    InvalidConfigError,
    current_config,
    store_config,
)
from onefunnel.services.errors import InputError, NotFoundError

DEFAULT_VERSION = 1
_PAYMENT_ORDER = {PaymentStatus.CURRENT: 0, PaymentStatus.LATE: 1, PaymentStatus.FAILED: 2}


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """One account's health on a day, explained, with its churn risk and value at risk."""

    account_id: int
    account: str
    owner: str | None
    stage: str | None
    score: Decimal
    risk: float
    annual_value: Decimal
    value_at_risk: Decimal
    currency: str
    lines: tuple[dict[str, Any], ...]
    as_of: date
    config_version: int


def health_config() -> ConfigVersion:
    """The health configuration in force (the built-in default, version 1, until one is saved)."""
    return current_config(
        HealthConfigRow,
        lambda: ConfigVersion(DEFAULT_VERSION, HealthConfig().as_dict(), "default", None),
    )


def save_health_config(actor: Actor, data: object, *, note: str = "") -> ConfigVersion:
    """Store a new version of the health configuration (admins configure)."""
    require(actor, Action.CONFIGURE)
    try:
        parsed = parse_health_config(data)
    except HealthConfigError as exc:
        loc, _, msg = str(exc).partition(": ")
        raise InvalidConfigError([(loc, msg)]) from None
    return store_config(
        HealthConfigRow,
        lambda _version: parsed.as_dict(),
        default_version=DEFAULT_VERSION,
        note=note,
        actor_id=actor.user_id,
        now=None,
    )


def _config() -> tuple[HealthConfig, int]:
    version = health_config()
    return parse_health_config(version.config), version.version


def customer_accounts() -> Any:
    """Accounts that are customers: in a customer stage, or with an active contract."""
    return Account.objects.filter(
        Q(stage__in=[s.value for s in CUSTOMER_STAGES])
        | Q(contracts__status=ContractStatus.ACTIVE.value)
    ).distinct()


def signals_for(
    account_ids: Iterable[int], as_of: datetime, config: HealthConfig
) -> dict[int, HealthSignals]:
    """Every account's health signals at ``as_of``, from grouped queries (set-based)."""
    ids = list(account_ids)
    day = as_of.date()
    d30, d90 = as_of - timedelta(days=30), as_of - timedelta(days=90)
    window = Touchpoint.objects.filter(
        account_id__in=ids, occurred_at__gte=d90, occurred_at__lt=as_of
    )
    usage_q = (
        Q(properties__event__in=list(config.usage_events)) if config.usage_events else Q(pk=None)
    )
    support_q = Q(kind=TouchKind.SUPPORT_TICKET.value)
    recent = Q(occurred_at__gte=d30)
    eng30: dict[int, dict[str, int]] = defaultdict(dict)
    eng90: dict[int, dict[str, int]] = defaultdict(dict)
    usage: dict[int, tuple[int, int]] = {}
    support: dict[int, int] = defaultdict(int)
    # One pass over the window, each touch marked usage or not and support ticket or not (a
    # support ticket may name a usage event too: it counts for both, and is no engagement).
    # A touch without an event name is no usage (its lookup is NULL, and so is the IN).
    for row in (
        window.annotate(
            is_usage=Case(When(usage_q, then=Value(True)), default=Value(False)),
            is_support=Case(When(support_q, then=Value(True)), default=Value(False)),
        )
        .values("account_id", "team", "is_usage", "is_support")
        .annotate(n90=Count("id"), n30=Count("id", filter=recent))
    ):
        account_id, n30, n90 = row["account_id"], row["n30"], row["n90"]
        if row["is_usage"]:
            was30, was90 = usage.get(account_id, (0, 0))
            usage[account_id] = (was30 + n30, was90 + n90)
        if row["is_support"]:
            support[account_id] += n90
        if not row["is_usage"] and not row["is_support"]:
            eng30[account_id][row["team"]] = eng30[account_id].get(row["team"], 0) + n30
            eng90[account_id][row["team"]] = eng90[account_id].get(row["team"], 0) + n90
    renewal: dict[int, date] = {}
    payment: dict[int, PaymentStatus] = {}
    for account_id, renews, pay in Contract.objects.filter(
        account_id__in=ids, status=ContractStatus.ACTIVE.value, start_date__lte=day
    ).values_list("account_id", "renewal_date", "payment_status"):
        if account_id not in renewal or renews < renewal[account_id]:
            renewal[account_id] = renews
        status = PaymentStatus(pay)
        if _PAYMENT_ORDER[status] > _PAYMENT_ORDER[payment.get(account_id, PaymentStatus.CURRENT)]:
            payment[account_id] = status
        payment.setdefault(account_id, status)
    deals: dict[int, tuple[int, str]] = {}
    for account_id, probability, default_p, stage in (
        Deal.objects.filter(
            account_id__in=ids,
            kind=DealKind.RENEWAL.value,
            created_at__lt=as_of,
        )
        .filter(Q(status=DealStatus.OPEN.value) | Q(closed_at__gte=as_of))
        .order_by("created_at")
        .values_list(
            "account_id", "probability", "pipeline_stage__probability", "pipeline_stage__name"
        )
    ):
        deals.setdefault(account_id, (probability if probability is not None else default_p, stage))
    out = {}
    for account_id in ids:
        used = usage.get(account_id, (0, 0))
        deal = deals.get(account_id)
        renews_on = renewal.get(account_id)
        out[account_id] = HealthSignals(
            engagement_30=eng30.get(account_id, {}),
            engagement_90=eng90.get(account_id, {}),
            usage_30=used[0],
            usage_90=used[1],
            support_tickets_90=support.get(account_id, 0),
            days_to_renewal=(renews_on - day).days if renews_on is not None else None,
            renewal_deal_probability=deal[0] if deal else None,
            renewal_deal_stage=deal[1] if deal else None,
            payment_status=payment.get(account_id, PaymentStatus.CURRENT),
        )
    return out


def _values(account_ids: Iterable[int], day: date) -> dict[int, tuple[Decimal, str]]:
    """Annual contract value (and currency) of each account's contracts running on ``day``."""
    out: dict[int, tuple[Decimal, str]] = {}
    for account_id, amount, period, currency in Contract.objects.filter(
        account_id__in=list(account_ids),
        status__in=[ContractStatus.ACTIVE.value, ContractStatus.RENEWED.value],
        start_date__lte=day,
        end_date__gte=day,
    ).values_list("account_id", "amount", "billing_period", "currency"):
        value = annual_value(money(amount), BillingPeriod(period))
        before, _ = out.get(account_id, (Decimal(0), currency))
        out[account_id] = (before + value, currency)
    return out


def _health_rows(accounts: list[Account], as_of: datetime) -> list[AccountHealth]:
    config, version = _config()
    signals = signals_for([a.pk for a in accounts], as_of, config)
    values = _values([a.pk for a in accounts], as_of.date())
    rows = []
    for account in accounts:
        health: Health = health_score(signals[account.pk], config)
        value, currency = values.get(account.pk, (Decimal(0), ""))
        owner = account.owner
        rows.append(
            AccountHealth(
                account_id=account.pk,
                account=account.name,
                owner=owner.get_username() if owner is not None else None,
                stage=account.stage,
                score=health.score,
                risk=round(health.risk, 4),
                annual_value=value,
                value_at_risk=value_at_risk(value, health),
                currency=currency,
                lines=tuple(
                    {"points": float(line.points), "reason": line.reason, "signal": line.signal}
                    for line in health.lines
                ),
                as_of=as_of.date(),
                config_version=version,
            )
        )
    return rows


def _moment(as_of: date | None, now: datetime | None) -> datetime:
    """The moment health is read at: ``now``, the end of ``as_of``, or (neither) the end of
    the current minute, so a result can be kept for the minute (``analytics.cache``)."""
    if as_of is None:
        return now or this_minute()
    from datetime import UTC, time

    return datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC)


def account_health(
    actor: Actor, account_id: int, *, as_of: date | None = None, now: datetime | None = None
) -> AccountHealth:
    """One account's explained health (every role reads the shared record)."""
    account = Account.objects.select_related("owner").filter(pk=account_id).first()
    if account is None:
        raise NotFoundError(f"account_id: no account #{account_id}")
    require(actor, Action.READ)
    return _health_rows([account], _moment(as_of, now))[0]


def churn_risk(
    actor: Actor,
    *,
    limit: int = 50,
    as_of: date | None = None,
    now: datetime | None = None,
) -> list[AccountHealth]:
    """Customer accounts by value at risk (annual contract value × churn risk), largest first;
    an account manager sees their own accounts, marketing, leadership and admins all."""
    if not 1 <= limit <= 10_000:
        raise InputError("limit: must be between 1 and 10000")
    visible = visible_account_ids(actor)
    moment = _moment(as_of, now)
    present = () if as_of is None and now is None else None
    rows = cached("churn_risk", (moment,), lambda: _all_by_risk(moment), present=present)
    if visible is not None:
        rows = [r for r in rows if r.account_id in visible]
    return rows[:limit]


def _all_by_risk(moment: datetime) -> list[AccountHealth]:
    """Every customer's health by value at risk: the same for every reader, so computed once
    and kept (per minute, until the data changes); each reader keeps the accounts they see."""
    rows = _health_rows(list(customer_accounts().select_related("owner").order_by("id")), moment)
    rows.sort(key=lambda r: (-r.value_at_risk, r.score, r.account_id))
    return rows


@dataclass(frozen=True, slots=True)
class HealthValidation:
    """How well health ranked renewals above churn: health ``days_before`` each finished
    term's end, for terms that renewed and terms that ended unrenewed, and the ROC AUC (the
    chance a renewed account scored higher than a churned one; 0.5 is no better than chance)."""

    days_before: int
    renewed: int
    churned: int
    mean_health_renewed: float | None
    mean_health_churned: float | None
    auc: float | None


def validate_health(*, days_before: int = 60) -> HealthValidation:
    """Score every finished contract term's account ``days_before`` its end with the health
    configuration in force, and measure how well the score separates renewed from churned."""
    from onefunnel.domain.health import auc

    if not 0 <= days_before <= 3650:
        raise InputError("days_before: must be between 0 and 3650")
    config, _version = _config()
    terms = Contract.objects.filter(
        status__in=[ContractStatus.RENEWED.value, ContractStatus.ENDED.value]
    ).values_list("account_id", "end_date", "status")
    by_day: dict[date, list[tuple[int, str]]] = defaultdict(list)
    for account_id, end, status in terms:
        by_day[end - timedelta(days=days_before)].append((account_id, status))
    renewed: list[float] = []
    churned: list[float] = []
    for day, rows in sorted(by_day.items()):
        moment = _moment(day, None)
        signals = signals_for({a for a, _ in rows}, moment, config)
        for account_id, status in rows:
            score = float(health_score(signals[account_id], config).score)
            (renewed if status == ContractStatus.RENEWED.value else churned).append(score)

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 2) if values else None

    value = auc(churned, renewed)
    return HealthValidation(
        days_before=days_before,
        renewed=len(renewed),
        churned=len(churned),
        mean_health_renewed=mean(renewed),
        mean_health_churned=mean(churned),
        auc=round(value, 4) if value is not None else None,
    )
