"""Lead scoring: fit (who they are) plus engagement (what they did, fading with time).

The intuition. A contact's **fit** is the sum of the points of every fit rule their attributes
match ("industry in [software, fintech] → +15", "job title contains student → −25"). Their
**engagement** is the sum, over their touches, of the points of the touch's kind, each halved for
every ``half_life_days`` since it happened: a pricing-page visit today is worth 15, a fortnight ago
7.5 (with a 14-day half-life). The score is fit + engagement; crossing the MQL threshold makes a
lead ready for sales. Rules, points, half-life and threshold are data (a versioned ``ScoringModel``
built from a JSON-like dict), never code.

Three properties shape the implementation:

* **Explanations sum exactly to the score.** Points are ``Decimal`` with one decimal place. The
  engagement total is the raw decayed sum rounded to 0.1; its per-touch lines are apportioned by
  the largest-remainder method so that the rounded lines add up to exactly that total.
* **Incremental updates are O(1).** Decay is multiplicative, so the engagement sum at a later time
  is the sum at an earlier time times one decay factor: ``E(t2) = E(t1)·2^(−(t2−t1)/h)``. A
  ``ScoreState`` stores E at a reference time; ``add_touch`` decays it and adds the new touch.
* **Full rescore is vectorised.** ``score_many`` computes every contact's engagement with one
  numpy pass over all touches (``bincount`` of decayed points by contact).

Touches dated after ``now`` count at full points (no growth): a touch we have received has
happened, and a few seconds of client clock skew should not change its worth.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from onefunnel.domain.touches import TouchKind

Scalar = str | int | float | bool
#: A contact's attributes (its own and its account's): name → value, None when unknown.
Profile = Mapping[str, Scalar | None]

TENTH = Decimal("0.1")
MAX_RULE_POINTS = Decimal(1000)
MAX_HALF_LIFE_DAYS = 3650.0
_SECONDS_PER_DAY = 86_400.0
_MICROSECOND = datetime.resolution


class Operator(StrEnum):
    """How a fit rule compares a contact attribute with the rule's value.

    Text comparisons ignore case and surrounding spaces. Every operator but ``missing`` needs the
    attribute to be present: "country not_in [US]" does not match a contact with no country.
    """

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    EXISTS = "exists"
    MISSING = "missing"


_NUMERIC_OPERATORS = frozenset({Operator.GT, Operator.GTE, Operator.LT, Operator.LTE})
_TEXT_OPERATORS = frozenset({Operator.CONTAINS, Operator.NOT_CONTAINS, Operator.STARTS_WITH})
_LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})
_PRESENCE_OPERATORS = frozenset({Operator.EXISTS, Operator.MISSING})


class FieldError(NamedTuple):
    """One problem in a scoring model: where (``fit_rules[3].operator``) and what."""

    loc: str
    msg: str


class ScoringError(ValueError):
    """Bad input to scoring; the message starts with the name of the offending field."""


class RuleError(ScoringError):
    """A scoring model or rule that cannot be used; lists every problem with its field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{e.loc}: {e.msg}" for e in self.errors))


class StaleScoreError(ScoringError):
    """A score state computed with another version of the scoring model; rescore the contact."""


# ---------------------------------------------------------------------------------------------
# Fit rules


RuleValue = Scalar | tuple[Scalar, ...] | None


@dataclass(frozen=True)
class FitRule:
    """``attribute operator value → points``, with the reason shown in the explanation.

    ``value`` is stored normalised (text case-folded, lists as tuples), as ``parse_fit_rule``
    returns it.
    """

    attribute: str
    operator: Operator
    value: RuleValue
    points: Decimal
    reason: str

    def matches(self, profile: Profile) -> bool:
        """True if the contact's attributes satisfy this rule."""
        raw = profile.get(self.attribute)
        present = raw is not None and not (isinstance(raw, str) and not raw.strip())
        op = self.operator
        if op is Operator.MISSING:
            return not present
        if not present:
            return False
        if op is Operator.EXISTS:
            return True
        assert raw is not None
        if op is Operator.EQ:
            return _equals(raw, self.value)
        if op is Operator.NE:
            return not _equals(raw, self.value)
        if op in _LIST_OPERATORS:
            assert isinstance(self.value, tuple)
            found = any(_equals(raw, v) for v in self.value)
            return found if op is Operator.IN else not found
        if op in _TEXT_OPERATORS:
            assert isinstance(self.value, tuple)
            text = _as_text(raw)
            if op is Operator.STARTS_WITH:
                return any(text.startswith(str(v)) for v in self.value)
            found = any(str(v) in text for v in self.value)
            return found if op is Operator.CONTAINS else not found
        number = _as_number(raw)
        if number is None:
            return False
        if op is Operator.BETWEEN:
            assert isinstance(self.value, tuple)
            low, high = self.value
            return float(low) <= number <= float(high)
        assert isinstance(self.value, int | float)
        limit = float(self.value)
        return {
            Operator.GT: number > limit,
            Operator.GTE: number >= limit,
            Operator.LT: number < limit,
            Operator.LTE: number <= limit,
        }[op]

    def to_dict(self) -> dict[str, Any]:
        """The rule as stored (JSON-compatible)."""
        value: Any = list(self.value) if isinstance(self.value, tuple) else self.value
        data: dict[str, Any] = {
            "attribute": self.attribute,
            "operator": self.operator.value,
            "points": float(self.points),
            "reason": self.reason,
        }
        if self.operator not in _PRESENCE_OPERATORS:
            data["value"] = value
        return data


def _as_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().casefold()


def _as_number(value: Scalar) -> float | None:
    if isinstance(value, bool):
        return None
    text = value.strip().replace(",", "") if isinstance(value, str) else value
    try:
        number = float(text)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _equals(raw: Scalar, expected: RuleValue) -> bool:
    if isinstance(expected, bool):
        return raw is expected or _as_text(raw) == _as_text(expected)
    if isinstance(expected, int | float):
        return _as_number(raw) == float(expected)
    return _as_text(raw) == expected


# ---------------------------------------------------------------------------------------------
# Parsing and validation (rules are data: stored as JSON, edited in admin and via the API)


_RULE_KEYS = frozenset({"attribute", "operator", "value", "points", "reason"})
_MODEL_KEYS = frozenset(
    {"version", "fit_rules", "engagement_points", "half_life_days", "mql_threshold"}
)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _points(value: object, loc: str, errors: list[FieldError], limit: Decimal) -> Decimal:
    """A points figure as a one-decimal Decimal, or an error appended."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors.append(FieldError(loc, f"expected a number, got {value!r}"))
        return Decimal(0)
    try:
        points = Decimal(str(value))
    except InvalidOperation:
        errors.append(FieldError(loc, f"expected a number, got {value!r}"))
        return Decimal(0)
    if not points.is_finite():
        errors.append(FieldError(loc, f"expected a finite number, got {value!r}"))
    elif points != points.quantize(TENTH):
        errors.append(FieldError(loc, f"at most one decimal place, got {value!r}"))
    elif abs(points) > limit:
        errors.append(FieldError(loc, f"must be between -{limit} and {limit}, got {value!r}"))
    else:
        return points.quantize(TENTH)
    return Decimal(0)


def _scalar(value: object) -> bool:
    return isinstance(value, str | bool) or _is_number(value)


def _normalise(value: Scalar) -> Scalar:
    return value.strip().casefold() if isinstance(value, str) else value


def _rule_value(op: Operator, value: object, loc: str, errors: list[FieldError]) -> RuleValue:
    if op in _PRESENCE_OPERATORS:
        if value is not None:
            errors.append(FieldError(loc, f"operator '{op}' takes no value"))
        return None
    if op in (Operator.EQ, Operator.NE):
        if not _scalar(value) or value == "":
            errors.append(FieldError(loc, f"expected a text, number or boolean, got {value!r}"))
            return None
        assert isinstance(value, str | bool | int | float)
        return _normalise(value)
    if op in _NUMERIC_OPERATORS:
        if not _is_number(value):
            errors.append(FieldError(loc, f"operator '{op}' needs a number, got {value!r}"))
            return None
        assert isinstance(value, int | float)
        return value
    if op is Operator.BETWEEN:
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or not all(_is_number(v) for v in value)
        ):
            errors.append(FieldError(loc, f"operator 'between' needs [low, high], got {value!r}"))
            return None
        low, high = value
        if low > high:
            errors.append(FieldError(loc, f"low {low} is greater than high {high}"))
            return None
        return (low, high)
    items = [value] if op in _TEXT_OPERATORS and isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        errors.append(FieldError(loc, f"operator '{op}' needs a non-empty list, got {value!r}"))
        return None
    if op in _TEXT_OPERATORS:
        if not all(isinstance(v, str) and v.strip() for v in items):
            errors.append(FieldError(loc, f"operator '{op}' needs non-empty texts, got {value!r}"))
            return None
    elif not all(_scalar(v) for v in items):
        errors.append(FieldError(loc, f"expected texts, numbers or booleans, got {value!r}"))
        return None
    return tuple(_normalise(v) for v in items)


def _describe(attribute: str, op: Operator, value: RuleValue) -> str:
    if value is None:
        return f"{attribute} {op.value.replace('_', ' ')}"
    shown = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
    if op in _LIST_OPERATORS or op is Operator.BETWEEN:
        shown = f"[{shown}]"
    return f"{attribute} {op.value.replace('_', ' ')} {shown}"


def _parse_rule(data: object, loc: str, errors: list[FieldError]) -> FitRule | None:
    if not isinstance(data, Mapping):
        errors.append(FieldError(loc, f"expected an object, got {type(data).__name__}"))
        return None
    before = len(errors)
    errors.extend(
        FieldError(f"{loc}.{key}", "unknown field") for key in data if key not in _RULE_KEYS
    )
    attribute = data.get("attribute")
    if not isinstance(attribute, str) or not attribute.strip():
        errors.append(
            FieldError(f"{loc}.attribute", f"expected a non-empty text, got {attribute!r}")
        )
    raw_op = data.get("operator")
    try:
        op = Operator(str(raw_op)) if isinstance(raw_op, str) else None
    except ValueError:
        op = None
    if op is None:
        allowed = ", ".join(o.value for o in Operator)
        errors.append(FieldError(f"{loc}.operator", f"unknown operator {raw_op!r} ({allowed})"))
    value = _rule_value(op, data.get("value"), f"{loc}.value", errors) if op else None
    if "points" not in data:
        errors.append(FieldError(f"{loc}.points", "required"))
    points = _points(data.get("points"), f"{loc}.points", errors, MAX_RULE_POINTS)
    reason = data.get("reason")
    if reason is not None and not isinstance(reason, str):
        errors.append(FieldError(f"{loc}.reason", f"expected a text, got {reason!r}"))
    if len(errors) > before or op is None or not isinstance(attribute, str):
        return None
    attribute = attribute.strip()
    reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
    return FitRule(attribute, op, value, points, reason or _describe(attribute, op, value))


def parse_fit_rule(data: object, loc: str = "rule") -> FitRule:
    """A fit rule from its stored form, or ``RuleError`` naming every bad field."""
    errors: list[FieldError] = []
    rule = _parse_rule(data, loc, errors)
    if rule is None:
        raise RuleError(errors)
    return rule


# ---------------------------------------------------------------------------------------------
# The scoring model


@dataclass(frozen=True)
class ScoringModel:
    """Everything that decides a score, as one versioned value."""

    fit_rules: tuple[FitRule, ...]
    engagement_points: Mapping[str, Decimal]
    half_life_days: float
    mql_threshold: Decimal
    version: int = 1
    _decay_rate: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (_is_number(self.half_life_days) and 0 < self.half_life_days <= MAX_HALF_LIFE_DAYS):
            raise RuleError([FieldError("half_life_days", "must be > 0 and <= 3650")])
        # Decay per second, as the exponent of two: 2**(-age_seconds * rate).
        object.__setattr__(self, "_decay_rate", 1.0 / (self.half_life_days * _SECONDS_PER_DAY))

    @classmethod
    def from_dict(cls, data: object) -> ScoringModel:
        """Parse and validate a stored model; ``RuleError`` lists every bad field."""
        return parse_scoring_model(data)

    def to_dict(self) -> dict[str, Any]:
        """The model as stored (JSON-compatible); ``from_dict(to_dict())`` gives it back."""
        return {
            "version": self.version,
            "half_life_days": self.half_life_days,
            "mql_threshold": float(self.mql_threshold),
            "fit_rules": [rule.to_dict() for rule in self.fit_rules],
            "engagement_points": {k: float(v) for k, v in self.engagement_points.items()},
        }

    def points_for(self, kind: str) -> Decimal:
        """Undecayed points of a touch kind (zero for kinds the model does not score)."""
        return self.engagement_points.get(kind, Decimal(0))

    def decay(self, age_seconds: float) -> float:
        """The factor a touch's points are multiplied by after ``age_seconds`` (≤ 1)."""
        return float(2.0 ** (-max(age_seconds, 0.0) * self._decay_rate))


def parse_scoring_model(data: object) -> ScoringModel:
    """A ``ScoringModel`` from its JSON-like stored form, or ``RuleError`` naming every bad
    field (``fit_rules[3].operator: unknown operator 'gtx' (...)``)."""
    if not isinstance(data, Mapping):
        raise RuleError([FieldError("model", f"expected an object, got {type(data).__name__}")])
    errors = [FieldError(key, "unknown field") for key in data if key not in _MODEL_KEYS]
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        errors.append(FieldError("version", f"expected a positive integer, got {version!r}"))
    half_life = data.get("half_life_days")
    if not (
        isinstance(half_life, int | float)
        and _is_number(half_life)
        and 0 < half_life <= MAX_HALF_LIFE_DAYS
    ):
        errors.append(
            FieldError("half_life_days", f"expected a number > 0 and <= 3650, got {half_life!r}")
        )
    threshold = _points(data.get("mql_threshold"), "mql_threshold", errors, Decimal(100_000))
    rules: list[FitRule] = []
    raw_rules = data.get("fit_rules", [])
    if not isinstance(raw_rules, list | tuple):
        errors.append(FieldError("fit_rules", "expected a list"))
        raw_rules = []
    for i, raw in enumerate(raw_rules):
        rule = _parse_rule(raw, f"fit_rules[{i}]", errors)
        if rule is not None:
            rules.append(rule)
    engagement: dict[str, Decimal] = {}
    raw_points = data.get("engagement_points", {})
    if not isinstance(raw_points, Mapping):
        errors.append(FieldError("engagement_points", "expected an object of kind → points"))
        raw_points = {}
    known_kinds = {k.value for k in TouchKind}
    for kind, value in raw_points.items():
        loc = f"engagement_points.{kind}"
        if kind not in known_kinds:
            errors.append(FieldError(loc, f"unknown touch kind {kind!r}"))
            continue
        engagement[str(kind)] = _points(value, loc, errors, MAX_RULE_POINTS)
    if errors:
        raise RuleError(errors)
    assert isinstance(version, int)
    assert isinstance(half_life, int | float)
    return ScoringModel(tuple(rules), engagement, float(half_life), threshold, version)


def default_scoring_model() -> ScoringModel:
    """A sensible starting model: B2B software fit, hand-raises and pricing visits weigh most."""
    return parse_scoring_model(
        {
            "version": 1,
            "half_life_days": 14,
            "mql_threshold": 60,
            "fit_rules": [
                {"attribute": "industry", "operator": "in", "points": 15,
                 "value": ["software", "saas", "internet", "fintech", "financial services",
                           "it services"], "reason": "Target industry"},
                {"attribute": "industry", "operator": "in", "points": -10,
                 "value": ["education", "government", "non-profit"],
                 "reason": "Industry that rarely buys"},
                {"attribute": "employees", "operator": "between", "value": [50, 999],
                 "points": 15, "reason": "Mid-market company (50-999 employees)"},
                {"attribute": "employees", "operator": "gte", "value": 1000, "points": 10,
                 "reason": "Enterprise company (1,000+ employees)"},
                {"attribute": "employees", "operator": "lt", "value": 10, "points": -10,
                 "reason": "Very small company (under 10 employees)"},
                {"attribute": "country", "operator": "in", "points": 5,
                 "value": ["US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "NL", "BE", "SE",
                           "DK", "NO", "FI", "AU", "NZ"], "reason": "Country we sell in"},
                {"attribute": "seniority", "operator": "in", "value": ["c_level", "vp", "director"],
                 "points": 15, "reason": "Decision maker"},
                {"attribute": "seniority", "operator": "eq", "value": "manager", "points": 8,
                 "reason": "Manager"},
                {"attribute": "job_title", "operator": "contains", "value": ["student", "intern"],
                 "points": -25, "reason": "Student or intern"},
                {"attribute": "email_domain", "operator": "in", "points": -10,
                 "value": ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com",
                           "icloud.com", "gmx.de", "web.de"],
                 "reason": "Personal email address"},
            ],
            "engagement_points": {
                TouchKind.HAND_RAISE: 40,  # demo request, contact sales, pricing form
                TouchKind.HIGH_INTENT_PAGE: 15,  # pricing, comparison, integration pages
                TouchKind.WEBINAR: 10,
                TouchKind.EVENT: 10,
                TouchKind.CONTENT_DOWNLOAD: 8,
                TouchKind.FORM_SUBMIT: 8,
                TouchKind.EMAIL_CLICK: 3,
                TouchKind.AD_CLICK: 2,
                TouchKind.SOCIAL_ENGAGEMENT: 2,
                TouchKind.PAGE_VIEW: 1,  # blog and other content pages
                TouchKind.EMAIL_OPEN: 1,
            },
        }
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Scoring one contact


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


# ---------------------------------------------------------------------------------------------
# Incremental scoring


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


# ---------------------------------------------------------------------------------------------
# Full rescore, vectorised


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
