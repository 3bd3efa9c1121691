"""The scoring model: fit rules, engagement points per touch kind, half-life and MQL threshold,
as one versioned value read from its stored form; and the built-in default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from onefunnel.domain.scoring.rules import (
    MAX_RULE_POINTS,
    FieldError,
    FitRule,
    RuleError,
    _is_number,
    _parse_rule,
    _points,
)
from onefunnel.domain.touches import TouchKind

MAX_HALF_LIFE_DAYS = 3650.0
_SECONDS_PER_DAY = 86_400.0
_MODEL_KEYS = frozenset(
    {"version", "fit_rules", "engagement_points", "half_life_days", "mql_threshold"}
)


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
