"""The full rescore, vectorised: every contact's score in one numpy pass over all touches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from onefunnel.domain.scoring.contact import _decimal, _utc, fit_lines
from onefunnel.domain.scoring.incremental import ScoreState
from onefunnel.domain.scoring.model import ScoringModel
from onefunnel.domain.scoring.rules import Profile, ScoringError

_MICROSECOND = datetime.resolution


@dataclass(frozen=True)
class TouchColumns:
    """All touches as columns: the index of the touch's contact in the profile list, its kind,
    and when it happened (numpy ``datetime64`` in UTC)."""

    contact_index: npt.NDArray[np.integer[Any]]
    kind: npt.NDArray[Any] | Sequence[str]
    occurred_at: npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class ScoreBatch:
    """Scores of many contacts (arrays aligned with the profiles), rounded to 0.1 like
    ``score_contact``; ``engagement_value`` seeds each contact's ``ScoreState``."""

    fit: npt.NDArray[np.float64]
    engagement: npt.NDArray[np.float64]
    total: npt.NDArray[np.float64]
    engagement_value: npt.NDArray[np.float64]
    as_of: datetime
    model_version: int

    def state(self, i: int) -> ScoreState:
        """The incremental state of contact ``i``."""
        return ScoreState(
            _decimal(round(float(self.fit[i]) * 10)),
            float(self.engagement_value[i]),
            self.as_of,
            self.model_version,
        )

    def total_of(self, i: int) -> Decimal:
        """Contact ``i``'s total as an exact Decimal."""
        return _decimal(round(float(self.total[i]) * 10))


def _fail(loc: str, msg: str) -> ScoringError:
    return ScoringError(f"{loc}: {msg}")


def score_many(
    profiles: Sequence[Profile], touches: TouchColumns, model: ScoringModel, now: datetime
) -> ScoreBatch:
    """Score every contact at once (the full rescore). Equal to ``score_contact`` per contact,
    up to float summation order in the engagement sum."""
    moment = _utc("now", now)
    n = len(profiles)
    index = np.asarray(touches.contact_index)
    times = np.asarray(touches.occurred_at)
    kinds = np.asarray(touches.kind)
    if not (len(index) == len(times) == len(kinds)):
        raise _fail("touches", "contact_index, kind and occurred_at differ in length")
    if len(index) and (index.dtype.kind not in "iu" or index.min() < 0 or index.max() >= n):
        raise _fail("touches.contact_index", f"expected integers in [0, {n})")
    if times.dtype.kind != "M":
        raise _fail("touches.occurred_at", f"expected datetime64 values, got {times.dtype}")
    micros = times.astype("datetime64[us]").astype(np.int64)
    if len(micros) and np.isnat(times).any():
        raise _fail("touches.occurred_at", "contains NaT")

    fit_tenths = np.fromiter(
        (sum(int(line.points * 10) for line in fit_lines(p, model)) for p in profiles),
        dtype=np.int64,
        count=n,
    )
    unique_kinds, kind_codes = np.unique(kinds, return_inverse=True)
    kind_points = np.array([float(model.points_for(str(k))) for k in unique_kinds])
    now_micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND
    age_seconds = np.maximum(now_micros - micros, 0) / 1e6
    decayed = kind_points[kind_codes.reshape(-1)] * np.exp2(-age_seconds * model._decay_rate)
    engagement_value = np.bincount(index, weights=decayed, minlength=n).astype(np.float64)
    engagement_tenths = np.rint(engagement_value * 10)
    return ScoreBatch(
        fit=fit_tenths / 10,
        engagement=engagement_tenths / 10,
        total=(fit_tenths + engagement_tenths) / 10,
        engagement_value=engagement_value,
        as_of=moment,
        model_version=model.version,
    )
