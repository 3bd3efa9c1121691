"""Segment specs: what is accepted, every bad field named, the JSON round trip, and the
membership history's invariants (entered and left alternate; replay equals the set diffs)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.going_cold import DEFAULT_COLD_AFTER_DAYS, is_cold, parse_cold_after
from onefunnel.domain.handoffs import HandoffStatus
from onefunnel.domain.segments import (
    Attribute,
    ContractRenewal,
    HandoffOutcome,
    MembershipKind,
    ScoreRange,
    SpecError,
    StageIn,
    Subject,
    Touches,
    membership_diff,
    parse_spec,
    replay_membership,
)
from onefunnel.domain.stages import Stage, StageReason
from onefunnel.domain.touches import TouchKind

FULL = {
    "subject": "contact",
    "all": [
        {"type": "stage", "in": ["consideration", "intent", "intent"]},
        {"type": "score", "min": 40, "max": 90.5},
        {"type": "attribute", "name": "account.industry", "equals": "Software"},
        {"type": "attribute", "name": "properties.plan", "contains": "pro"},
        {"type": "touches", "url_contains": "/pricing", "at_least": 2, "within_days": 14,
         "kind": "page_view"},
        {"type": "handoff", "status": "rejected", "reason": "not_now", "within_days": 90},
        {"type": "contract", "renewal_within_days": 60, "product": "Core"},
    ],
}  # fmt: skip


def test_a_full_spec_parses_to_its_conditions() -> None:
    spec = parse_spec(FULL)
    assert spec.subject is Subject.CONTACT
    assert spec.conditions == (
        StageIn((Stage.CONSIDERATION, Stage.INTENT)),
        ScoreRange(40.0, 90.5),
        Attribute(("account", "industry"), "equals", "Software"),
        Attribute(("properties", "plan"), "contains", "pro"),
        Touches(14, 2, TouchKind.PAGE_VIEW, None, None, "/pricing"),
        HandoffOutcome(90, HandoffStatus.REJECTED, StageReason.NOT_NOW),
        ContractRenewal(60, "Core"),
    )


def test_the_json_form_reads_back_to_the_same_spec() -> None:
    spec = parse_spec(FULL)
    assert parse_spec(spec.as_dict()) == spec


def test_an_empty_spec_is_everyone() -> None:
    assert parse_spec({}).conditions == ()
    assert parse_spec({"subject": "account"}).subject is Subject.ACCOUNT


def _locs(raw: Any) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    return [loc for loc, _ in caught.value.errors]


@pytest.mark.parametrize(
    ("raw", "locs"),
    [
        ([], ["spec"]),
        ({"all": {}}, ["all"]),
        ({"every": []}, ["every"]),
        ({"all": [1]}, ["all[0]"]),
        ({"all": [{"type": "stage", "in": []}]}, ["all[0].in"]),
        ({"all": [{"type": "stage", "in": ["hot", "intent", 3]}]}, ["all[0].in[0]", "all[0].in[2]"]),
        ({"all": [{"type": "score"}]}, ["all[0].min"]),
        ({"all": [{"type": "score", "min": True}]}, ["all[0].min"]),
        ({"all": [{"type": "score", "min": float("nan")}]}, ["all[0].min"]),
        ({"all": [{"type": "score", "min": 1e300}]}, ["all[0].min"]),
        ({"all": [{"type": "score", "min": 5, "max": 1}]}, ["all[0].max"]),
        ({"subject": "account", "all": [{"type": "score", "min": 5}]}, ["all[0]"]),
        ({"all": [{"type": "attribute", "name": "title"}]}, ["all[0].equals"]),
        ({"all": [{"type": "attribute", "name": "title", "equals": "a", "contains": "b"}]},
         ["all[0].equals"]),
        ({"all": [{"type": "attribute", "name": "password", "equals": "x"}]}, ["all[0].name"]),
        ({"all": [{"type": "attribute", "name": "properties.a b", "equals": "x"}]},
         ["all[0].name"]),
        ({"subject": "account", "all": [{"type": "attribute", "name": "account.name",
                                          "equals": "x"}]}, ["all[0].name"]),
        ({"all": [{"type": "attribute", "name": "title", "contains": ""}]}, ["all[0].contains"]),
        ({"all": [{"type": "touches"}]}, ["all[0].within_days"]),
        ({"all": [{"type": "touches", "within_days": 2**70}]}, ["all[0].within_days"]),
        ({"all": [{"type": "touches", "within_days": 1.5}]}, ["all[0].within_days"]),
        ({"all": [{"type": "touches", "within_days": 7, "at_least": 0}]}, ["all[0].at_least"]),
        ({"all": [{"type": "touches", "within_days": 7, "channel": "tv", "kind": "x"}]},
         ["all[0].kind", "all[0].channel"]),
        ({"all": [{"type": "touches", "within_days": 7, "url_contains": "x" * 201}]},
         ["all[0].url_contains"]),
        ({"all": [{"type": "touches", "within_days": 7, "colour": "red"}]}, ["all[0].colour"]),
        ({"all": [{"type": "handoff", "within_days": 7, "status": "won"}]}, ["all[0].status"]),
        ({"all": [{"type": "handoff", "within_days": 7, "status": "accepted",
                   "reason": "not_now"}]}, ["all[0].reason"]),
        ({"all": [{"type": "contract", "renewal_within_days": -1}]},
         ["all[0].renewal_within_days"]),
        ({"all": [{"type": "contract"}]}, ["all[0].renewal_within_days"]),
        ({"all": [{"type": "or"}]}, ["all[0].type"]),
        ({"all": [{"type": "stage", "in": ["intent"]}] * 51}, ["all"]),
    ],
)  # fmt: skip
def test_bad_specs_name_every_bad_field(raw: Any, locs: list[str]) -> None:
    assert _locs(raw) == locs


@given(st.lists(st.sets(st.integers(0, 20)), min_size=1, max_size=8))
def test_refresh_diffs_replay_to_the_members_and_alternate(rounds: list[set[int]]) -> None:
    history: list[tuple[int, MembershipKind]] = []
    members: frozenset[int] = frozenset()
    for now in rounds:
        diff = membership_diff(members, frozenset(now))
        assert not diff.entered & diff.left
        history += [(m, MembershipKind.ENTERED) for m in sorted(diff.entered)]
        history += [(m, MembershipKind.LEFT) for m in sorted(diff.left)]
        members = frozenset(now)
        assert replay_membership(history) == members  # raises if a member's rows do not alternate
    for member in {m for m, _ in history}:
        kinds = [k for m, k in history if m == member]
        assert kinds[0] is MembershipKind.ENTERED
        assert all(a is not b for a, b in itertools.pairwise(kinds))


def test_replay_refuses_a_history_that_does_not_alternate() -> None:
    with pytest.raises(ValueError, match="entered twice"):
        replay_membership([(1, MembershipKind.ENTERED), (1, MembershipKind.ENTERED)])
    with pytest.raises(ValueError, match="left without having entered"):
        replay_membership([(1, MembershipKind.LEFT)])


def test_cold_after_defaults_and_parsing() -> None:
    assert parse_cold_after("") == DEFAULT_COLD_AFTER_DAYS
    assert DEFAULT_COLD_AFTER_DAYS == {Stage.CONSIDERATION: 30, Stage.INTENT: 21}
    assert parse_cold_after(" intent = 7 ") == {Stage.INTENT: 7}
    for bad, message in [
        ("hot=3", "unknown stage 'hot'"),
        ("conversion=3", "conversion cannot go cold"),
        ("intent", "needs a number of days"),
        ("intent=0", "needs a number of days"),
        ("intent=x", "needs a number of days"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_cold_after(bad)


def test_a_lead_is_cold_only_when_both_its_last_touch_and_its_stage_entry_are_old() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    old, recent = now - timedelta(days=40), now - timedelta(days=5)
    assert is_cold(old, old, now, 30)
    assert is_cold(None, old, now, 30)
    assert not is_cold(recent, old, now, 30)
    assert not is_cold(old, recent, now, 30)
    assert not is_cold(None, now - timedelta(days=30), now, 30)  # exactly 30 days: not yet
