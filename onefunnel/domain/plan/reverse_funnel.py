"""The reverse funnel: from a revenue target back to deals, handoffs, MQLs, leads and spend.

Each step divides by a rate measured over a trailing window:

    deals won          = revenue / average deal size
    handoffs accepted  = deals won / win rate (accepted handoffs whose deal was won)
    MQLs (handoffs)    = handoffs accepted / acceptance rate
    leads              = MQLs / MQL rate (handoffs per new lead)
    spend              = leads × cost per lead

Every rate comes with its sample size and a 90 % interval: a Jeffreys Beta(k + ½, n − k + ½)
interval for a share of n (``scipy.stats.beta``), a seeded bootstrap of the mean for the deal
size. The plan carries the intervals through: the fewest deals come from the largest deal
size, the fewest handoffs from the fewest deals and the best win rate, and so on, so each step
reads "between X and Y" (an unbounded end is None: the rate's interval reaches zero).

A rate of zero is a step that never converts: the plan says it cannot reach the target through
that step and why, and stops there, rather than dividing by zero.

Timing: the measured cycle lengths (median days from lead to MQL, MQL to decision, decision to
close) move each step's window back from the period, so the plan says when leads must arrive
for their deals to close in the period.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from scipy.stats import beta

from onefunnel.domain.plan.periods import PlanError

CONFIDENCE = 0.90
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 20260101
#: A channel with fewer MQLs or leads than this in the window uses the company-wide rate.
MIN_CHANNEL_SAMPLE = 20

STEPS = ("revenue", "deals_won", "handoffs_accepted", "mqls", "leads", "spend")


@dataclass(frozen=True, slots=True)
class Rate:
    """A share measured as ``successes`` of ``trials``, with its 90 % interval."""

    name: str
    successes: int
    trials: int

    def __post_init__(self) -> None:
        if self.trials < 0 or not 0 <= self.successes <= max(self.trials, 0):
            raise PlanError(f"{self.name}: {self.successes} of {self.trials} is not a share")

    @property
    def point(self) -> float:
        """successes / trials (0 without trials)."""
        return self.successes / self.trials if self.trials else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The Jeffreys interval (0, 0 without trials)."""
        if not self.trials:
            return 0.0, 0.0
        tail = (1 - CONFIDENCE) / 2
        a, b = self.successes + 0.5, self.trials - self.successes + 0.5
        low = 0.0 if self.successes == 0 else float(beta.ppf(tail, a, b))
        high = 1.0 if self.successes == self.trials else float(beta.ppf(1 - tail, a, b))
        return low, high


@dataclass(frozen=True, slots=True)
class DealSize:
    """The mean of won deals' amounts, with a bootstrap 90 % interval of the mean."""

    n: int
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, amounts: Sequence[float], *, seed: int = BOOTSTRAP_SEED) -> DealSize:
        """Measure from amounts (n = 0 gives a mean of 0)."""
        values = np.asarray(amounts, dtype=float)
        if values.size == 0:
            return cls(0, 0.0, 0.0, 0.0)
        rng = np.random.default_rng(seed)
        means = rng.choice(values, size=(BOOTSTRAP_SAMPLES, values.size)).mean(axis=1)
        tail = (1 - CONFIDENCE) / 2 * 100
        low, high = np.percentile(means, [tail, 100 - tail])
        return cls(int(values.size), float(values.mean()), float(low), float(high))


@dataclass(frozen=True, slots=True)
class FunnelRates:
    """What the plan divides by, measured over the trailing window, and the cycle lengths."""

    deal_size: DealSize
    win_rate: Rate
    acceptance_rate: Rate
    mql_rate: Rate
    spend: float  # in the window
    leads: int  # in the window
    days_lead_to_mql: float = 0.0
    days_mql_to_decision: float = 0.0
    days_decision_to_close: float = 0.0

    @property
    def cost_per_lead(self) -> float | None:
        """Spend per lead in the window (None without leads)."""
        return self.spend / self.leads if self.leads else None


@dataclass(frozen=True, slots=True)
class Estimate:
    """A planned quantity and its interval; an end of None is unbounded."""

    value: float
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the plan: how many (or how much), by which rate, and when it must happen.
    ``quantity`` is None when an earlier step cannot be reached."""

    name: str
    quantity: Estimate | None
    rate: str | None  # the rate this step was divided by (or multiplied, for spend)
    window_first: date
    window_last: date


@dataclass(frozen=True, slots=True)
class ChannelInput:
    """One channel's measurements in the window: its attributed share of MQLs, its own MQL
    rate (MQLs of its leads) and its spend and leads."""

    channel: str
    mql_share: float
    mql_rate: Rate
    spend: float
    leads: int


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """A channel's part of the plan, and where it uses the company-wide rate instead of its own."""

    channel: str
    mql_share: float
    mqls: Estimate
    leads: Estimate | None
    cost_per_lead: float | None
    spend: Estimate | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReversePlan:
    """The whole plan: its steps (revenue first), the channels, and its limits in words."""

    revenue: float
    period_first: date
    period_last: date
    steps: tuple[Step, ...]
    channels: tuple[ChannelPlan, ...]
    reachable: bool
    limits: tuple[str, ...] = field(default=())

    def step(self, name: str) -> Step:
        """The step of that name."""
        return next(s for s in self.steps if s.name == name)


def _divide(est: Estimate, rate_point: float, rate_low: float, rate_high: float) -> Estimate:
    low = None if est.low is None or rate_high <= 0 else est.low / rate_high
    high = None if est.high is None or rate_low <= 0 else est.high / rate_low
    return Estimate(est.value / rate_point, low, high)


def _times(est: Estimate, factor: float) -> Estimate:
    return Estimate(
        est.value * factor,
        None if est.low is None else est.low * factor,
        None if est.high is None else est.high * factor,
    )


def plan_backwards(
    revenue: float, period_first: date, period_last: date, rates: FunnelRates
) -> ReversePlan:
    """Work the funnel backwards from ``revenue`` (PlanError for a target that is not positive).

    Stops at the first step whose rate is zero or unmeasured, saying why; later steps are None.
    """
    if not math.isfinite(revenue) or revenue <= 0:
        raise PlanError("revenue: the target must be a positive amount")
    c3 = timedelta(days=round(rates.days_decision_to_close))
    c2 = c3 + timedelta(days=round(rates.days_mql_to_decision))
    c1 = c2 + timedelta(days=round(rates.days_lead_to_mql))
    windows = {
        "revenue": (period_first, period_last),
        "deals_won": (period_first, period_last),
        "handoffs_accepted": (period_first - c3, period_last - c3),
        "mqls": (period_first - c2, period_last - c2),
        "leads": (period_first - c1, period_last - c1),
        "spend": (period_first - c1, period_last - c1),
    }
    size = rates.deal_size
    limits: list[str] = []
    current: Estimate | None = Estimate(revenue, revenue, revenue)
    quantities: dict[str, Estimate | None] = {"revenue": current}
    divisions = (
        ("deals_won", "deal_size", None),
        ("handoffs_accepted", "win_rate", rates.win_rate),
        ("mqls", "acceptance_rate", rates.acceptance_rate),
        ("leads", "mql_rate", rates.mql_rate),
    )
    for step, rate_name, rate in divisions:
        if current is None:
            quantities[step] = None
            continue
        if rate is None:
            if size.n == 0 or size.mean <= 0:
                limits.append(
                    f"deals_won: cannot reach the target through deals: no won deal with an"
                    f" amount in the window (deal size measured on {size.n} deals)"
                )
                current = None
            else:
                current = _divide(current, size.mean, size.low, size.high)
        elif rate.trials == 0:
            limits.append(
                f"{step}: cannot reach the target through {step}: {rate_name} has no"
                " history in the window (0 measured)"
            )
            current = None
        elif rate.successes == 0:
            limits.append(
                f"{step}: cannot reach the target through {step}: {rate_name} is 0"
                f" ({rate.successes} of {rate.trials}), that step never converts"
            )
            current = None
        else:
            low, high = rate.interval
            current = _divide(current, rate.point, low, high)
        quantities[step] = current
    cpl = rates.cost_per_lead
    leads = quantities["leads"]
    if leads is None:
        quantities["spend"] = None
    elif cpl is None:
        limits.append("spend: no leads in the window, so no cost per lead to plan spend with")
        quantities["spend"] = None
    else:
        quantities["spend"] = _times(leads, cpl)
    steps = tuple(Step(name, quantities[name], _RATE_OF[name], *windows[name]) for name in STEPS)
    return ReversePlan(
        revenue,
        period_first,
        period_last,
        steps,
        (),
        reachable=quantities["leads"] is not None,
        limits=tuple(limits),
    )


_RATE_OF = {
    "revenue": None,
    "deals_won": "deal_size",
    "handoffs_accepted": "win_rate",
    "mqls": "acceptance_rate",
    "leads": "mql_rate",
    "spend": "cost_per_lead",
}


def simulate_forward(leads: float, rates: FunnelRates) -> float:
    """The revenue that ``leads`` bring at the same rates (the plan's inverse)."""
    return (
        leads
        * rates.mql_rate.point
        * rates.acceptance_rate.point
        * rates.win_rate.point
        * rates.deal_size.mean
    )


def split_by_channel(
    plan: ReversePlan, rates: FunnelRates, channels: Sequence[ChannelInput]
) -> ReversePlan:
    """The MQLs of the plan shared out by each channel's attributed share, then each
    channel's leads and spend from its own MQL rate and cost per lead — or, where it has fewer
    than ``MIN_CHANNEL_SAMPLE`` leads or no spend in the window, the company-wide ones, said
    in the channel's notes."""
    mqls = plan.step("mqls").quantity
    if mqls is None or not channels:
        return plan
    total_share = sum(c.mql_share for c in channels)
    if total_share <= 0:
        return plan
    company_cpl = rates.cost_per_lead
    out = []
    for ch in channels:
        notes: list[str] = []
        share = ch.mql_share / total_share
        ch_mqls = _times(mqls, share)
        rate = ch.mql_rate
        if rate.trials < MIN_CHANNEL_SAMPLE or rate.successes == 0:
            notes.append(
                f"mql_rate: {rate.successes} of {rate.trials} leads is too little history;"
                " uses the company-wide rate"
            )
            rate = rates.mql_rate
        low, high = rate.interval
        leads = _divide(ch_mqls, rate.point, low, high) if rate.point > 0 else None
        if ch.leads >= MIN_CHANNEL_SAMPLE and ch.spend > 0:
            cpl: float | None = ch.spend / ch.leads
        else:
            why = "no spend" if ch.spend <= 0 else f"{ch.leads} leads"
            notes.append(f"cost_per_lead: {why} in the window; uses the company-wide cost per lead")
            cpl = company_cpl
        spend = _times(leads, cpl) if leads is not None and cpl is not None else None
        out.append(ChannelPlan(ch.channel, share, ch_mqls, leads, cpl, spend, tuple(notes)))
    return ReversePlan(
        plan.revenue,
        plan.period_first,
        plan.period_last,
        plan.steps,
        tuple(out),
        plan.reachable,
        plan.limits,
    )


def spread_by_month(value: float, first: date, last: date) -> dict[date, float]:
    """``value`` shared over the months from ``first`` to ``last`` (both included) by the days
    of the window in each month: a step planned over 15 Dec – 14 Mar puts 17/90 in December."""
    if last < first:
        return {}
    days = (last - first).days + 1
    out: dict[date, float] = {}
    day = first
    while day <= last:
        month = day.replace(day=1)
        next_month = (month + timedelta(days=32)).replace(day=1)
        end = min(last, next_month - timedelta(days=1))
        out[month] = value * ((end - day).days + 1) / days
        day = end + timedelta(days=1)
    return out
