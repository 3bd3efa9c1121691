"""Scoring one contact at a moment, with an explanation whose lines sum exactly to the score."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from onefunnel.domain.scoring.model import ScoringModel
from onefunnel.domain.scoring.rules import Profile, Scalar, ScoringError


@dataclass(frozen=True)
class Touch:
    """A touch as scoring sees it: its kind and when it happened (aware datetime)."""

    kind: str
    occurred_at: datetime


@dataclass(frozen=True)
class ScoreLine:
    """One line of a score's explanation: ``+15.0 Decision maker`` or ``+7.5 high intent page``
    (``when`` is the touch time for engagement lines, None for fit lines)."""

    points: Decimal
    reason: str
    when: datetime | None


@dataclass(frozen=True)
class Score:
    """A contact's score at a moment; the explanation's points sum exactly to ``total``."""

    fit: Decimal
    engagement: Decimal
    total: Decimal
    explanation: tuple[ScoreLine, ...]
    model_version: int


def _utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ScoringError(f"{name}: expected a timezone-aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _tenths(value: float) -> int:
    # Python's round() and numpy's rint() both round half to even on the same float, so the
    # one-contact and the vectorised paths agree.
    return round(value * 10)


def _decimal(tenths: int) -> Decimal:
    return Decimal(tenths).scaleb(-1)


def fit_lines(profile: Profile, model: ScoringModel) -> tuple[ScoreLine, ...]:
    """The explanation lines of every fit rule the contact matches, in rule order."""
    return tuple(
        ScoreLine(rule.points, rule.reason, None)
        for rule in model.fit_rules
        if rule.points and rule.matches(profile)
    )


class FitEvaluator:
    """``fit_lines`` for many profiles under one model, each rule evaluated once per distinct
    value of the attribute it reads (a rule reads nothing else): thousands of contacts share a
    few industries, countries and titles, so a rescore or a stream of touches mostly looks up
    answers it already has. Values are told apart by type too, so ``True`` is not ``1``."""

    MAX_VALUES = 100_000  # per rule; forgotten beyond that, to bound memory

    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self._rules = tuple(rule for rule in model.fit_rules if rule.points)
        self._answers: tuple[dict[tuple[type, Scalar | None], bool], ...] = tuple(
            {} for _ in self._rules
        )
        self._lines: dict[tuple[int, ...], tuple[ScoreLine, ...]] = {}

    def matched(self, profile: Profile) -> tuple[int, ...]:
        """The indices (among rules with points) of the rules the profile matches."""
        hits = []
        for i, rule in enumerate(self._rules):
            raw = profile.get(rule.attribute)
            key = (raw.__class__, raw)
            answers = self._answers[i]
            answer = answers.get(key)
            if answer is None:
                if len(answers) >= self.MAX_VALUES:
                    answers.clear()
                answer = answers[key] = rule.matches(profile)
            if answer:
                hits.append(i)
        return tuple(hits)

    def lines(self, profile: Profile) -> tuple[ScoreLine, ...]:
        """Equal to ``fit_lines(profile, self.model)``."""
        hits = self.matched(profile)
        lines = self._lines.get(hits)
        if lines is None:
            lines = self._lines[hits] = tuple(
                ScoreLine(self._rules[i].points, self._rules[i].reason, None) for i in hits
            )
        return lines


def _apportion(raw: Sequence[float]) -> list[int]:
    """Round each value to tenths so the rounded parts sum to the rounded whole
    (largest-remainder method; works for negative values too)."""
    scaled = [value * 10 for value in raw]
    floors = [math.floor(v) for v in scaled]
    deficit = _tenths(math.fsum(raw)) - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (floors[i] - scaled[i], i))
    for i in order[:deficit]:
        floors[i] += 1
    return floors


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def score_contact(
    profile: Profile, touches: Iterable[Touch], model: ScoringModel, now: datetime
) -> Score:
    """Score one contact at ``now`` with a full explanation.

    Fit lines come first in rule order, then engagement lines newest first; lines that round to
    zero are left out (they contribute nothing to the total).
    """
    moment = _utc("now", now)
    fit = fit_lines(profile, model)
    scored: list[tuple[datetime, str, float]] = []
    for i, touch in enumerate(touches):
        at = _utc(f"touches[{i}].occurred_at", touch.occurred_at)
        points = model.points_for(touch.kind)
        if points:
            age = (moment - at).total_seconds()
            scored.append((at, touch.kind, float(points) * model.decay(age)))
    scored.sort(key=lambda item: item[0], reverse=True)
    shares = _apportion([value for _, _, value in scored])
    engagement_lines = tuple(
        ScoreLine(_decimal(share), _label(kind), at)
        for (at, kind, _), share in zip(scored, shares, strict=True)
        if share
    )
    fit_total = sum((line.points for line in fit), Decimal(0))
    engagement_total = _decimal(sum(shares))
    return Score(
        fit=fit_total,
        engagement=engagement_total,
        total=fit_total + engagement_total,
        explanation=fit + engagement_lines,
        model_version=model.version,
    )


def crosses_threshold(before: Decimal | Score, after: Decimal | Score, model: ScoringModel) -> bool:
    """True when a score moves from below the MQL threshold to at or above it."""
    old = before.total if isinstance(before, Score) else before
    new = after.total if isinstance(after, Score) else after
    return old < model.mql_threshold <= new
