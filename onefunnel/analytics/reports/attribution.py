"""The attribution report: credit for conversions and revenue, by channel or campaign."""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from onefunnel.analytics.dimensions import NONE_LABEL, choose
from onefunnel.analytics.engines import Engine
from onefunnel.analytics.period import Period
from onefunnel.analytics.segment_filter import SegmentFilter, accounts_in, segment_params
from onefunnel.analytics.table import Table, Value
from onefunnel.domain.attribution import (
    DEFAULT_HALF_LIFE,
    AttributionInputError,
    AttributionModel,
    GroupedJourneys,
    parse_models,
    run_models,
)
from onefunnel.services.errors import InputError

DEFAULT_LOOKBACK_DAYS = 90
DEFAULT_MODEL = "linear"
# by → the label of a touch (touch `t`, its campaign `c`); the label last-non-direct skips.
_LABELS: dict[str, tuple[str, str]] = {
    "channel": ("t.channel", "direct"),
    "campaign": (f"COALESCE(c.utm_campaign, '{NONE_LABEL}')", NONE_LABEL),
}
DIMENSIONS = tuple(_LABELS)
COLUMNS = ("model", "conversions", "revenue")


@dataclass(frozen=True, slots=True)
class Journeys:
    """The journeys one query gathered, as the domain models read them."""

    grouped: GroupedJourneys | None
    converting: int
    non_converting: int
    #: Each journey's account, in path order (the records behind a credit).
    account_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class AttributionQuery:
    """Credit each account's first won new-business deal to the touches that led to it.

    The intuition: a B2B purchase is made by an account, after many touches by several of its
    people. So a *journey* is an account's touches, in time order, within ``lookback_days``
    before its conversion — the close of its first won new-business deal, whose amount is the
    revenue to credit. Accounts that did not convert by the period's end contribute
    *non-converting* journeys (their touches within the lookback window before the period's
    end): the Markov model needs to know which paths did not lead anywhere.

    One query reads every journey's touches — label, age in seconds, whether the journey
    converted and its revenue — in journey and time order; they are cut into paths with numpy
    (no window concatenating texts: on SQLite that cost a sort and a copy of the whole path per
    touch, 2 s for the large demo's half-million touches) and the pure models in
    ``onefunnel.domain.attribution`` split the credit. Every model's credits add up to the
    conversions (and revenue) of the journeys that have at least one touch in their window; a
    conversion with no touch there is counted in neither.

    Conversions count when the deal closed in the period.
    """

    period: Period
    by: str | None = "channel"
    models: str = DEFAULT_MODEL
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    half_life_days: float = DEFAULT_HALF_LIFE
    markov_order: int = 1
    segment: SegmentFilter | None = None

    def __post_init__(self) -> None:
        if self.lookback_days < 1:
            raise InputError("lookback_days: must be at least 1")
        if not self.half_life_days > 0:
            raise InputError("half_life: must be positive")
        if not 1 <= self.markov_order <= 4:
            raise InputError("order: the Markov order is between 1 and 4")
        try:
            parse_models(self.models)
        except AttributionInputError as exc:
            raise InputError(f"model: {exc}") from None

    @property
    def dimension(self) -> str:
        """The label touches are credited to: channel (default) or campaign."""
        return choose(self.by, _LABELS, "attribution") or "channel"

    @property
    def needs_ages(self) -> bool:
        """Whether a chosen model reads the touches' ages (only time decay does)."""
        return AttributionModel.time_decay in parse_models(self.models)

    @property
    def needs_non_converting(self) -> bool:
        """Whether a chosen model reads the journeys that did not convert (only Markov does)."""
        return AttributionModel.markov in parse_models(self.models)

    def sql(self, *, non_converting: bool = True) -> str:
        """The report's one query, in portable SQL (see engines.py).

        ``non_converting=False`` leaves out the journeys that did not convert: they earn no
        credit under any model but Markov, and only list their labels with zero credit.
        """
        label, _direct = _LABELS[self.dimension]
        # Ages cost a time conversion per touch: only when a model reads them.
        age = ", j.end_s - EPOCH_SECONDS(t.occurred_at) AS age_s" if self.needs_ages else ""
        others = (
            """
  UNION ALL
  SELECT a.id AS account_id, :end_s AS end_s, 0 AS converted,
         CAST(0 AS DOUBLE PRECISION) AS revenue
  FROM onefunnel_account AS a
  LEFT JOIN first_win AS fw ON fw.account_id = a.id AND fw.closed_at < :period_end
  WHERE fw.account_id IS NULL"""
            if non_converting
            else ""
        )
        # The window in seconds, [end - lookback, end], is turned into a range of occurred_at
        # itself, so the (account, occurred_at) index reads just the journey's touches.
        return f"""
WITH wins AS (
  SELECT d.account_id, d.closed_at, CAST(d.amount AS DOUBLE PRECISION) AS amount,
         ROW_NUMBER() OVER (PARTITION BY d.account_id ORDER BY d.closed_at, d.id) AS rn
  FROM onefunnel_deal AS d
  WHERE d.kind = 'new_business' AND d.status = 'won' AND d.closed_at IS NOT NULL
),
first_win AS (
  SELECT w.account_id, w.closed_at, w.amount FROM wins AS w WHERE w.rn = 1
),
journeys AS (
  SELECT fw.account_id, EPOCH_SECONDS(fw.closed_at) AS end_s, 1 AS converted,
         fw.amount AS revenue
  FROM first_win AS fw
  WHERE fw.closed_at >= :period_start AND fw.closed_at < :period_end{others}
),
windows AS (
  SELECT j.account_id, j.end_s, j.converted, j.revenue,
         TIMESTAMP_OF(j.end_s - :lookback_s) AS from_at, TIMESTAMP_OF(j.end_s + 1) AS until_at
  FROM journeys AS j
  WHERE 1 = 1{accounts_in(self.segment, "j.account_id")}
)
SELECT j.account_id, j.converted, j.revenue, {label} AS label{age}
FROM windows AS j
JOIN onefunnel_touchpoint AS t
  ON t.account_id = j.account_id AND t.occurred_at >= j.from_at AND t.occurred_at < j.until_at
LEFT JOIN onefunnel_campaign AS c ON c.id = t.campaign_id
ORDER BY j.account_id, t.occurred_at, t.id
"""

    def journeys(self, engine: Engine, *, non_converting: bool = True) -> Journeys:
        """Run the query and hand back the journeys, ready for the models (the touches' ages
        only when a model reads them).

        The query returns one row per touch, each journey's touches together and in order;
        numpy cuts them into paths where the account changes (`GroupedJourneys` is this very
        flat layout), with no Python work per touch beyond reading the rows.
        """
        params = {
            **self.period.params(),
            "lookback_s": self.lookback_days * 86400,
            **segment_params(self.segment),
        }
        rows = engine.fetch(self.sql(non_converting=non_converting), params)
        if not rows:
            return Journeys(None, 0, 0)
        account = np.fromiter(map(itemgetter(0), rows), np.int64, len(rows))
        starts = np.flatnonzero(np.concatenate(([True], account[1:] != account[:-1])))
        offsets = np.append(starts, len(account)).astype(np.int64)
        firsts = [rows[i] for i in starts.tolist()]
        converted = np.array([_number(row[1]) for row in firsts], dtype=np.float64)
        revenue = np.array([_number(row[2]) for row in firsts], dtype=np.float64)
        labels = list(map(itemgetter(3), rows))
        channels = tuple(dict.fromkeys(labels))
        ids = {name: i for i, name in enumerate(channels)}
        ages = (
            np.fromiter(map(itemgetter(4), rows), np.float64, len(rows)) / 86400
            if self.needs_ages
            else None
        )
        grouped = GroupedJourneys(
            channels=tuple(str(name) for name in channels),
            touch_channels=np.fromiter(map(ids.__getitem__, labels), np.int64, len(labels)),
            offsets=offsets,
            conversions=converted,
            nulls=1.0 - converted,
            values=revenue * converted,
            touch_ages_days=ages,
        )
        n_converting = int(converted.sum())
        accounts = tuple(int(a) for a in account[starts].tolist())
        return Journeys(grouped, n_converting, len(firsts) - n_converting, accounts)

    def credits(
        self, engine: Engine, *, credited_only: bool = False, journeys: Journeys | None = None
    ) -> dict[str, dict[str, tuple[float, float]]]:
        """model → label → (conversions, revenue) credited.

        ``credited_only=True`` is for callers that read only the credit: labels seen only on
        journeys that did not convert may then be missing instead of listed with zero (their
        journeys are not read unless the Markov model needs them). ``journeys``: this query's
        journeys (all of them), when the caller has already read them.
        """
        if journeys is None:
            journeys = self.journeys(
                engine, non_converting=not credited_only or self.needs_non_converting
            )
        out: dict[str, dict[str, tuple[float, float]]] = {
            m.value: {} for m in parse_models(self.models)
        }
        if journeys.grouped is None or journeys.converting == 0:
            return out
        _label, direct = _LABELS[self.dimension]
        for credit in run_models(
            journeys.grouped,
            self.models,
            order=self.markov_order,
            half_life=self.half_life_days,
            direct_channel=direct,
        ):
            out[credit.model.value][credit.channel] = (credit.conversions, credit.value or 0.0)
        return out

    def run(self, engine: Engine) -> Table:
        """One row per model and label, the most credited revenue first within a model."""
        rows = []
        for model, by_label in self.credits(engine).items():
            ranked = sorted(by_label.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
            rows += [(model, label, conv, rev) for label, (conv, rev) in ranked]
        return Table.of(("model", self.dimension, "conversions", "revenue"), rows)


def _number(value: Value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"expected a number in the journeys query, got {value!r}")
