"""Handoff routing: which rep (or which team queue) gets a lead at the point of intent.

The intuition. Routing is a short, ordered decision, all of it data:

1. **Named accounts** first: if the lead's account has an owner, its contacts go to that owner.
   If the owner cannot take it (out of office, at capacity) the lead stays in the owner's team.
2. Then the **rules**, in order, first match wins: a *territory* rule matches on country or
   region, a *segment* rule on industry and employee count (a rule may combine both). A rule
   names a team and, optionally, the reps of that team who work it.
3. A lead no rule matches goes to the **default team**.

Within the chosen pool a lead goes to one rep by **smooth weighted round-robin** (nginx's
algorithm): every eligible rep's counter grows by its weight, the largest counter wins and is
lowered by the sum of the weights. Over any run of ``sum(weights)`` leads each rep gets exactly
``weight`` of them, interleaved rather than in bursts. The counters are the *rotation state*,
passed in and returned so the service can persist it; the same inputs always give the same rep.

A rep is **eligible** when available (not out of office), below capacity (open handoffs <
capacity), with a positive weight, and covering the lead's country or region (a rep without
territories covers all). When nobody in the pool is eligible the handoff goes to the team's
**queue**, with the reason of every rep's exclusion in the explanation: a lead is never lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

ErrorList = list[tuple[str, str]]


class RoutingError(ValueError):
    """Routing input that cannot be used; ``errors`` holds every (field, message) found."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in self.errors))


def _fold(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values)


class RuleKind(StrEnum):
    """Which kind of rule decided a routing."""

    NAMED_ACCOUNT = "named_account"
    TERRITORY = "territory"
    SEGMENT = "segment"
    DEFAULT = "default"


@dataclass(frozen=True)
class Lead:
    """What routing needs to know about a lead (its contact and account)."""

    contact_id: str
    account_id: str | None = None
    country: str | None = None
    region: str | None = None
    industry: str | None = None
    employees: int | None = None

    def __post_init__(self) -> None:
        errors: ErrorList = []
        if not isinstance(self.contact_id, str) or not self.contact_id:
            errors.append(("contact_id", "expected a non-empty id"))
        employees = self.employees
        if employees is not None and (
            isinstance(employees, bool) or not isinstance(employees, int) or employees < 0
        ):
            errors.append(("employees", f"expected a non-negative integer, got {employees!r}"))
        if errors:
            raise RoutingError(errors)

    @property
    def places(self) -> frozenset[str]:
        """The lead's country and region, case-folded, for territory matching."""
        return _fold(p for p in (self.country, self.region) if p)


@dataclass(frozen=True)
class Rep:
    """A sales rep as routing sees them: team, round-robin weight, capacity and availability.

    ``territories`` are countries or regions the rep covers; empty means everywhere.
    """

    id: str
    team: str
    weight: int = 1
    capacity: int = 25
    open_handoffs: int = 0
    available: bool = True
    territories: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        errors: ErrorList = []
        if not isinstance(self.id, str) or not self.id:
            errors.append(("id", "expected a non-empty id"))
        if not isinstance(self.team, str) or not self.team:
            errors.append(("team", "expected a non-empty team name"))
        for name in ("weight", "capacity", "open_handoffs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                errors.append((name, f"expected a non-negative integer, got {value!r}"))
        if errors:
            raise RoutingError([(f"reps[{self.id!r}].{loc}", msg) for loc, msg in errors])
        object.__setattr__(self, "territories", _fold(self.territories))

    def exclusion(self, lead: Lead, *, for_round_robin: bool = True) -> str | None:
        """Why this rep cannot take the lead now, or None if they can.

        A named account's owner is judged only on availability and capacity: ownership of the
        account outranks territory and round-robin weight.
        """
        if not self.available:
            return "out of office"
        if self.open_handoffs >= self.capacity:
            return f"at capacity ({self.open_handoffs}/{self.capacity})"
        if for_round_robin:
            if self.weight == 0:
                return "weight 0"
            if self.territories and not (self.territories & lead.places):
                return "does not cover the lead's territory"
        return None


@dataclass(frozen=True)
class RoutingRule:
    """One rule: leads matching every given criterion go to ``team`` (or its ``rep_ids``)."""

    name: str
    kind: RuleKind
    team: str
    countries: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    industries: frozenset[str] = frozenset()
    min_employees: int | None = None
    max_employees: int | None = None
    rep_ids: tuple[str, ...] = ()

    def matches(self, lead: Lead) -> bool:
        """True if the lead meets every criterion this rule sets."""
        if self.countries and (lead.country or "").strip().casefold() not in self.countries:
            return False
        if self.regions and (lead.region or "").strip().casefold() not in self.regions:
            return False
        if self.industries and (lead.industry or "").strip().casefold() not in self.industries:
            return False
        if self.min_employees is not None or self.max_employees is not None:
            if lead.employees is None:
                return False
            if self.min_employees is not None and lead.employees < self.min_employees:
                return False
            if self.max_employees is not None and lead.employees > self.max_employees:
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """The rule as stored (JSON-compatible)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "team": self.team,
            "countries": sorted(self.countries),
            "regions": sorted(self.regions),
            "industries": sorted(self.industries),
            "min_employees": self.min_employees,
            "max_employees": self.max_employees,
            "rep_ids": list(self.rep_ids),
        }


@dataclass(frozen=True)
class RoutingRules:
    """A versioned routing configuration: named-account owners, ordered rules, default team."""

    rules: tuple[RoutingRule, ...]
    default_team: str
    named_accounts: Mapping[str, str] = field(default_factory=dict)
    version: int = 1

    @classmethod
    def from_dict(cls, data: object) -> RoutingRules:
        """Parse and validate a stored configuration; ``RoutingError`` names every bad field."""
        return parse_routing_rules(data)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as stored; ``from_dict(to_dict())`` gives it back."""
        return {
            "version": self.version,
            "default_team": self.default_team,
            "named_accounts": dict(self.named_accounts),
            "rules": [rule.to_dict() for rule in self.rules],
        }


_RULE_KEYS = frozenset(RoutingRule.__dataclass_fields__)
_CONFIG_KEYS = frozenset({"version", "default_team", "named_accounts", "rules"})


def _text(value: object, loc: str, errors: ErrorList) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.append((loc, f"expected a non-empty text, got {value!r}"))
        return ""
    return value.strip()


def _texts(value: object, loc: str, errors: ErrorList) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        errors.append((loc, f"expected a list of non-empty texts, got {value!r}"))
        return ()
    return tuple(v.strip() for v in value)


def _bound(value: object, loc: str, errors: ErrorList) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors.append((loc, f"expected a non-negative integer, got {value!r}"))
        return None
    return value


def _parse_rule(data: object, loc: str, errors: ErrorList) -> RoutingRule | None:
    if not isinstance(data, Mapping):
        errors.append((loc, f"expected an object, got {type(data).__name__}"))
        return None
    before = len(errors)
    errors.extend((f"{loc}.{key}", "unknown field") for key in data if key not in _RULE_KEYS)
    name = _text(data.get("name"), f"{loc}.name", errors)
    team = _text(data.get("team"), f"{loc}.team", errors)
    raw_kind = data.get("kind")
    kind = None
    if raw_kind in (RuleKind.TERRITORY.value, RuleKind.SEGMENT.value):
        kind = RuleKind(str(raw_kind))
    else:
        errors.append((f"{loc}.kind", f"expected 'territory' or 'segment', got {raw_kind!r}"))
    countries = _texts(data.get("countries"), f"{loc}.countries", errors)
    regions = _texts(data.get("regions"), f"{loc}.regions", errors)
    industries = _texts(data.get("industries"), f"{loc}.industries", errors)
    low = _bound(data.get("min_employees"), f"{loc}.min_employees", errors)
    high = _bound(data.get("max_employees"), f"{loc}.max_employees", errors)
    rep_ids = _texts(data.get("rep_ids"), f"{loc}.rep_ids", errors)
    if low is not None and high is not None and low > high:
        errors.append((f"{loc}.max_employees", f"{high} is below min_employees {low}"))
    if kind is RuleKind.TERRITORY and not (countries or regions):
        errors.append((f"{loc}.countries", "a territory rule needs countries or regions"))
    if kind is RuleKind.SEGMENT and not (industries or low is not None or high is not None):
        errors.append((f"{loc}.industries", "a segment rule needs industries or employee bounds"))
    if len(errors) > before or kind is None:
        return None
    return RoutingRule(
        name, kind, team, _fold(countries), _fold(regions), _fold(industries), low, high, rep_ids
    )


def parse_routing_rules(data: object) -> RoutingRules:
    """``RoutingRules`` from their JSON-like stored form, or ``RoutingError`` naming every bad
    field (``rules[2].kind: expected 'territory' or 'segment', got 'teritory'``)."""
    if not isinstance(data, Mapping):
        raise RoutingError([("routing", f"expected an object, got {type(data).__name__}")])
    errors: ErrorList = [(key, "unknown field") for key in data if key not in _CONFIG_KEYS]
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        errors.append(("version", f"expected a positive integer, got {version!r}"))
    default_team = _text(data.get("default_team"), "default_team", errors)
    named = data.get("named_accounts", {})
    owners: dict[str, str] = {}
    if not isinstance(named, Mapping):
        errors.append(("named_accounts", "expected an object of account id → rep id"))
    else:
        for account, rep_id in named.items():
            owners[str(account)] = _text(rep_id, f"named_accounts.{account}", errors)
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list | tuple):
        errors.append(("rules", "expected a list"))
        raw_rules = []
    rules: list[RoutingRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        rule = _parse_rule(raw, f"rules[{i}]", errors)
        if rule is None:
            continue
        if rule.name in seen:
            errors.append((f"rules[{i}].name", f"duplicate rule name {rule.name!r}"))
        seen.add(rule.name)
        rules.append(rule)
    if errors:
        raise RoutingError(errors)
    assert isinstance(version, int)
    return RoutingRules(tuple(rules), default_team, MappingProxyType(owners), version)


@dataclass(frozen=True)
class RotationState:
    """Smooth weighted round-robin counters: pool key → rep id → current weight."""

    counters: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, dict[str, int]]:
        """JSON-compatible form for persistence."""
        return {pool: dict(reps) for pool, reps in self.counters.items()}

    @classmethod
    def from_dict(cls, data: object) -> RotationState:
        """Read persisted counters back; ``RoutingError`` if they are malformed."""
        if not isinstance(data, Mapping):
            raise RoutingError([("rotation", "expected an object of pool → rep → counter")])
        counters: dict[str, Mapping[str, int]] = {}
        for pool, reps in data.items():
            if not isinstance(reps, Mapping) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in reps.values()
            ):
                raise RoutingError([(f"rotation.{pool}", "expected rep id → integer counter")])
            counters[str(pool)] = MappingProxyType({str(k): int(v) for k, v in reps.items()})
        return cls(MappingProxyType(counters))

    def pick(
        self, pool: str, members: Sequence[str], eligible: Sequence[Rep]
    ) -> tuple[Rep, RotationState]:
        """Choose among ``eligible`` (non-empty) and return the advanced state.

        Counters of the pool's other ``members`` (excluded for now) are kept unchanged, so a
        rep back from leave resumes where they were; counters of reps who left the pool are
        dropped. Ties go to the smallest rep id, which makes the choice deterministic.
        """
        current = {rep_id: self.counters.get(pool, {}).get(rep_id, 0) for rep_id in members}
        ordered = sorted(eligible, key=lambda rep: rep.id)
        for rep in ordered:
            current[rep.id] = current.get(rep.id, 0) + rep.weight
        best = max(ordered, key=lambda rep: current[rep.id])  # first maximum: smallest id
        current[best.id] -= sum(rep.weight for rep in ordered)
        counters = dict(self.counters)
        counters[pool] = MappingProxyType(current)
        return best, RotationState(MappingProxyType(counters))


@dataclass(frozen=True)
class RoutingDecision:
    """Where a lead goes: a rep (``owner_id``) or, when nobody is eligible, a ``team_queue``.

    ``rule`` is the name of the rule that matched (or the named account / default team),
    ``explanation`` says why, step by step, and ``rotation`` is the state to persist.
    """

    owner_id: str | None
    team_queue: str | None
    rule: str
    kind: RuleKind
    explanation: tuple[str, ...]
    rotation: RotationState


def _index(reps: Iterable[Rep]) -> dict[str, Rep]:
    by_id: dict[str, Rep] = {}
    for rep in reps:
        if rep.id in by_id:
            raise RoutingError([("reps", f"duplicate rep id {rep.id!r}")])
        by_id[rep.id] = rep
    return by_id


def _assign(
    *,
    lead: Lead,
    pool_key: str,
    team: str,
    members: Sequence[str],
    reps: Mapping[str, Rep],
    state: RotationState,
    exclude: frozenset[str],
    rule: str,
    kind: RuleKind,
    steps: list[str],
) -> RoutingDecision:
    eligible: list[Rep] = []
    skipped: list[str] = []
    for rep_id in members:
        rep = reps.get(rep_id)
        reason = (
            "unknown rep"
            if rep is None
            else "already had this handoff"
            if rep_id in exclude
            else rep.exclusion(lead)
        )
        if reason is None and rep is not None:
            eligible.append(rep)
        else:
            skipped.append(f"{rep_id} ({reason})")
    if skipped:
        steps.append("not eligible: " + ", ".join(skipped))
    if not eligible:
        why = f"team {team!r} has no reps" if not members else "no eligible rep"
        steps.append(f"{why}: handoff waits in the {team!r} team queue")
        return RoutingDecision(None, team, rule, kind, tuple(steps), state)
    chosen, rotation = state.pick(pool_key, members, eligible)
    steps.append(
        f"weighted round-robin among {len(eligible)} eligible rep(s) of team {team!r}: {chosen.id}"
    )
    return RoutingDecision(chosen.id, None, rule, kind, tuple(steps), rotation)


def _team_members(team: str, reps: Mapping[str, Rep]) -> list[str]:
    return sorted(rep.id for rep in reps.values() if rep.team == team)


def _route(
    lead: Lead,
    rules: RoutingRules,
    reps: Mapping[str, Rep],
    state: RotationState,
    exclude: frozenset[str],
) -> RoutingDecision:
    steps: list[str] = []
    owner_id = rules.named_accounts.get(lead.account_id) if lead.account_id else None
    if owner_id is not None:
        owner = reps.get(owner_id)
        if owner is None:
            steps.append(f"named account owner {owner_id!r} is not a known rep; using the rules")
        else:
            reason = (
                "already had this handoff"
                if owner_id in exclude
                else owner.exclusion(lead, for_round_robin=False)
            )
            if reason is None:
                steps.append(f"account {lead.account_id} is a named account owned by {owner_id}")
                return RoutingDecision(
                    owner_id, None, "named account", RuleKind.NAMED_ACCOUNT, tuple(steps), state
                )
            steps.append(
                f"named account owner {owner_id} is {reason}: routing within team {owner.team!r}"
            )
            return _assign(
                lead=lead,
                pool_key=f"team:{owner.team}",
                team=owner.team,
                members=[m for m in _team_members(owner.team, reps) if m != owner_id],
                reps=reps,
                state=state,
                exclude=exclude,
                rule="named account",
                kind=RuleKind.NAMED_ACCOUNT,
                steps=steps,
            )
    for rule in rules.rules:
        if rule.matches(lead):
            steps.append(f"matched {rule.kind.value} rule {rule.name!r} → team {rule.team!r}")
            members = list(rule.rep_ids) or _team_members(rule.team, reps)
            return _assign(
                lead=lead,
                pool_key=f"rule:{rule.name}",
                team=rule.team,
                members=members,
                reps=reps,
                state=state,
                exclude=exclude,
                rule=rule.name,
                kind=rule.kind,
                steps=steps,
            )
    steps.append(f"no rule matched → default team {rules.default_team!r}")
    return _assign(
        lead=lead,
        pool_key=f"team:{rules.default_team}",
        team=rules.default_team,
        members=_team_members(rules.default_team, reps),
        reps=reps,
        state=state,
        exclude=exclude,
        rule="default",
        kind=RuleKind.DEFAULT,
        steps=steps,
    )


def route(
    lead: Lead, rules: RoutingRules, reps: Iterable[Rep], state: RotationState
) -> RoutingDecision:
    """Route a new handoff: to a rep, or to a team queue with the reason. Deterministic."""
    return _route(lead, rules, _index(reps), state, frozenset())


def next_owner_after_breach(
    lead: Lead,
    rules: RoutingRules,
    reps: Iterable[Rep],
    state: RotationState,
    current_owner_id: str,
    previous_owner_ids: Iterable[str] = (),
) -> RoutingDecision:
    """Route a handoff whose SLA was breached: the same rules, but never to the current owner
    (nor to anyone who already had it); the team queue when nobody else is eligible."""
    excluded = frozenset({current_owner_id, *previous_owner_ids})
    return _route(lead, rules, _index(reps), state, excluded)
