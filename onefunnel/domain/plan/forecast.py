"""The revenue forecast: closed won plus the open pipeline weighted by probability, by expected
close month, with the forecast categories reps set; and its walk-forward backtest.

Two ways to weight an open deal:

* **stage** — the probability a rep gave the deal, else its pipeline stage's default;
* **history** — the measured win rate of deals of the same kind that were, at the same age,
  in the same pipeline stage: of the deals closed before the forecast date that were still
  open at this deal's age (30-day age band) and stood then in the stage this deal stands in
  now (read from the deal history), the share of their *amount* that was won. Where fewer
  than ``MIN_SAMPLE`` deals match it falls back step by step: the kind and stage at any age,
  the kind and age band at any stage, the kind, then all deals (a deal without history knows
  no stage and starts at the kind and age). A deal that has survived long has already escaped
  the early losses, and one that has reached negotiation is likelier to win than one still in
  qualification, so both tell its chances; the share is of amounts, not of deals, because the
  forecast is of revenue and large deals are lost more often than small ones (on the medium
  demo, lost new business averages 62,000 against 41,000 won). Only what was known on the
  forecast date is used: deals closed before it, and stages entered up to it.

Both add the **run rate** of deals that are created and won within the same month — which no
pipeline on the first day of the month can contain: the mean of the last three months'
such revenue, known on the forecast date.

The **backtest** walks forward over history: for each month, it forecasts from what was known
on the month's first day (deals created before it, still open then; win rates from deals closed
before it) and compares with the revenue that closed in the month. The naive baseline says
"this month brings what last month brought". Errors are the MAPE (mean of |forecast − actual|
/ actual) and the bias (mean of (forecast − actual) / actual: above zero forecasts too much)
over the months with revenue.

What "known on the first day" includes: a deal's stage then, from its history (``stages``);
its amount and expected close are read as stored today, and the stage method weighs a deal by
the stage a caller's ``probability_at`` gives.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from onefunnel.domain.plan.periods import add_months, month_start

AGE_BAND_DAYS = 30
MIN_SAMPLE = 10
RUN_RATE_MONTHS = 3


class ForecastCategory(StrEnum):
    """How sure the rep is of a deal this period; ``omitted`` leaves it out of the forecast."""

    COMMIT = "commit"
    BEST_CASE = "best_case"
    PIPELINE = "pipeline"
    OMITTED = "omitted"


class ForecastMethod(StrEnum):
    """How open deals are weighted."""

    STAGE = "stage"
    HISTORY = "history"


@dataclass(frozen=True, slots=True)
class DealFacts:
    """A deal as the forecast sees it. ``won`` is None while open; ``stage_probability`` is
    0..1 (the manual probability, else the stage's default)."""

    id: int
    kind: str
    amount: float
    created_at: datetime
    closed_at: datetime | None = None
    won: bool | None = None
    expected_close: date | None = None
    stage_probability: float = 0.0
    category: ForecastCategory = ForecastCategory.PIPELINE
    # The pipeline stages the deal entered, (time, stage id) in time order (its history).
    stages: tuple[tuple[datetime, int], ...] = ()
    owner_id: int | None = None

    def stage_at(self, when: datetime) -> int | None:
        """The stage the deal stood in at ``when`` by its history (None: no history then)."""
        i = bisect_right(self.stages, when, key=lambda entry: entry[0])
        return self.stages[i - 1][1] if i else None

    def open_at(self, when: datetime) -> bool:
        """True if the deal existed and was not yet closed at ``when``."""
        return self.created_at < when and (self.closed_at is None or self.closed_at >= when)

    def age_days(self, when: datetime) -> float:
        """Days since the deal was created."""
        return (when - self.created_at).total_seconds() / 86400


def month_start_utc(month: date) -> datetime:
    """Midnight UTC on the first day of ``month``'s month."""
    first = month_start(month)
    return datetime(first.year, first.month, 1, tzinfo=UTC)


ANY = -1  # a key part that matches every stage or every age band


@dataclass(frozen=True, slots=True)
class WinRates:
    """Win rates learnt from closed deals, by (kind, stage, age band); ``ANY`` in a place
    matches every stage or band, and kind ``"*"`` every deal."""

    # key → (won amount, amount, deals)
    counts: dict[tuple[str, int, int], tuple[float, float, int]]

    def rate(self, kind: str, age_days: float, stage: int | None = None) -> float:
        """The measured win rate (by amount) of a ``kind`` deal open at ``age_days`` in
        ``stage`` (0 without history): the most specific key with enough deals."""
        band = max(int(age_days // AGE_BAND_DAYS), 0)
        keys = [(kind, ANY, band), (kind, ANY, ANY), ("*", ANY, ANY)]
        if stage is not None:
            keys = [(kind, stage, band), (kind, stage, ANY), *keys]
        for key in keys:
            won, total, n = self.counts.get(key, (0.0, 0.0, 0))
            if (n >= MIN_SAMPLE or (key[0] == "*" and n > 0)) and total > 0:
                return won / total
        return 0.0


def win_rates(deals: Iterable[DealFacts], as_of: datetime) -> WinRates:
    """Learn win rates by kind, stage and age band from the deals closed before ``as_of``."""
    closed = [d for d in deals if d.closed_at is not None and d.closed_at < as_of]
    counts: dict[tuple[str, int, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    band_days = timedelta(days=AGE_BAND_DAYS)
    for d in closed:
        assert d.closed_at is not None
        won = d.amount if d.won else 0.0
        lived = (d.closed_at - d.created_at).total_seconds() / 86400
        # The deal was open at the start of every band up to its close, in the stage its
        # history shows then.
        keys: set[tuple[str, int, int]] = {(d.kind, ANY, ANY), ("*", ANY, ANY)}
        for band in range(int(lived // AGE_BAND_DAYS) + 1):
            keys.add((d.kind, ANY, band))
            stage = d.stage_at(d.created_at + band * band_days) if d.stages else None
            if stage is not None:
                keys.update({(d.kind, stage, band), (d.kind, stage, ANY)})
        for key in keys:
            counts[key][0] += won
            counts[key][1] += d.amount
            counts[key][2] += 1
    return WinRates({k: (v[0], v[1], int(v[2])) for k, v in counts.items()})


def revenue_by_month(
    deals: Iterable[DealFacts], before: datetime | None = None
) -> dict[date, float]:
    """Won amounts by the month they closed (only closes before ``before`` when given)."""
    out: dict[date, float] = defaultdict(float)
    for d in deals:
        if d.won and d.closed_at is not None and (before is None or d.closed_at < before):
            out[month_start(d.closed_at.date())] += d.amount
    return dict(out)


def run_rate(deals: Iterable[DealFacts], as_of: datetime) -> float:
    """Mean monthly revenue of deals created and won within one month, over the
    ``RUN_RATE_MONTHS`` full months before ``as_of`` (all known at ``as_of``)."""
    first = month_start(as_of.date())
    months = [add_months(first, -i) for i in range(1, RUN_RATE_MONTHS + 1)]
    total = 0.0
    for d in deals:
        if d.won and d.closed_at is not None and d.closed_at < month_start_utc(first):
            m = month_start(d.closed_at.date())
            if m in months and month_start(d.created_at.date()) == m:
                total += d.amount
    return total / RUN_RATE_MONTHS


def close_month(deal: DealFacts, as_of: datetime) -> date:
    """The month an open deal is expected to close: its expected close, or the month of
    ``as_of`` when that date has already passed (a slipped deal is due now)."""
    current = month_start(as_of.date())
    if deal.expected_close is None:
        return current
    return max(month_start(deal.expected_close), current)


@dataclass(frozen=True, slots=True)
class ForecastLine:
    """One month of a forecast: won so far, the open pipeline per category (unweighted), the
    weighted open pipeline (omitted deals left out), the run rate of deals not yet created,
    and the forecast itself (won + weighted + run rate)."""

    month: date
    won: float
    commit: float
    best_case: float
    pipeline: float
    omitted: float
    weighted: float
    run_rate: float
    forecast: float
    deals: int


def probability(
    deal: DealFacts, method: ForecastMethod, rates: WinRates | None, as_of: datetime
) -> float:
    """The weight of an open deal under a method."""
    if method is ForecastMethod.STAGE or rates is None:
        return deal.stage_probability
    return rates.rate(deal.kind, deal.age_days(as_of), deal.stage_at(as_of))


def forecast(
    deals: Sequence[DealFacts],
    months: Sequence[date],
    *,
    as_of: datetime,
    method: ForecastMethod,
    include: Callable[[DealFacts], bool] | None = None,
    rates: WinRates | None = None,
) -> list[ForecastLine]:
    """The forecast of each month as of ``as_of``: closed won before ``as_of`` in the month,
    plus open deals weighted by the method, plus the run rate for months not yet begun (and
    the remaining share of the current one). With ``include``, the forecast of those deals
    only (a rep's, a team's), weighed by the win rates learnt from all of ``deals`` — or
    ``rates``, when the caller has learnt them from the same deals and ``as_of`` already (one
    forecast per rep would otherwise learn them once per rep)."""
    if method is not ForecastMethod.HISTORY:
        rates = None
    elif rates is None:
        rates = win_rates(deals, as_of)
    if include is not None:
        deals = [d for d in deals if include(d)]
    rr = run_rate(deals, as_of)
    won = revenue_by_month(deals, before=as_of)
    lines = []
    for month in (month_start(m) for m in months):
        cats: dict[ForecastCategory, float] = defaultdict(float)
        weighted, count = 0.0, 0
        for d in deals:
            if not d.open_at(as_of) or close_month(d, as_of) != month:
                continue
            count += 1
            cats[d.category] += d.amount
            if d.category is not ForecastCategory.OMITTED:
                weighted += d.amount * probability(d, method, rates, as_of)
        start, end = month_start_utc(month), month_start_utc(add_months(month, 1))
        remaining = max(0.0, min(1.0, (end - max(start, as_of)) / (end - start)))
        share = rr * remaining
        closed = won.get(month, 0.0)
        lines.append(
            ForecastLine(
                month=month,
                won=closed,
                commit=cats[ForecastCategory.COMMIT],
                best_case=cats[ForecastCategory.BEST_CASE],
                pipeline=cats[ForecastCategory.PIPELINE],
                omitted=cats[ForecastCategory.OMITTED],
                weighted=weighted,
                run_rate=share,
                forecast=closed + weighted + share,
                deals=count,
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class DealBehind:
    """A deal behind one cell of a forecast month: ``measure`` is the column (``won``, a
    category — ``commit``, ``best_case``, ``pipeline``, ``omitted`` —, ``weighted`` or
    ``deals``) and ``amount`` what the deal adds to it (its weighted amount under
    ``weighted``)."""

    deal_id: int
    month: date
    measure: str
    amount: float


def deals_behind(
    deals: Sequence[DealFacts],
    months: Sequence[date],
    *,
    as_of: datetime,
    method: ForecastMethod,
    include: Callable[[DealFacts], bool] | None = None,
) -> list[DealBehind]:
    """The deals behind ``forecast``'s won, category, weighted and deal-count cells, by the
    same rules: summed per month and measure they are its numbers (run rate and forecast are
    estimates, not deals)."""
    rates = win_rates(deals, as_of) if method is ForecastMethod.HISTORY else None
    chosen = [d for d in deals if include is None or include(d)]
    wanted = {month_start(m) for m in months}
    out: list[DealBehind] = []
    for d in chosen:
        if d.won and d.closed_at is not None and d.closed_at < as_of:
            month = month_start(d.closed_at.date())
            if month in wanted:
                out.append(DealBehind(d.id, month, "won", d.amount))
        if not d.open_at(as_of) or close_month(d, as_of) not in wanted:
            continue
        month = close_month(d, as_of)
        out.append(DealBehind(d.id, month, "deals", d.amount))
        out.append(DealBehind(d.id, month, d.category.value, d.amount))
        if d.category is not ForecastCategory.OMITTED:
            weight = probability(d, method, rates, as_of)
            out.append(DealBehind(d.id, month, "weighted", d.amount * weight))
    return out


@dataclass(frozen=True, slots=True)
class BacktestMonth:
    """One month of the backtest: what closed, and what each forecast said on its first day."""

    month: date
    actual: float
    stage: float
    history: float
    naive: float


@dataclass(frozen=True, slots=True)
class ForecastError:
    """A forecast's errors over the backtest months with revenue (None with no such month)."""

    name: str
    mape: float | None
    bias: float | None
    months: int


@dataclass(frozen=True, slots=True)
class Backtest:
    """The backtest's months, the errors of each forecast, and the default method: the most
    accurate forecast that beats the naive baseline (the lower MAPE when neither does)."""

    months: tuple[BacktestMonth, ...]
    errors: tuple[ForecastError, ...]
    default: ForecastMethod
    beats_baseline: bool


def errors(name: str, pairs: Iterable[tuple[float, float]]) -> ForecastError:
    """MAPE and bias of (forecast, actual) pairs, over pairs with a positive actual."""
    used = [(f, a) for f, a in pairs if a > 0]
    if not used:
        return ForecastError(name, None, None, 0)
    mape = sum(abs(f - a) / a for f, a in used) / len(used)
    bias = sum((f - a) / a for f, a in used) / len(used)
    return ForecastError(name, mape, bias, len(used))


def backtest(
    deals: Sequence[DealFacts],
    months: Sequence[date],
    *,
    probability_at: Callable[[DealFacts, datetime], float] | None = None,
) -> Backtest:
    """Walk forward over ``months``: forecast each from its first day, compare with what closed.

    ``probability_at(deal, t)`` gives the stage method's weight of a deal at ``t`` (default:
    the deal's ``stage_probability`` — its current stage, all that is recorded today).
    """
    actual = revenue_by_month(deals)
    rows = []
    for month in (month_start(m) for m in months):
        t = month_start_utc(month)
        known = [
            d if probability_at is None else _with_probability(d, probability_at(d, t))
            for d in deals
            if d.created_at < t
        ]
        stage = forecast(known, [month], as_of=t, method=ForecastMethod.STAGE)[0].forecast
        history = forecast(known, [month], as_of=t, method=ForecastMethod.HISTORY)[0].forecast
        naive = actual.get(add_months(month, -1), 0.0)
        rows.append(BacktestMonth(month, actual.get(month, 0.0), stage, history, naive))
    errs = (
        errors("stage", ((r.stage, r.actual) for r in rows)),
        errors("history", ((r.history, r.actual) for r in rows)),
        errors("naive", ((r.naive, r.actual) for r in rows)),
    )
    return Backtest(tuple(rows), errs, *_default(errs))


def _with_probability(deal: DealFacts, p: float) -> DealFacts:
    return replace(deal, stage_probability=p)


def _default(errs: tuple[ForecastError, ...]) -> tuple[ForecastMethod, bool]:
    by_name = {e.name: e.mape for e in errs}
    naive = by_name["naive"]
    scored = [
        (mape, ForecastMethod(name))
        for name, mape in by_name.items()
        if name != "naive" and mape is not None
    ]
    if not scored:
        return ForecastMethod.STAGE, False
    best_mape, best = min(scored)
    return best, naive is None or best_mape < naive


def backtest_months(
    deals: Iterable[DealFacts], last_full_month: date, warmup: int = 3
) -> list[date]:
    """The months to backtest: from ``warmup`` months after the first deal was created to
    ``last_full_month`` (so each forecast has some history to learn from)."""
    created = [d.created_at for d in deals]
    if not created:
        return []
    first = add_months(month_start(min(created).date()), warmup)
    out, m = [], first
    while m <= month_start(last_full_month):
        out.append(m)
        m = add_months(m, 1)
    return out
