"""Routing: each rule kind, eligibility (capacity, availability, territory), fairness of the
weighted round-robin, escalation after an SLA breach, and validation of stored rules."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.routing import (
    Lead,
    Rep,
    RotationState,
    RoutingError,
    RoutingRules,
    RuleKind,
    next_owner_after_breach,
    parse_routing_rules,
    route,
)

RULES = parse_routing_rules(
    {
        "version": 3,
        "default_team": "inside",
        "named_accounts": {"acme": "olga", "globex": "ghost"},
        "rules": [
            {"name": "enterprise", "kind": "segment", "team": "enterprise", "min_employees": 1000},
            {"name": "dach", "kind": "territory", "team": "emea", "countries": ["DE", "AT", "CH"]},
            {"name": "nordics", "kind": "territory", "team": "emea", "regions": ["Nordics"],
             "rep_ids": ["erik"]},
            {"name": "fintech", "kind": "segment", "team": "fin", "industries": ["fintech"],
             "max_employees": 999},
        ],
    }
)  # fmt: skip
REPS = [
    Rep("olga", "enterprise", weight=1),
    Rep("edgar", "enterprise", weight=2),
    Rep("anna", "emea"),
    Rep("bernd", "emea"),
    Rep("erik", "emea", territories=frozenset({"nordics"})),
    Rep("fiona", "fin"),
    Rep("ivan", "inside"),
]
EMPTY = RotationState()


@pytest.mark.parametrize(
    ("lead", "kind", "rule", "owner"),
    [
        (Lead("c1", account_id="acme", country="US"), RuleKind.NAMED_ACCOUNT, "named account",
         "olga"),
        (Lead("c2", country="US", employees=5000), RuleKind.SEGMENT, "enterprise", "edgar"),
        (Lead("c3", country="de", employees=40), RuleKind.TERRITORY, "dach", "anna"),
        (Lead("c4", country="SE", region="Nordics"), RuleKind.TERRITORY, "nordics", "erik"),
        (Lead("c5", country="US", industry="FinTech", employees=50), RuleKind.SEGMENT, "fintech",
         "fiona"),
        (Lead("c6", country="US", industry="fintech"), RuleKind.DEFAULT, "default", "ivan"),
        (Lead("c7", country="BR"), RuleKind.DEFAULT, "default", "ivan"),
        # An unknown owner does not lose the lead: the rules route it.
        (Lead("c8", account_id="globex", country="AT"), RuleKind.TERRITORY, "dach", "anna"),
    ],
)  # fmt: skip
def test_each_rule_kind(lead: Lead, kind: RuleKind, rule: str, owner: str) -> None:
    decision = route(lead, RULES, REPS, EMPTY)
    assert (decision.kind, decision.rule, decision.owner_id) == (kind, rule, owner)
    assert decision.team_queue is None
    assert decision.explanation


def test_rules_apply_in_order_first_match_wins() -> None:
    # A 5,000-employee German company matches both "enterprise" and "dach"; enterprise is first.
    decision = route(Lead("c", country="DE", employees=5000), RULES, REPS, EMPTY)
    assert decision.rule == "enterprise"


def test_named_account_owner_takes_it_regardless_of_weight_and_territory() -> None:
    reps = [Rep("olga", "enterprise", weight=0, territories=frozenset({"JP"}))]
    decision = route(Lead("c", account_id="acme", country="US"), RULES, reps, EMPTY)
    assert decision.owner_id == "olga"


@pytest.mark.parametrize(
    ("olga", "reason"),
    [
        (Rep("olga", "enterprise", available=False), "out of office"),
        (Rep("olga", "enterprise", capacity=3, open_handoffs=3), "at capacity (3/3)"),
    ],
)
def test_unavailable_named_owner_keeps_the_lead_in_their_team(olga: Rep, reason: str) -> None:
    reps = [olga, Rep("edgar", "enterprise"), Rep("anna", "emea")]
    decision = route(Lead("c", account_id="acme", country="DE"), RULES, reps, EMPTY)
    assert decision.owner_id == "edgar"
    assert decision.kind is RuleKind.NAMED_ACCOUNT
    assert reason in decision.explanation[0]


@pytest.mark.parametrize(
    ("anna", "reason"),
    [
        (Rep("anna", "emea", available=False), "anna (out of office)"),
        (Rep("anna", "emea", capacity=10, open_handoffs=10), "anna (at capacity (10/10))"),
        (Rep("anna", "emea", capacity=0), "anna (at capacity (0/0))"),
        (Rep("anna", "emea", weight=0), "anna (weight 0)"),
        (Rep("anna", "emea", territories=frozenset({"FR"})), "anna (does not cover"),
    ],
)
def test_ineligible_reps_are_skipped_with_a_reason(anna: Rep, reason: str) -> None:
    decision = route(Lead("c", country="DE"), RULES, [anna, Rep("bernd", "emea")], EMPTY)
    assert decision.owner_id == "bernd"
    assert any(reason in step for step in decision.explanation)


def test_no_eligible_rep_goes_to_the_team_queue_with_reasons() -> None:
    reps = [Rep("anna", "emea", available=False), Rep("bernd", "emea", capacity=1, open_handoffs=1)]
    decision = route(Lead("c", country="CH"), RULES, reps, EMPTY)
    assert decision.owner_id is None
    assert decision.team_queue == "emea"
    assert decision.rule == "dach"
    text = " ".join(decision.explanation)
    assert "anna (out of office)" in text
    assert "bernd (at capacity (1/1))" in text
    assert "queue" in text
    assert decision.rotation == EMPTY


def test_team_without_reps_goes_to_its_queue() -> None:
    decision = route(Lead("c", country="BR"), RULES, [Rep("anna", "emea")], EMPTY)
    assert (decision.owner_id, decision.team_queue) == (None, "inside")
    assert "has no reps" in decision.explanation[-1]


def test_rule_rep_list_with_unknown_rep_is_reported() -> None:
    decision = route(Lead("c", region="nordics"), RULES, [Rep("anna", "emea")], EMPTY)
    assert decision.team_queue == "emea"
    assert any("erik (unknown rep)" in step for step in decision.explanation)


def route_many(
    leads: int, reps: list[Rep], state: RotationState = EMPTY
) -> tuple[Counter[str], RotationState]:
    rules = RoutingRules(rules=(), default_team="inside")
    counts: Counter[str] = Counter()
    for i in range(leads):
        decision = route(Lead(f"c{i}"), rules, reps, state)
        assert decision.owner_id is not None
        counts[decision.owner_id] += 1
        state = decision.rotation
    return counts, state


def test_weighted_round_robin_is_fair_over_1000_leads() -> None:
    weights = {"a": 1, "b": 2, "c": 3, "d": 4}
    reps = [Rep(rep_id, "inside", weight=w, capacity=10_000) for rep_id, w in weights.items()]
    counts, _ = route_many(1000, reps)
    for rep_id, weight in weights.items():
        expected = 1000 * weight / sum(weights.values())
        assert abs(counts[rep_id] - expected) <= 0.02 * expected


def test_round_robin_interleaves_rather_than_bursts() -> None:
    reps = [Rep("a", "inside", weight=5), Rep("b", "inside", weight=1), Rep("c", "inside")]
    rules = RoutingRules(rules=(), default_team="inside")
    state, sequence = EMPTY, []
    for i in range(7):
        decision = route(Lead(f"c{i}"), rules, reps, state)
        sequence.append(decision.owner_id)
        state = decision.rotation
    assert sequence == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's a a b a c a a


@settings(max_examples=100, deadline=None)
@given(weights=st.lists(st.integers(1, 6), min_size=1, max_size=6), cycles=st.integers(1, 4))
def test_each_full_cycle_gives_every_rep_exactly_its_weight(
    weights: list[int], cycles: int
) -> None:
    reps = [Rep(f"r{i}", "inside", weight=w, capacity=10_000) for i, w in enumerate(weights)]
    counts, state = route_many(sum(weights) * cycles, reps)
    assert counts == Counter({f"r{i}": w * cycles for i, w in enumerate(weights)})
    assert all(value == 0 for value in state.counters["team:inside"].values())


def test_capacity_shifts_leads_to_the_others() -> None:
    rules = RoutingRules(rules=(), default_team="inside")
    open_handoffs = {"a": 0, "b": 0}
    state = EMPTY
    for i in range(10):
        reps = [Rep(r, "inside", capacity=3 if r == "a" else 100, open_handoffs=n)
                for r, n in open_handoffs.items()]  # fmt: skip
        decision = route(Lead(f"c{i}"), rules, reps, state)
        assert decision.owner_id is not None
        open_handoffs[decision.owner_id] += 1
        state = decision.rotation
    assert open_handoffs == {"a": 3, "b": 7}


def test_routing_is_deterministic_and_state_survives_persistence() -> None:
    reps = [Rep("b", "inside", weight=2), Rep("a", "inside", weight=3)]
    _, state = route_many(7, reps)
    restored = RotationState.from_dict(state.to_dict())
    rules = RoutingRules(rules=(), default_team="inside")
    first = route(Lead("x"), rules, reps, state)
    again = route(Lead("x"), rules, list(reversed(reps)), restored)
    assert first == again


def test_breach_escalates_to_the_next_eligible_rep() -> None:
    lead = Lead("c", country="DE")
    first = route(lead, RULES, REPS, EMPTY)
    assert first.owner_id == "anna"
    second = next_owner_after_breach(lead, RULES, REPS, first.rotation, "anna")
    assert second.owner_id == "bernd"
    third = next_owner_after_breach(lead, RULES, REPS, second.rotation, "bernd", ["anna"])
    assert (third.owner_id, third.team_queue) == (None, "emea")
    assert any("already had this handoff" in step for step in third.explanation)


def test_breach_by_named_owner_goes_to_their_team() -> None:
    lead = Lead("c", account_id="acme")
    decision = next_owner_after_breach(lead, RULES, REPS, EMPTY, "olga")
    assert decision.owner_id == "edgar"
    assert decision.kind is RuleKind.NAMED_ACCOUNT


def test_stored_rules_round_trip() -> None:
    assert parse_routing_rules(RULES.to_dict()) == RULES
    assert RoutingRules.from_dict(RULES.to_dict()).version == 3


@pytest.mark.parametrize(
    ("rule", "loc", "fragment"),
    [
        ({"name": "x", "kind": "teritory", "team": "t", "countries": ["DE"]}, "kind", "teritory"),
        ({"name": "x", "kind": "territory", "team": "t"}, "countries", "countries or regions"),
        ({"name": "x", "kind": "segment", "team": "t"}, "industries", "employee bounds"),
        ({"name": "", "kind": "segment", "team": "t", "min_employees": 1}, "name", "non-empty"),
        ({"name": "x", "kind": "segment", "team": 3, "min_employees": 1}, "team", "non-empty"),
        ({"name": "x", "kind": "segment", "team": "t", "min_employees": -1}, "min_employees", ""),
        ({"name": "x", "kind": "segment", "team": "t", "min_employees": 9, "max_employees": 1},
         "max_employees", "below"),
        ({"name": "x", "kind": "territory", "team": "t", "countries": "DE"}, "countries", "list"),
        ({"name": "x", "kind": "territory", "team": "t", "regions": ["EU"], "owner": "a"},
         "owner", "unknown"),
    ],
)  # fmt: skip
def test_malformed_rule_is_rejected_naming_the_field(
    rule: dict[str, Any], loc: str, fragment: str
) -> None:
    with pytest.raises(RoutingError) as caught:
        parse_routing_rules({"default_team": "inside", "rules": [rule]})
    assert caught.value.errors[0][0] == f"rules[0].{loc}"
    assert fragment in caught.value.errors[0][1]


def test_every_config_error_is_reported() -> None:
    with pytest.raises(RoutingError) as caught:
        parse_routing_rules(
            {
                "version": "2",
                "default_team": "",
                "named_accounts": {"acme": 7},
                "rules": [
                    {"name": "a", "kind": "segment", "team": "t", "min_employees": 1},
                    {"name": "a", "kind": "segment", "team": "t", "min_employees": 2},
                ],
                "extra": True,
            }
        )
    assert {loc for loc, _ in caught.value.errors} == {
        "extra",
        "version",
        "default_team",
        "named_accounts.acme",
        "rules[1].name",
    }


@pytest.mark.parametrize(
    ("build", "loc"),
    [
        (lambda: Rep("a", "t", weight=-1), "reps['a'].weight"),
        (lambda: Rep("a", "t", capacity=1.5), "reps['a'].capacity"),  # type: ignore[arg-type]
        (lambda: Rep("a", ""), "reps['a'].team"),
        (lambda: Lead(""), "contact_id"),
        (lambda: Lead("c", employees=-3), "employees"),
    ],
)
def test_bad_reps_and_leads_are_rejected(build: Any, loc: str) -> None:
    with pytest.raises(RoutingError) as caught:
        build()
    assert caught.value.errors[0][0] == loc


def test_duplicate_rep_ids_are_rejected() -> None:
    with pytest.raises(RoutingError, match=r"^reps: duplicate"):
        route(Lead("c"), RULES, [Rep("a", "inside"), Rep("a", "emea")], EMPTY)


@pytest.mark.parametrize("data", [[], {"team:x": {"a": "1"}}, {"team:x": [1]}])
def test_malformed_rotation_state_is_rejected(data: object) -> None:
    with pytest.raises(RoutingError):
        RotationState.from_dict(data)
