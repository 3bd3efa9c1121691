"""Segments: saved filters over contacts or accounts, as a pure specification.

A segment's *spec* is JSON a marketer writes (or a page builds)::

    {"subject": "contact",
     "all": [
       {"type": "stage", "in": ["consideration", "intent"]},
       {"type": "score", "min": 40},
       {"type": "attribute", "name": "account.industry", "equals": "Software"},
       {"type": "touches", "url_contains": "/pricing", "at_least": 2, "within_days": 14},
       {"type": "handoff", "status": "rejected", "reason": "not_now", "within_days": 90},
       {"type": "contract", "renewal_within_days": 60}
     ]}

Its members are the subjects that meet *all* the conditions (AND; an empty list is everyone).
An ``any`` condition holds when at least one of its conditions does (OR)::

    {"type": "any", "of": [{"type": "stage", "in": ["intent"]}, {"type": "score", "min": 70}]}

It holds two or more plain conditions and is nested at most one level: an ``any`` inside an
``any`` is refused (an OR of ORs is one OR; keeping one level keeps specs and pages readable).
Errors inside one are named by their path, e.g. ``all[1].of[0].min``. The other conditions:

* ``stage`` — the subject's current stage is one of ``in``.
* ``score`` — the contact's score lies in [``min``, ``max``] (either bound may be left out);
  accounts have no score.
* ``attribute`` — a field ``equals`` a value or ``contains`` a text (both ignore case). Names:
  the subject's own fields (``email``, ``first_name``, ``last_name``, ``title``, ``phone``,
  ``country`` for contacts; ``name``, ``domain``, ``industry``, ``country``, ``region`` for
  accounts), ``account.<field>`` for a contact's account, and ``properties.<key>`` (or
  ``account.properties.<key>``) for a stored property.
* ``touches`` — at least ``at_least`` (default 1) touches in the last ``within_days`` days,
  optionally only of a ``kind`` and ``channel``, of an ``event`` (a tracked event's name, ignoring
  case) or on a page whose URL or path contains ``url_contains``.
* ``handoff`` — a handoff (of the contact; of any contact of the account) with ``status`` and
  ``reason``, within the last ``within_days`` days (decided then, for a decided status;
  opened then, otherwise).
* ``contract`` — an active contract (of the account; of the contact's account) whose renewal
  date falls in the next ``renewal_within_days`` days, optionally of a ``product``.

``parse_spec`` checks a spec and names the field of every error (``all[2].within_days: …``), so
a bad spec is refused whole before anything is saved. Pure: no Django, no SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.domain.touches import Channel, TouchKind

#: The longest window a condition may look back or ahead (about 30 years): windows beyond it
#: would only reach before the calendar's start, and a bound keeps date arithmetic safe.
MAX_WINDOW_DAYS = 11_000
MAX_COUNT = 1_000_000
MAX_CONDITIONS = 50
MAX_TEXT = 200
MAX_SCORE = 1_000_000.0


E = TypeVar("E", bound=StrEnum)


class Subject(StrEnum):
    """What a segment's members are."""

    CONTACT = "contact"
    ACCOUNT = "account"


class SpecError(ValueError):
    """A spec that cannot be saved; ``errors`` holds (field path, message) pairs."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in self.errors))


CONTACT_FIELDS = frozenset({"email", "first_name", "last_name", "title", "phone", "country"})
ACCOUNT_FIELDS = frozenset({"name", "domain", "industry", "country", "region"})
_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")


@dataclass(frozen=True, slots=True)
class StageIn:
    """The current stage is one of ``stages``."""

    stages: tuple[Stage, ...]


@dataclass(frozen=True, slots=True)
class ScoreRange:
    """The contact's score lies between ``low`` and ``high`` (inclusive; None = unbounded)."""

    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class Attribute:
    """A field (``path``: on the subject, on its account, or a stored property) equals or
    contains ``value``, ignoring case."""

    path: tuple[str, ...]  # e.g. ("title",), ("account", "industry"), ("properties", "plan")
    op: str  # "equals" or "contains"
    value: str


@dataclass(frozen=True, slots=True)
class Touches:
    """At least ``at_least`` matching touches in the last ``within_days`` days."""

    within_days: int
    at_least: int = 1
    kind: TouchKind | None = None
    channel: Channel | None = None
    event: str | None = None
    url_contains: str | None = None


@dataclass(frozen=True, slots=True)
class HandoffOutcome:
    """A handoff with the status (and reason) in the last ``within_days`` days."""

    within_days: int
    status: HandoffStatus | None = None
    reason: StageReason | None = None


@dataclass(frozen=True, slots=True)
class ContractRenewal:
    """An active contract renews within the next ``within_days`` days."""

    within_days: int
    product: str | None = None


#: A plain condition: one test on the subject (what an ``any`` holds).
Leaf = StageIn | ScoreRange | Attribute | Touches | HandoffOutcome | ContractRenewal


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one of ``conditions`` holds (an OR of two or more plain conditions)."""

    conditions: tuple[Leaf, ...]


Condition = Leaf | AnyOf
MIN_ANY = 2


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """A checked segment specification: the subject and the conditions all members meet."""

    subject: Subject
    conditions: tuple[Condition, ...]

    def as_dict(self) -> dict[str, Any]:
        """The spec as JSON (the form ``parse_spec`` reads back to an equal spec)."""
        return {"subject": self.subject.value, "all": [condition_dict(c) for c in self.conditions]}


def condition_dict(condition: Condition) -> dict[str, Any]:
    """One condition as JSON, without the unset optional fields."""
    if isinstance(condition, AnyOf):
        return {"type": "any", "of": [condition_dict(c) for c in condition.conditions]}
    if isinstance(condition, StageIn):
        return {"type": "stage", "in": [s.value for s in condition.stages]}
    if isinstance(condition, ScoreRange):
        out: dict[str, Any] = {"type": "score"}
        if condition.low is not None:
            out["min"] = condition.low
        if condition.high is not None:
            out["max"] = condition.high
        return out
    if isinstance(condition, Attribute):
        return {
            "type": "attribute",
            "name": ".".join(condition.path),
            condition.op: condition.value,
        }
    if isinstance(condition, Touches):
        out = {
            "type": "touches",
            "within_days": condition.within_days,
            "at_least": condition.at_least,
        }
        for key in ("kind", "channel", "event", "url_contains"):
            value = getattr(condition, key)
            if value is not None:
                out[key] = str(value)
        return out
    if isinstance(condition, HandoffOutcome):
        out = {"type": "handoff", "within_days": condition.within_days}
        if condition.status is not None:
            out["status"] = condition.status.value
        if condition.reason is not None:
            out["reason"] = condition.reason.value
        return out
    out = {"type": "contract", "renewal_within_days": condition.within_days}
    if condition.product is not None:
        out["product"] = condition.product
    return out


class _Reader:
    """Reads one condition's fields, collecting errors under the condition's path."""

    def __init__(self, raw: Mapping[str, Any], loc: str, errors: list[tuple[str, str]]) -> None:
        self.raw, self.loc, self.errors = raw, loc, errors

    def error(self, key: str, msg: str) -> None:
        self.errors.append((f"{self.loc}.{key}" if key else self.loc, msg))

    def allow(self, *keys: str) -> None:
        for key in sorted(set(self.raw) - {"type", *keys}):
            self.error(str(key), f"unknown field (expected one of: {', '.join(keys)})")

    def integer(self, key: str, *, low: int, high: int, default: int | None = None) -> int | None:
        value = self.raw.get(key, default)
        if value is None:
            self.error(key, "required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"expected a whole number, got {value!r}"[:200])
            return None
        if not low <= value <= high:
            self.error(key, f"must be between {low} and {high}, got {value}")
            return None
        return int(value)

    def number(self, key: str) -> float | None:
        value = self.raw.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(key, f"expected a number, got {value!r}"[:200])
            return None
        if not -MAX_SCORE <= float(value) <= MAX_SCORE:  # also refuses NaN
            self.error(key, f"must be between {-MAX_SCORE:g} and {MAX_SCORE:g}")
            return None
        return float(value)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                self.error(key, "required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(key, "expected a non-empty text")
            return None
        if len(value) > MAX_TEXT:
            self.error(key, f"at most {MAX_TEXT} characters")
            return None
        return value.strip()

    def member(self, key: str, enum: type[E]) -> E | None:
        value = self.raw.get(key)
        if value is None:
            return None
        try:
            return enum(value)
        except ValueError:
            options = ", ".join(m.value for m in enum)
            self.error(key, f"unknown {key} {value!r} (expected one of: {options})"[:300])
            return None


def _stage(r: _Reader) -> Condition | None:
    r.allow("in")
    values = r.raw.get("in")
    if not isinstance(values, list) or not values:
        r.error("in", "expected a non-empty list of stages")
        return None
    stages: list[Stage] = []
    for i, value in enumerate(values):
        try:
            stages.append(Stage(value))
        except (ValueError, TypeError):
            options = ", ".join(s.value for s in Stage)
            r.error(f"in[{i}]", f"unknown stage {value!r} (expected one of: {options})"[:300])
    return StageIn(tuple(dict.fromkeys(stages))) if len(stages) == len(values) else None


def _score(r: _Reader, subject: Subject) -> Condition | None:
    r.allow("min", "max")
    if subject is Subject.ACCOUNT:
        r.error("", "accounts have no score; use a contact segment")
        return None
    before = len(r.errors)
    low, high = r.number("min"), r.number("max")
    if len(r.errors) > before:
        return None
    if low is None and high is None:
        r.error("min", "give min, max or both")
        return None
    if low is not None and high is not None and low > high:
        r.error("max", f"must not be below min ({low:g})")
        return None
    return ScoreRange(low, high)


def _attribute(r: _Reader, subject: Subject) -> Condition | None:
    r.allow("name", "equals", "contains")
    name = r.text("name", required=True)
    ops = [op for op in ("equals", "contains") if op in r.raw]
    if len(ops) != 1:
        r.error("equals", "give exactly one of equals or contains")
        return None
    value = r.raw[ops[0]]
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        r.error(ops[0], f"expected a text of at most {MAX_TEXT} characters")
        return None
    if ops[0] == "contains" and not value:
        r.error("contains", "expected a non-empty text")
        return None
    if name is None:
        return None
    path = tuple(name.split("."))
    rest = path
    if subject is Subject.CONTACT and path[0] == "account":
        rest = path[1:]
        fields = ACCOUNT_FIELDS
    else:
        fields = CONTACT_FIELDS if subject is Subject.CONTACT else ACCOUNT_FIELDS
    if len(rest) == 1 and rest[0] in fields:
        return Attribute(path, ops[0], value)
    if len(rest) == 2 and rest[0] == "properties" and _KEY.match(rest[1]):
        return Attribute(path, ops[0], value)
    prefix = "account." if subject is Subject.CONTACT else ""
    r.error(
        "name",
        f"unknown attribute {name!r} for a {subject.value} segment (expected one of: "
        f"{', '.join(sorted(fields))}, {prefix}properties.<key>"
        + (", account.<field>" if subject is Subject.CONTACT else "")
        + ")",
    )
    return None


def _touches(r: _Reader) -> Condition | None:
    r.allow("within_days", "at_least", "kind", "channel", "event", "url_contains")
    before = len(r.errors)
    days = r.integer("within_days", low=1, high=MAX_WINDOW_DAYS)
    at_least = r.integer("at_least", low=1, high=MAX_COUNT, default=1)
    kind, channel = r.member("kind", TouchKind), r.member("channel", Channel)
    event, url = r.text("event"), r.text("url_contains")
    if len(r.errors) > before or days is None or at_least is None:
        return None
    return Touches(days, at_least, kind, channel, event, url)


def _handoff(r: _Reader) -> Condition | None:
    r.allow("within_days", "status", "reason")
    before = len(r.errors)
    days = r.integer("within_days", low=1, high=MAX_WINDOW_DAYS)
    status, reason = r.member("status", HandoffStatus), r.member("reason", StageReason)
    if reason is not None and status not in (None, HandoffStatus.REJECTED):
        r.error("reason", "a reason is given only with status rejected (or no status)")
    if len(r.errors) > before or days is None:
        return None
    return HandoffOutcome(days, status, reason)


def _contract(r: _Reader) -> Condition | None:
    r.allow("renewal_within_days", "product")
    before = len(r.errors)
    days = r.integer("renewal_within_days", low=0, high=MAX_WINDOW_DAYS)
    product = r.text("product")
    if len(r.errors) > before or days is None:
        return None
    return ContractRenewal(days, product)


_TYPES = "stage, score, attribute, touches, handoff, contract, any"


def _any(r: _Reader, subject: Subject) -> Condition | None:
    r.allow("of")
    items = r.raw.get("of")
    if not isinstance(items, list) or not MIN_ANY <= len(items) <= MAX_CONDITIONS:
        r.error("of", f"expected a list of {MIN_ANY} to {MAX_CONDITIONS} conditions")
        return None
    before = len(r.errors)
    found: list[Leaf] = []
    for j, item in enumerate(items):
        parsed = _condition(item, f"{r.loc}.of[{j}]", subject, r.errors, nested=True)
        if parsed is not None and not isinstance(parsed, AnyOf):
            found.append(parsed)
    return AnyOf(tuple(found)) if len(r.errors) == before else None


def _condition(
    item: object, loc: str, subject: Subject, errors: list[tuple[str, str]], *, nested: bool
) -> Condition | None:
    """One condition at ``loc`` (``all[2]``, ``all[1].of[0]``), its errors added to ``errors``."""
    if not isinstance(item, Mapping):
        errors.append((loc, "expected an object with a type"))
        return None
    r = _Reader(item, loc, errors)
    kind = item.get("type")
    if kind == "stage":
        return _stage(r)
    if kind == "score":
        return _score(r, subject)
    if kind == "attribute":
        return _attribute(r, subject)
    if kind == "touches":
        return _touches(r)
    if kind == "handoff":
        return _handoff(r)
    if kind == "contract":
        return _contract(r)
    if kind == "any":
        if nested:
            r.error("type", "an any holds plain conditions, not another any (one level only)")
            return None
        return _any(r, subject)
    r.error("type", f"unknown condition type {kind!r} (expected one of: {_TYPES})"[:300])
    return None


def parse_spec(raw: object) -> SegmentSpec:
    """Check a segment spec (parsed JSON) and return it; SpecError naming every bad field."""
    errors: list[tuple[str, str]] = []
    if not isinstance(raw, Mapping):
        raise SpecError([("spec", "expected an object with subject and all")])
    for key in sorted(set(raw) - {"subject", "all"}):
        errors.append((str(key), "unknown field (expected subject and all)"))
    try:
        subject = Subject(raw.get("subject", Subject.CONTACT.value))
    except ValueError:
        errors.append(("subject", "expected contact or account"))
        subject = Subject.CONTACT
    items = raw.get("all", [])
    if not isinstance(items, list):
        raise SpecError([*errors, ("all", "expected a list of conditions")])
    if len(items) > MAX_CONDITIONS:
        raise SpecError([*errors, ("all", f"at most {MAX_CONDITIONS} conditions")])
    conditions: list[Condition] = []
    for i, item in enumerate(items):
        parsed = _condition(item, f"all[{i}]", subject, errors, nested=False)
        if parsed is not None:
            conditions.append(parsed)
    if errors:
        raise SpecError(errors)
    return SegmentSpec(subject, tuple(conditions))


class MembershipKind(StrEnum):
    """A membership change: a subject entered or left a segment."""

    ENTERED = "entered"
    LEFT = "left"


@dataclass(frozen=True, slots=True)
class MembershipDiff:
    """What a refresh records: who entered and who left since the last refresh."""

    entered: frozenset[int]
    left: frozenset[int]


def membership_diff(before: frozenset[int], now: frozenset[int]) -> MembershipDiff:
    """Who entered (in ``now``, not ``before``) and who left (the reverse)."""
    return MembershipDiff(now - before, before - now)


def replay_membership(changes: Sequence[tuple[int, MembershipKind]]) -> frozenset[int]:
    """The members after a history of changes, in recorded order; ValueError if the history does
    not alternate per member (entered, left, entered, …, starting with entered)."""
    members: set[int] = set()
    for i, (member, kind) in enumerate(changes):
        if kind is MembershipKind.ENTERED:
            if member in members:
                raise ValueError(f"history[{i}]: #{member} entered twice without leaving")
            members.add(member)
        else:
            if member not in members:
                raise ValueError(f"history[{i}]: #{member} left without having entered")
            members.remove(member)
    return frozenset(members)


def _or(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def describe_condition(condition: Condition) -> str:
    """One condition in words, as a page shows it (``score ≥ 40``)."""
    if isinstance(condition, AnyOf):
        return "any of (" + " | ".join(describe_condition(c) for c in condition.conditions) + ")"
    if isinstance(condition, StageIn):
        return "stage is " + _or([s.value.replace("_", " ") for s in condition.stages])
    if isinstance(condition, ScoreRange):
        low, high = condition.low, condition.high
        if low is not None and high is not None:
            return f"score between {low:g} and {high:g}"
        return f"score ≥ {low:g}" if low is not None else f"score ≤ {high:g}"
    if isinstance(condition, Attribute):
        verb = "is" if condition.op == "equals" else "contains"
        name = ".".join(condition.path)
        if "properties" not in condition.path:  # a stored key is shown as it is spelled
            name = name.replace("_", " ")
        return f"{name} {verb} “{condition.value}”"
    if isinstance(condition, Touches):
        what = "touch" if condition.at_least == 1 else "touches"
        parts = [f"at least {condition.at_least} {what}"]
        if condition.kind is not None:
            parts.append(f"of kind {condition.kind.value.replace('_', ' ')}")
        if condition.channel is not None:
            parts.append(f"in the {condition.channel.value.replace('_', ' ')} channel")
        if condition.event is not None:
            parts.append(f"of the event “{condition.event}”")
        if condition.url_contains is not None:
            parts.append(f"on a page containing {condition.url_contains}")
        return " ".join(parts) + f" in the last {_days(condition.within_days)}"
    if isinstance(condition, HandoffOutcome):
        text = "a handoff"
        if condition.status is not None:
            text += f" {condition.status.value}"
        if condition.reason is not None:
            text += f" {condition.reason.value.replace('_', '-')}"
        return text + f" in the last {_days(condition.within_days)}"
    text = "an active contract"
    if condition.product is not None:
        text += f" for {condition.product}"
    return text + f" renewing within {_days(condition.within_days)}"


def describe_spec(spec: SegmentSpec) -> str:
    """The whole definition in words: each condition, joined with `` · `` (all must hold)."""
    if not spec.conditions:
        return f"every {spec.subject.value}"
    return " · ".join(describe_condition(c) for c in spec.conditions)
