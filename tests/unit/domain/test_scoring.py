"""Scoring: fit rules, decaying engagement, exact explanations, incremental and batch paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.scoring import (
    FitRule,
    Operator,
    Profile,
    RuleError,
    Score,
    ScoringError,
    ScoringModel,
    StaleScoreError,
    Touch,
    TouchColumns,
    add_touch,
    crosses_threshold,
    default_scoring_model,
    parse_fit_rule,
    parse_scoring_model,
    score_contact,
    score_many,
    score_state,
)

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
MODEL = default_scoring_model()


def model(**overrides: Any) -> ScoringModel:
    data: dict[str, Any] = {
        "version": 1,
        "half_life_days": 14,
        "mql_threshold": 50,
        "fit_rules": [],
        "engagement_points": {"hand_raise": 40, "page_view": 1, "email_open": -2},
    }
    data.update(overrides)
    return parse_scoring_model(data)


def rule(operator: str, value: Any, attribute: str = "x") -> FitRule:
    return parse_fit_rule(
        {"attribute": attribute, "operator": operator, "value": value, "points": 10}
    )


@pytest.mark.parametrize(
    ("operator", "value", "attribute", "expected"),
    [
        ("eq", "Software", "software ", True),
        ("eq", "software", "hardware", False),
        ("eq", 250, "250", True),
        ("eq", True, True, True),
        ("eq", True, False, False),
        ("ne", "US", "de", True),
        ("ne", "US", None, False),  # absent attributes match nothing but `missing`
        ("in", ["US", "CA"], "ca", True),
        ("in", ["US", "CA"], "MX", False),
        ("not_in", ["US", "CA"], "MX", True),
        ("not_in", ["US", "CA"], "", False),
        ("gt", 100, 101, True),
        ("gt", 100, 100, False),
        ("gte", 100, "100", True),
        ("gte", 100, "lots", False),
        ("gte", 100, True, False),  # booleans are not numbers
        ("lt", 10, 9.5, True),
        ("lte", 10, 11, False),
        ("lte", 10, Decimal("9.5"), True),  # numbers from the ORM may arrive as Decimal
        ("between", [50, 999], 50, True),
        ("between", [50, 999], 999, True),
        ("between", [50, 999], "1,000", False),
        ("contains", "vp", "SVP of Sales", True),
        ("contains", ["student", "intern"], "Marketing Intern", True),
        ("contains", ["student", "intern"], "CEO", False),
        ("not_contains", "intern", "CEO", True),
        ("not_contains", "intern", None, False),
        ("starts_with", ["head of", "chief"], "Chief Revenue Officer", True),
        ("starts_with", "head of", "Deputy Head of Sales", False),
        ("exists", None, "x", True),
        ("exists", None, "  ", False),
        ("missing", None, None, True),
        ("missing", None, "x", False),
    ],
)
def test_fit_rule_operators(operator: str, value: Any, attribute: Any, expected: bool) -> None:
    profile: Profile = {} if attribute is None else {"x": attribute}
    assert rule(operator, value).matches(profile) is expected


@pytest.mark.parametrize(
    ("data", "loc", "fragment"),
    [
        ({"attribute": "x", "operator": "gtx", "value": 1, "points": 1}, "operator", "gtx"),
        ({"attribute": "", "operator": "eq", "value": 1, "points": 1}, "attribute", "text"),
        ({"attribute": "x", "operator": "gte", "value": "ten", "points": 1}, "value", "number"),
        ({"attribute": "x", "operator": "in", "value": [], "points": 1}, "value", "non-empty"),
        ({"attribute": "x", "operator": "in", "value": "US", "points": 1}, "value", "list"),
        ({"attribute": "x", "operator": "in", "value": [{"a": 1}], "points": 1}, "value", "texts"),
        ({"attribute": "x", "operator": "between", "value": [9, 1], "points": 1}, "value", "low"),
        ({"attribute": "x", "operator": "between", "value": [1], "points": 1}, "value", "[low"),
        ({"attribute": "x", "operator": "contains", "value": [" "], "points": 1}, "value", "text"),
        ({"attribute": "x", "operator": "exists", "value": 3, "points": 1}, "value", "no value"),
        ({"attribute": "x", "operator": "eq", "value": "", "points": 1}, "value", "text"),
        ({"attribute": "x", "operator": "eq", "value": 1}, "points", "required"),
        ({"attribute": "x", "operator": "eq", "value": 1, "points": 1.25}, "points", "decimal"),
        ({"attribute": "x", "operator": "eq", "value": 1, "points": 1e6}, "points", "between"),
        ({"attribute": "x", "operator": "eq", "value": 1, "points": True}, "points", "number"),
        ({"attribute": "x", "operator": "eq", "value": 1, "points": 1, "why": 2}, "why", "unknown"),
        ({"attribute": "x", "operator": "eq", "value": 1, "points": 1, "reason": 3}, "reason", ""),
    ],
)
def test_malformed_rule_is_rejected_naming_the_field(
    data: dict[str, Any], loc: str, fragment: str
) -> None:
    with pytest.raises(RuleError) as caught:
        parse_scoring_model(
            {"half_life_days": 14, "mql_threshold": 50, "fit_rules": [{}, data][1:]}
        )
    assert caught.value.errors[0].loc == f"fit_rules[0].{loc}"
    assert fragment in caught.value.errors[0].msg
    assert str(caught.value).startswith(f"fit_rules[0].{loc}: ")


def test_every_error_in_a_model_is_reported_at_once() -> None:
    with pytest.raises(RuleError) as caught:
        parse_scoring_model(
            {
                "version": 0,
                "half_life_days": -1,
                "mql_threshold": "high",
                "fit_rules": [
                    {"attribute": "industry", "operator": "eq", "value": "x", "points": 1},
                    "not a rule",
                    {"attribute": "employees", "operator": "gtx", "value": 1, "points": 1},
                ],
                "engagement_points": {"pricing_page": 10, "page_view": "lots"},
                "extra": 1,
            }
        )
    locs = {error.loc for error in caught.value.errors}
    assert locs == {
        "extra",
        "version",
        "half_life_days",
        "mql_threshold",
        "fit_rules[1]",
        "fit_rules[2].operator",
        "engagement_points.pricing_page",
        "engagement_points.page_view",
    }


@pytest.mark.parametrize("data", [None, [], "model"])
def test_a_model_must_be_an_object(data: object) -> None:
    with pytest.raises(RuleError, match=r"^model: "):
        parse_scoring_model(data)


def test_stored_model_round_trips() -> None:
    assert ScoringModel.from_dict(MODEL.to_dict()) == MODEL


def test_default_model_weighs_hand_raises_over_pricing_over_blog() -> None:
    points = MODEL.engagement_points
    assert points["hand_raise"] > points["high_intent_page"] > points["webinar"]
    assert points["webinar"] >= points["content_download"] > points["page_view"]
    assert points["page_view"] <= points["email_open"] <= 1


@pytest.mark.parametrize(
    ("kind", "age_days", "expected"),
    [
        ("hand_raise", 0, Decimal("40.0")),
        ("hand_raise", 14, Decimal("20.0")),
        ("hand_raise", 28, Decimal("10.0")),
        ("hand_raise", 7, Decimal("28.3")),  # 40 / sqrt(2)
        ("hand_raise", -1, Decimal("40.0")),  # clock skew: a future touch never grows
        ("hand_raise", 14 * 20, Decimal("0.0")),
        ("page_view", 0, Decimal("1.0")),
        ("email_open", 14, Decimal("-1.0")),
        ("demo", 0, Decimal("0.0")),  # a kind the model does not score
    ],
)
def test_engagement_decays_with_the_half_life(kind: str, age_days: int, expected: Decimal) -> None:
    touch = Touch(kind, NOW - timedelta(days=age_days))
    score = score_contact({}, [touch], model(), NOW)
    assert score.engagement == expected
    assert score.total == expected


def test_explanation_names_rules_and_touches() -> None:
    profile: Profile = {
        "industry": "SaaS",
        "employees": 120,
        "seniority": "vp",
        "job_title": "VP Sales",
    }
    touches = [
        Touch("high_intent_page", NOW - timedelta(days=14)),
        Touch("hand_raise", NOW - timedelta(hours=1)),
    ]
    score = score_contact(profile, touches, MODEL, NOW)
    assert [(line.points, line.reason) for line in score.explanation] == [
        (Decimal("15.0"), "Target industry"),
        (Decimal("15.0"), "Mid-market company (50-999 employees)"),
        (Decimal("15.0"), "Decision maker"),
        (Decimal("39.9"), "hand raise"),
        (Decimal("7.5"), "high intent page"),
    ]
    assert score.explanation[-1].when == NOW - timedelta(days=14)
    assert score.explanation[0].when is None
    assert (score.fit, score.engagement, score.total) == (
        Decimal(45),
        Decimal("47.4"),
        Decimal("92.4"),
    )


def test_rule_without_reason_is_described_from_its_condition() -> None:
    parsed = parse_fit_rule({"attribute": "country", "operator": "in", "value": ["DE", "AT"],
                             "points": -5})  # fmt: skip
    assert parsed.reason == "country in [de, at]"
    assert parsed.operator is Operator.IN


def test_explanation_sums_exactly_even_when_every_line_rounds() -> None:
    # Seven identical touches of 0.95 raw points each: naive per-line rounding would give
    # 7 x 1.0 = 7.0 but the engagement is round(6.65) = 6.6 (half to even on the float).
    age = timedelta(days=14) * 0.0740  # 2**-0.074 ~ 0.95
    touches = [Touch("page_view", NOW - age)] * 7
    score = score_contact({}, touches, model(), NOW)
    assert sum(line.points for line in score.explanation) == score.engagement
    assert len(score.explanation) == 7


kinds = st.sampled_from(["hand_raise", "high_intent_page", "page_view", "email_open", "demo"])
ages = st.floats(min_value=-2, max_value=200, allow_nan=False)
touch_lists = st.lists(st.tuples(kinds, ages), max_size=40)
profiles = st.fixed_dictionaries(
    {},
    optional={
        "industry": st.sampled_from(["software", "education", "retail", ""]),
        "employees": st.one_of(st.integers(0, 5000), st.sampled_from(["75", "n/a"])),
        "country": st.sampled_from(["US", "de", "BR"]),
        "seniority": st.sampled_from(["vp", "manager", "individual"]),
        "job_title": st.sampled_from(["Student", "CTO", "Sales Intern"]),
    },
)


def touches_from(raw: list[tuple[str, float]]) -> list[Touch]:
    return [Touch(kind, NOW - timedelta(days=age)) for kind, age in raw]


@settings(max_examples=300, deadline=None)
@given(profile=profiles, raw=touch_lists)
def test_explanation_lines_sum_exactly_to_the_score(
    profile: Profile, raw: list[tuple[str, float]]
) -> None:
    score = score_contact(profile, touches_from(raw), MODEL, NOW)
    assert sum((line.points for line in score.explanation), Decimal(0)) == score.total
    assert score.fit + score.engagement == score.total
    assert all(line.points == line.points.quantize(Decimal("0.1")) for line in score.explanation)
    assert all(line.points != 0 for line in score.explanation)


@settings(max_examples=200, deadline=None)
@given(profile=profiles, raw=touch_lists)
def test_incremental_updates_match_a_full_score(
    profile: Profile, raw: list[tuple[str, float]]
) -> None:
    # Touches arrive in time order; each is added at the moment it happens.
    ordered = sorted(touches_from([(k, max(a, 0)) for k, a in raw]), key=lambda t: t.occurred_at)
    start = NOW - timedelta(days=365)
    state = score_state(profile, [], MODEL, start)
    for touch in ordered:
        state = add_touch(state, touch, MODEL, touch.occurred_at)
    full = score_contact(profile, ordered, MODEL, NOW)
    direct = score_state(profile, ordered, MODEL, NOW)
    carried = state.engagement_value * MODEL.decay((NOW - state.as_of).total_seconds())
    assert carried == pytest.approx(direct.engagement_value, rel=1e-9, abs=1e-9)
    # Float summation order may flip a rounding at an exact .x5 boundary, never more.
    assert abs(state.total_at(NOW, MODEL) - full.total) <= Decimal("0.1")
    assert direct.total_at(NOW, MODEL) == full.total


def test_add_touch_is_the_closed_form_of_decay() -> None:
    m = model()
    state = score_state({}, [Touch("hand_raise", NOW)], m, NOW)
    later = NOW + timedelta(days=14)
    state = add_touch(state, Touch("page_view", later), m, later)
    assert state.engagement_value == pytest.approx(21.0)
    assert state.as_of == later
    assert state.total_at(later + timedelta(days=14), m) == Decimal("10.5")


def test_late_touch_is_decayed_to_the_state_time() -> None:
    m = model()
    state = score_state({}, [], m, NOW)
    state = add_touch(state, Touch("hand_raise", NOW - timedelta(days=14)), m, NOW)
    assert state.engagement_value == pytest.approx(20.0)


def test_stale_state_is_refused() -> None:
    state = score_state({}, [], model(version=1), NOW)
    with pytest.raises(StaleScoreError, match=r"^model_version: "):
        add_touch(state, Touch("page_view", NOW), model(version=2), NOW)


def test_naive_times_are_refused_naming_the_field() -> None:
    with pytest.raises(ScoringError, match=r"^touches\[1\]\.occurred_at: "):
        score_contact({}, [Touch("page_view", NOW), Touch("page_view", datetime(2024, 1, 1))],
                      MODEL, NOW)  # fmt: skip
    with pytest.raises(ScoringError, match=r"^now: "):
        score_contact({}, [], MODEL, datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (Decimal("49.9"), Decimal("50.0"), True),
        (Decimal("10"), Decimal("80"), True),
        (Decimal("50"), Decimal("60"), False),  # already an MQL
        (Decimal("30"), Decimal("49.9"), False),
        (Decimal("60"), Decimal("40"), False),  # falling below is not a crossing
    ],
)
def test_crosses_threshold(before: Decimal, after: Decimal, expected: bool) -> None:
    assert crosses_threshold(before, after, model()) is expected
    as_score = Score(Decimal(0), after, after, (), 1)
    assert crosses_threshold(before, as_score, model()) is expected


def random_population(
    rng: np.random.Generator, contacts: int, touches: int
) -> tuple[list[Profile], TouchColumns]:
    industries = ["software", "education", "retail", "fintech"]
    profiles: list[Profile] = [
        {
            "industry": industries[int(rng.integers(4))],
            "employees": int(rng.integers(1, 3000)),
            "country": ["US", "DE", "BR"][int(rng.integers(3))],
            "seniority": ["vp", "manager", "individual"][int(rng.integers(3))],
        }
        for _ in range(contacts)
    ]
    kinds = np.array(["hand_raise", "high_intent_page", "page_view", "email_open", "demo"])
    ages = rng.uniform(-1, 120, touches) * 86_400e6
    occurred = np.datetime64(NOW.replace(tzinfo=None), "us") - ages.astype("timedelta64[us]")
    columns = TouchColumns(
        contact_index=rng.integers(0, contacts, touches),
        kind=kinds[rng.integers(0, len(kinds), touches)],
        occurred_at=occurred,
    )
    return profiles, columns


def test_score_many_agrees_with_score_contact() -> None:
    rng = np.random.default_rng(7)
    profiles, columns = random_population(rng, contacts=200, touches=3000)
    batch = score_many(profiles, columns, MODEL, NOW)
    stamps = columns.occurred_at.astype("datetime64[us]").astype(datetime)
    for i, profile in enumerate(profiles):
        mine = np.flatnonzero(columns.contact_index == i)
        touches = [Touch(str(columns.kind[int(j)]), stamps[j].replace(tzinfo=UTC)) for j in mine]
        single = score_contact(profile, touches, MODEL, NOW)
        assert Decimal(str(batch.fit[i])) == single.fit
        assert batch.total_of(i) == single.total
        assert batch.state(i).engagement_value == pytest.approx(
            score_state(profile, touches, MODEL, NOW).engagement_value, rel=1e-9, abs=1e-9
        )
    assert batch.as_of == NOW


def test_score_many_handles_contacts_without_touches() -> None:
    batch = score_many(
        [{"industry": "software"}, {}],
        TouchColumns(np.array([], dtype=np.int64), [], np.array([], dtype="datetime64[us]")),
        MODEL,
        NOW,
    )
    assert batch.total.tolist() == [15.0, 0.0]


@pytest.mark.parametrize(
    ("columns", "loc"),
    [
        (TouchColumns(np.array([0, 2]), ["page_view"] * 2, np.array(["2024-01-01"] * 2,
                      dtype="datetime64[D]")), "touches.contact_index"),
        (TouchColumns(np.array([0]), ["page_view"] * 2, np.array(["2024-01-01"] * 2,
                      dtype="datetime64[D]")), "touches"),
        (TouchColumns(np.array([0]), ["page_view"], np.array([1.5])), "touches.occurred_at"),
        (TouchColumns(np.array([0]), ["page_view"], np.array(["NaT"], dtype="datetime64[us]")),
         "touches.occurred_at"),
    ],
)  # fmt: skip
def test_score_many_rejects_malformed_columns(columns: TouchColumns, loc: str) -> None:
    with pytest.raises(ScoringError, match=rf"^{loc}: "):
        score_many([{}, {}], columns, MODEL, NOW)
