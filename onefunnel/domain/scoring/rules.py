"""Fit rules: ``attribute operator value → points``, how they match a contact's attributes,
and how they are read from their stored (JSON) form, every bad field named."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

Scalar = str | int | float | bool
#: A contact's attributes (its own and its account's): name → value, None when unknown.
Profile = Mapping[str, Scalar | None]

TENTH = Decimal("0.1")
MAX_RULE_POINTS = Decimal(1000)


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
