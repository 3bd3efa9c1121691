"""Incremental scoring: the stored state that makes a touch's update O(1)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from onefunnel.domain.scoring.contact import Touch, _decimal, _tenths, _utc, fit_lines
from onefunnel.domain.scoring.model import ScoringModel
from onefunnel.domain.scoring.rules import Profile, StaleScoreError


@dataclass(frozen=True)
class ScoreState:
    """What the service stores per contact to update a score in O(1) when a touch arrives:
    the fit points and the raw (unrounded) engagement sum at the reference time ``as_of``."""

    fit: Decimal
    engagement_value: float
    as_of: datetime
    model_version: int

    def _check(self, model: ScoringModel) -> None:
        if self.model_version != model.version:
            raise StaleScoreError(
                f"model_version: the score was computed with model version {self.model_version},"
                f" the model is version {model.version}; rescore the contact"
            )

    def engagement_at(self, now: datetime, model: ScoringModel) -> Decimal:
        """Engagement points at ``now``, rounded to 0.1 as in ``score_contact``."""
        self._check(model)
        age = (_utc("now", now) - self.as_of).total_seconds()
        return _decimal(_tenths(self.engagement_value * model.decay(age)))

    def total_at(self, now: datetime, model: ScoringModel) -> Decimal:
        """The score at ``now`` (fit + decayed engagement)."""
        return self.fit + self.engagement_at(now, model)


def score_state(
    profile: Profile, touches: Iterable[Touch], model: ScoringModel, now: datetime
) -> ScoreState:
    """The incremental state of a contact, computed from all of its touches."""
    moment = _utc("now", now)
    engagement = math.fsum(
        float(model.points_for(t.kind))
        * model.decay((moment - _utc(f"touches[{i}].occurred_at", t.occurred_at)).total_seconds())
        for i, t in enumerate(touches)
    )
    fit = sum((line.points for line in fit_lines(profile, model)), Decimal(0))
    return ScoreState(fit, engagement, moment, model.version)


def add_touch(state: ScoreState, touch: Touch, model: ScoringModel, now: datetime) -> ScoreState:
    """The state after one more touch, in O(1): decay the stored sum to ``now`` (or keep it if
    ``now`` is before its reference time) and add the touch's points decayed to that time."""
    state._check(model)
    reference = max(state.as_of, _utc("now", now))
    at = _utc("touch.occurred_at", touch.occurred_at)
    carried = state.engagement_value * model.decay((reference - state.as_of).total_seconds())
    added = float(model.points_for(touch.kind)) * model.decay((reference - at).total_seconds())
    return ScoreState(state.fit, carried + added, reference, state.model_version)
