"""Customer health: an explained score per account, its churn risk and value at risk, and the
expansion signals that suggest an upsell or cross-sell.

The score starts from a base (50) and each signal adds or removes points, one line each, like
the lead score's explanation:

* **engagement by team** — touches from the account's people in the last 30 days, per team
  (marketing, sales, account management), with diminishing returns; a 30-day rate far below
  the 90-day rate is a *fading* line;
* **product usage** — tracked events the configuration marks as usage (by event name), their
  level over 30 days and their trend against the 90-day rate;
* **support** — ``support_ticket`` touches in the last 90 days;
* **renewal** — days to the renewal date when no renewal deal is open yet inside the window,
  and the open renewal deal's stage probability;
* **payment** — the contract's payment status (late, failed).

The points are rounded to tenths; when the sum would leave [0, 100] a last "capped" line brings
it back, so the lines always sum exactly to the score and the score always lies in [0, 100].
Churn risk is ``1 − score/100``; **value at risk** = annual contract value × risk.

Pure: plain dataclasses in and out; the weights are data (a versioned configuration).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from onefunnel.domain.contracts import PaymentStatus

HUNDRED = Decimal(100)
TENTH = Decimal("0.1")
TEAMS = ("marketing", "sales", "account_management")


class HealthConfigError(ValueError):
    """A health configuration that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """The weights of the health score and the events that count as product usage."""

    usage_events: tuple[str, ...] = ("Feature Used", "Report Run", "Login")
    base: float = 50.0
    engagement_points: Mapping[str, float] = field(
        default_factory=lambda: {"marketing": 5.0, "sales": 5.0, "account_management": 10.0}
    )
    engagement_scale: float = 4.0  # touches in 30 days at which a team gives ~63 % of its points
    no_engagement_points: float = -15.0
    fading_points: float = -10.0  # 30-day rate below half the 90-day rate
    usage_points: float = 20.0
    usage_scale: float = 20.0  # usage events in 30 days at which usage gives ~63 %
    no_usage_points: float = -20.0
    usage_drop_points: float = -10.0  # 30-day usage below half the 90-day rate
    support_ticket_points: float = -4.0  # per ticket in the last 90 days
    support_cap: float = -20.0
    renewal_window_days: int = 60  # renewal this close with no open renewal deal
    renewal_unattended_points: float = -5.0
    renewal_deal_points: float = 10.0  # × (probability − 50) / 50 of the open renewal deal
    payment_points: Mapping[str, float] = field(
        default_factory=lambda: {"current": 0.0, "late": -10.0, "failed": -25.0}
    )

    def as_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready data (what is stored as a version)."""
        return {
            "usage_events": list(self.usage_events),
            "base": self.base,
            "engagement_points": dict(self.engagement_points),
            "engagement_scale": self.engagement_scale,
            "no_engagement_points": self.no_engagement_points,
            "fading_points": self.fading_points,
            "usage_points": self.usage_points,
            "usage_scale": self.usage_scale,
            "no_usage_points": self.no_usage_points,
            "usage_drop_points": self.usage_drop_points,
            "support_ticket_points": self.support_ticket_points,
            "support_cap": self.support_cap,
            "renewal_window_days": self.renewal_window_days,
            "renewal_unattended_points": self.renewal_unattended_points,
            "renewal_deal_points": self.renewal_deal_points,
            "payment_points": dict(self.payment_points),
        }


_NUMBERS = (
    "base",
    "engagement_scale",
    "no_engagement_points",
    "fading_points",
    "usage_points",
    "usage_scale",
    "no_usage_points",
    "usage_drop_points",
    "support_ticket_points",
    "support_cap",
    "renewal_unattended_points",
    "renewal_deal_points",
)


def _number(value: object, loc: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HealthConfigError(f"{loc}: must be a number")
    if abs(value) > 1000:
        raise HealthConfigError(f"{loc}: must be between -1000 and 1000")
    if positive and value <= 0:
        raise HealthConfigError(f"{loc}: must be positive")
    return float(value)


def parse_health_config(data: object) -> HealthConfig:
    """A HealthConfig from JSON data (missing keys keep their defaults); HealthConfigError
    naming the first bad field."""
    if not isinstance(data, Mapping):
        raise HealthConfigError("config: must be an object")
    default = HealthConfig()
    known = set(default.as_dict())
    unknown = sorted(set(data) - known)
    if unknown:
        raise HealthConfigError(f"{unknown[0]}: unknown setting")
    values: dict[str, Any] = {}
    if "usage_events" in data:
        events = data["usage_events"]
        if not isinstance(events, list) or not all(
            isinstance(e, str) and e.strip() and len(e) <= 200 for e in events
        ):
            raise HealthConfigError("usage_events: must be a list of event names")
        values["usage_events"] = tuple(e.strip() for e in events)
    for name in _NUMBERS:
        if name in data:
            positive = name in ("engagement_scale", "usage_scale")
            values[name] = _number(data[name], name, positive=positive)
    if "renewal_window_days" in data:
        days = data["renewal_window_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
            raise HealthConfigError("renewal_window_days: must be a whole number 0–3650")
        values["renewal_window_days"] = days
    for name, keys in (("engagement_points", TEAMS), ("payment_points", tuple(PaymentStatus))):
        if name in data:
            raw = data[name]
            if not isinstance(raw, Mapping):
                raise HealthConfigError(f"{name}: must be an object")
            merged = dict(getattr(default, name))
            for key, value in raw.items():
                if key not in keys:
                    raise HealthConfigError(f"{name}.{key}: unknown key (one of {', '.join(keys)})")
                merged[key] = _number(value, f"{name}.{key}")
            values[name] = merged
    return HealthConfig(**values)


@dataclass(frozen=True, slots=True)
class HealthSignals:
    """What is known about a customer account on a day (counts over trailing windows)."""

    engagement_30: Mapping[str, int]  # team → touches in the last 30 days
    engagement_90: Mapping[str, int]  # team → touches in the last 90 days
    usage_30: int
    usage_90: int
    support_tickets_90: int
    days_to_renewal: int | None  # None: no active contract with a renewal date
    renewal_deal_probability: int | None  # open renewal deal's stage probability, percent
    renewal_deal_stage: str | None
    payment_status: PaymentStatus = PaymentStatus.CURRENT


@dataclass(frozen=True, slots=True)
class HealthLine:
    """One line of the explanation: ``-8.0 2 support tickets in 90 days``."""

    points: Decimal
    reason: str
    signal: str


@dataclass(frozen=True, slots=True)
class Health:
    """An account's health on a day; ``lines`` sum exactly to ``score`` ∈ [0, 100]."""

    score: Decimal
    lines: tuple[HealthLine, ...]

    @property
    def risk(self) -> float:
        """Churn risk in [0, 1]: the share of health missing."""
        return float((HUNDRED - self.score) / HUNDRED)


def _tenths(value: float) -> Decimal:
    return Decimal(round(value * 10)).scaleb(-1)


def _saturating(count: int, scale: float) -> float:
    return 1.0 - math.exp(-max(count, 0) / scale)


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith(("ch", "s")) else f"{n} {word}s"


def health_score(signals: HealthSignals, config: HealthConfig = HealthConfig()) -> Health:
    """The explained health score of one account (see the module docstring)."""
    lines: list[HealthLine] = [HealthLine(_tenths(config.base), "base", "base")]

    def add(points: float, reason: str, signal: str) -> None:
        value = _tenths(points)
        if value != 0:
            lines.append(HealthLine(value, reason, signal))

    total_30 = sum(max(v, 0) for v in signals.engagement_30.values())
    total_90 = sum(max(v, 0) for v in signals.engagement_90.values())
    for team in TEAMS:
        n = signals.engagement_30.get(team, 0)
        if n > 0:
            weight = config.engagement_points.get(team, 0.0)
            points = weight * _saturating(n, config.engagement_scale)
            add(points, f"{_plural(n, 'touch')} with {team.replace('_', ' ')} in 30 days",
                "engagement")  # fmt: skip
    if total_30 == 0:
        add(config.no_engagement_points, "no engagement in 30 days", "engagement")
    elif total_90 > 0 and total_30 * 3 < total_90 * 0.5:
        add(config.fading_points, f"engagement fading: {total_30} in 30 days, {total_90} in 90",
            "engagement")  # fmt: skip
    if signals.usage_30 > 0:
        add(config.usage_points * _saturating(signals.usage_30, config.usage_scale),
            f"{_plural(signals.usage_30, 'usage event')} in 30 days", "usage")  # fmt: skip
        if signals.usage_90 > 0 and signals.usage_30 * 3 < signals.usage_90 * 0.5:
            add(config.usage_drop_points,
                f"usage dropping: {signals.usage_30} in 30 days, {signals.usage_90} in 90",
                "usage")  # fmt: skip
    else:
        add(config.no_usage_points, "no product usage in 30 days", "usage")
    if signals.support_tickets_90 > 0:
        points = max(config.support_ticket_points * signals.support_tickets_90, config.support_cap)
        add(points, f"{_plural(signals.support_tickets_90, 'support ticket')} in 90 days",
            "support")  # fmt: skip
    if signals.renewal_deal_probability is not None:
        p = max(0, min(100, signals.renewal_deal_probability))
        stage = signals.renewal_deal_stage or "open"
        add(config.renewal_deal_points * (p - 50) / 50,
            f"renewal deal at {stage} ({p} %)", "renewal")  # fmt: skip
    elif (
        signals.days_to_renewal is not None
        and signals.days_to_renewal <= config.renewal_window_days
    ):
        add(config.renewal_unattended_points,
            f"renewal in {signals.days_to_renewal} days with no open renewal deal",
            "renewal")  # fmt: skip
    payment = config.payment_points.get(signals.payment_status.value, 0.0)
    add(payment, f"payment {signals.payment_status.value}", "payment")
    total = sum((line.points for line in lines), Decimal(0))
    if total > HUNDRED:
        lines.append(HealthLine(HUNDRED - total, "capped at 100", "cap"))
    elif total < 0:
        lines.append(HealthLine(-total, "capped at 0", "cap"))
    score = sum((line.points for line in lines), Decimal(0))
    return Health(score=score, lines=tuple(lines))


def value_at_risk(annual_value: Decimal, health: Health) -> Decimal:
    """Annual contract value × churn risk, to the cent."""
    return (annual_value * (HUNDRED - health.score) / HUNDRED).quantize(Decimal("0.01"))


def auc(scores_negative: Sequence[float], scores_positive: Sequence[float]) -> float | None:
    """The probability that a random positive scores above a random negative (ties count
    half): the ROC AUC, by the Mann–Whitney statistic. None if either side is empty."""
    if not scores_negative or not scores_positive:
        return None
    ranked = sorted(
        [(s, 0) for s in scores_negative] + [(s, 1) for s in scores_positive],
        key=lambda pair: pair[0],
    )
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2
        rank_sum += mean_rank * sum(1 for k in range(i, j) if ranked[k][1] == 1)
        i = j
    n_pos, n_neg = len(scores_positive), len(scores_negative)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


# ------------------------------------------------------------------------------- expansion


class ExpansionSignal(StrEnum):
    """What suggests that a customer would buy more."""

    USAGE_ABOVE_PLAN = "usage_above_plan"
    NEW_CONTACTS_ENGAGING = "new_contacts_engaging"
    INTENT_ON_OTHER_PRODUCT = "intent_on_other_product"


@dataclass(frozen=True, slots=True)
class ExpansionFacts:
    """What is known about a customer account for expansion, over the last 30 days."""

    usage_30: int
    plan_usage: int | None  # monthly usage included in the contracts (None: unlimited)
    new_contacts_engaging: Sequence[str]  # contacts first seen in 30 days who engaged
    contracted_products: frozenset[str]
    intent_products: Mapping[str, int]  # product named on intent touches → count


@dataclass(frozen=True, slots=True)
class ExpansionSuggestion:
    """A suggestion for the account manager: the deal kind, the signal and its evidence."""

    signal: ExpansionSignal
    deal_kind: str  # "upsell" or "cross_sell"
    product: str | None
    evidence: str


def expansion_suggestions(facts: ExpansionFacts) -> tuple[ExpansionSuggestion, ...]:
    """The expansion suggestions the facts support, strongest evidence first per signal:

    * usage over the contracted plan → upsell (more of the same);
    * new contacts engaging from the account → upsell (more seats, more teams);
    * intent touches naming a product the account does not have → cross-sell of it.
    """
    out: list[ExpansionSuggestion] = []
    if facts.plan_usage is not None and facts.usage_30 > facts.plan_usage:
        share = facts.usage_30 / facts.plan_usage if facts.plan_usage else math.inf
        above = "above" if math.isinf(share) else f"{share:.0%} of"
        out.append(
            ExpansionSuggestion(
                ExpansionSignal.USAGE_ABOVE_PLAN,
                "upsell",
                None,
                f"{facts.usage_30} usage events in 30 days, {above} the plan's"
                f" {facts.plan_usage} a month",
            )
        )
    if facts.new_contacts_engaging:
        names = sorted(facts.new_contacts_engaging)
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        out.append(
            ExpansionSuggestion(
                ExpansionSignal.NEW_CONTACTS_ENGAGING,
                "upsell",
                None,
                f"{_plural(len(names), 'new contact')} engaging in 30 days: {shown}",
            )
        )
    for product, n in sorted(facts.intent_products.items(), key=lambda kv: (-kv[1], kv[0])):
        if product in facts.contracted_products or n <= 0:
            continue
        out.append(
            ExpansionSuggestion(
                ExpansionSignal.INTENT_ON_OTHER_PRODUCT,
                "cross_sell",
                product,
                f"{_plural(n, 'intent touch')} on {product} in 30 days (not under contract)",
            )
        )
    return tuple(out)


def days_between(first: date, last: date) -> int:
    """Whole days from one day to another (negative when ``last`` is earlier)."""
    return (last - first).days
