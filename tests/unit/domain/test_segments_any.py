"""``any`` conditions (OR) in segment specs: parsed with their paths named, one level only, the
JSON round trip; and every definition in words, as the segment pages show it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.segments import (
    AnyOf,
    ScoreRange,
    SpecError,
    StageIn,
    Touches,
    describe_spec,
    parse_spec,
)
from onefunnel.domain.stages import Stage

ANY = {"type": "any", "of": [{"type": "stage", "in": ["intent"]}, {"type": "score", "min": 70}]}


def _errors(raw: Any) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    return dict(caught.value.errors)


def test_an_any_parses_to_its_conditions_and_reads_back() -> None:
    spec = parse_spec({"all": [{"type": "stage", "in": ["consideration"]}, ANY]})
    assert spec.conditions[1] == AnyOf((StageIn((Stage.INTENT,)), ScoreRange(70.0, None)))
    assert spec.as_dict()["all"][1] == {
        "type": "any",
        "of": [{"type": "stage", "in": ["intent"]}, {"type": "score", "min": 70.0}],
    }
    assert parse_spec(spec.as_dict()) == spec


def test_errors_inside_an_any_name_their_path() -> None:
    bad = {
        "type": "any",
        "of": [{"type": "stage", "in": ["intent"]}, {"type": "score", "min": "x"}],
    }
    errors = _errors({"all": [{"type": "stage", "in": ["intent"]}, bad]})
    assert list(errors) == ["all[1].of[1].min"]
    errors = _errors({"all": [{"type": "any", "of": [{"type": "touches"}, {"type": "nope"}]}]})
    assert set(errors) == {"all[0].of[0].within_days", "all[0].of[1].type"}


@pytest.mark.parametrize(
    ("of", "loc"),
    [
        (None, "all[0].of"),
        ("stage", "all[0].of"),
        ([], "all[0].of"),
        ([{"type": "stage", "in": ["intent"]}], "all[0].of"),  # an OR of one is not an OR
        ([{"type": "stage", "in": ["intent"]}, ANY], "all[0].of[1].type"),  # one level only
        ([{"type": "stage", "in": ["intent"]}, 3], "all[0].of[1]"),
        ([{"type": "stage", "in": ["intent"]}] * 51, "all[0].of"),
    ],
)
def test_bad_any_is_refused_with_the_field_named(of: Any, loc: str) -> None:
    assert loc in _errors({"all": [{"type": "any", "of": of}]})


def test_an_any_refuses_unknown_fields_and_account_scores() -> None:
    assert "all[0].with" in _errors({"all": [{**ANY, "with": 1}]})
    errors = _errors({"subject": "account", "all": [ANY]})
    assert list(errors) == ["all[0].of[1]"]


@given(st.lists(st.sampled_from(list(Stage)), min_size=1, max_size=3), st.integers(0, 100))
def test_any_round_trips_for_any_stages_and_score(stages: list[Stage], low: int) -> None:
    raw = {
        "all": [
            {"type": "any", "of": [{"type": "stage", "in": [s.value for s in stages]},
                                   {"type": "score", "min": low}]}
        ]
    }  # fmt: skip
    spec = parse_spec(raw)
    assert parse_spec(spec.as_dict()) == spec
    assert isinstance(spec.conditions[0], AnyOf)


def test_a_definition_in_words() -> None:
    spec = parse_spec(
        {
            "all": [
                {"type": "stage", "in": ["consideration", "intent"]},
                {"type": "score", "min": 40},
                {"type": "touches", "url_contains": "/pricing", "at_least": 2,
                 "within_days": 14},
            ]
        }
    )  # fmt: skip
    assert describe_spec(spec) == (
        "stage is consideration or intent · score ≥ 40 · at least 2 touches on a page "
        "containing /pricing in the last 14 days"
    )
    assert describe_spec(parse_spec({"all": [ANY]})) == "any of (stage is intent | score ≥ 70)"
    assert describe_spec(parse_spec({"subject": "account"})) == "every account"


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ({"type": "stage", "in": ["awareness", "consideration", "intent"]},
         "stage is awareness, consideration or intent"),
        ({"type": "score", "min": 10, "max": 20.5}, "score between 10 and 20.5"),
        ({"type": "score", "max": 5}, "score ≤ 5"),
        ({"type": "attribute", "name": "account.industry", "equals": "Software"},
         "account.industry is “Software”"),
        ({"type": "attribute", "name": "title", "contains": "cto"}, "title contains “cto”"),
        ({"type": "attribute", "name": "first_name", "equals": "Ada"}, "first name is “Ada”"),
        ({"type": "attribute", "name": "properties.plan_tier", "equals": "pro"},
         "properties.plan_tier is “pro”"),
        ({"type": "touches", "within_days": 1, "kind": "email_click", "channel": "email"},
         "at least 1 touch of kind email click in the email channel in the last 1 day"),
        ({"type": "touches", "within_days": 7, "event": "Demo Booked"},
         "at least 1 touch of the event “Demo Booked” in the last 7 days"),
        ({"type": "handoff", "status": "rejected", "reason": "not_now", "within_days": 90},
         "a handoff rejected not-now in the last 90 days"),
        ({"type": "handoff", "within_days": 30}, "a handoff in the last 30 days"),
        ({"type": "contract", "renewal_within_days": 60, "product": "Core"},
         "an active contract for Core renewing within 60 days"),
    ],
)  # fmt: skip
def test_each_condition_in_words(condition: dict[str, Any], words: str) -> None:
    assert describe_spec(parse_spec({"all": [condition]})) == words


def test_an_any_holds_touches_beside_stages() -> None:
    # The OR holds the same plain conditions the AND does.
    spec = parse_spec(
        {
            "all": [
                {
                    "type": "any",
                    "of": [
                        {"type": "touches", "within_days": 3},
                        {"type": "stage", "in": ["intent"]},
                    ],
                }
            ]
        }
    )
    assert spec.conditions[0] == AnyOf((Touches(3), StageIn((Stage.INTENT,))))  # fmt: skip
