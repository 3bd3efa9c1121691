"""Hand-checked credits of every rule-based model on tiny journeys."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from onefunnel.domain.attribution import GroupedJourneys, heuristics, run_models
from tests.unit.domain.attribution.conftest import grouped_journeys

# One journey of each interesting length, each converting once, so every credit below can be
# checked with pencil and paper:  A                 (1 touch)
#                                 A > B             (2 touches)
#                                 A > B > C         (3 touches)
#                                 A > B > C > D > A (5 touches)
PATHS = [["A"], ["A", "B"], ["A", "B", "C"], ["A", "B", "C", "D", "A"]]


def credits(model: str, paths: list[list[str]], **options: float | str) -> dict[str, object]:
    journeys = GroupedJourneys.from_paths(paths, [1] * len(paths))
    rows = run_models(journeys, model, **options)  # type: ignore[arg-type]
    return {row.channel: pytest.approx(row.conversions) for row in rows}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first", {"A": 4, "B": 0, "C": 0, "D": 0}),
        ("last", {"A": 2, "B": 1, "C": 1, "D": 0}),
        # 1 + 1/2 + 1/3 + 2/5, 1/2 + 1/3 + 1/5, 1/3 + 1/5, 1/5
        (
            "linear",
            {"A": 1 + 1 / 2 + 1 / 3 + 2 / 5, "B": 1 / 2 + 1 / 3 + 1 / 5, "C": 8 / 15, "D": 0.2},
        ),
        # U: 1; 1/2+1/2; 0.4 / 0.2 / 0.4; 0.4 + 0.4 at both ends of the 5-touch path, 0.2/3 between
        (
            "position",
            {"A": 1 + 0.5 + 0.4 + 0.8, "B": 0.5 + 0.2 + 0.2 / 3, "C": 0.4 + 0.2 / 3, "D": 0.2 / 3},
        ),
        # W: up to 3 touches even; 5 touches: first, middle (position 2: C), last 0.3; others 0.05
        (
            "w_shaped",
            {"A": 1 + 0.5 + 1 / 3 + 0.6, "B": 0.5 + 1 / 3 + 0.05, "C": 1 / 3 + 0.3, "D": 0.05},
        ),
    ],
)
def test_rule_based_models_on_hand_checked_journeys(model: str, expected: dict[str, float]) -> None:
    assert credits(model, PATHS) == expected


def test_w_shaped_middle_touch_rounds_towards_the_start_on_even_lengths() -> None:
    # 4 touches: key touches at positions 0, 1 ((4-1)//2) and 3; position 2 gets the 10 %.
    assert credits("w_shaped", [["A", "B", "C", "D"]]) == {"A": 0.3, "B": 0.3, "C": 0.1, "D": 0.3}


def test_time_decay_on_grouped_paths_halves_per_half_life_in_touches() -> None:
    # Half-life 1 touch: weights 1/4, 1/2, 1 for A, B, C, normalised by 7/4.
    assert credits("time_decay", [["A", "B", "C"]], half_life=1.0) == {
        "A": 1 / 7,
        "B": 2 / 7,
        "C": 4 / 7,
    }


def test_time_decay_with_touch_ages_uses_days() -> None:
    # Touches 14, 7 and 0 days before the conversion, half-life 7 days: weights 1/4, 1/2, 1.
    journeys = GroupedJourneys.from_paths(
        [["A", "B", "C"]], [2], values=[70.0], touch_ages_days=[[14.0, 7.0, 0.0]]
    )
    rows = {r.channel: (r.conversions, r.value) for r in run_models(journeys, "time_decay")}
    assert rows == {
        "A": pytest.approx((2 / 7, 10.0)),
        "B": pytest.approx((4 / 7, 20.0)),
        "C": pytest.approx((8 / 7, 40.0)),
    }


def test_time_decay_survives_very_old_journeys() -> None:
    journeys = GroupedJourneys.from_paths([["A", "B"]], [1], touch_ages_days=[[1e6, 1e6 - 7]])
    rows = {r.channel: r.conversions for r in run_models(journeys, "time_decay")}
    assert rows == {"A": pytest.approx(1 / 3), "B": pytest.approx(2 / 3)}


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ([["search", "direct"]], {"search": 1, "direct": 0}),
        ([["direct", "email", "direct", "direct"]], {"direct": 0, "email": 1}),
        # only direct touches: the last (direct) touch keeps the credit
        ([["direct", "direct"]], {"direct": 1}),
        ([["search", "social"]], {"search": 0, "social": 1}),
    ],
)
def test_last_non_direct_skips_direct_touches(
    paths: list[list[str]], expected: dict[str, float]
) -> None:
    assert credits("last_non_direct", paths) == expected


def test_last_non_direct_channel_name_is_configurable() -> None:
    assert credits("last_non_direct", [["email", "(none)"]], direct_channel="(none)") == {
        "email": 1,
        "(none)": 0,
    }


def test_credits_weight_paths_by_conversions_and_value() -> None:
    journeys = GroupedJourneys.from_paths(
        [["A", "B"], ["B"]], [3, 1], nulls=[5, 5], values=[300.0, 7.0]
    )
    rows = {r.channel: (r.conversions, r.value) for r in run_models(journeys, "linear")}
    assert rows == {"A": (1.5, 150.0), "B": (2.5, 157.0)}


@pytest.mark.parametrize(
    "rule",
    [
        heuristics.linear_rule,
        heuristics.position_rule,
        heuristics.w_shaped_rule,
        heuristics.touch_decay_rule(2.5),
    ],
)
@settings(max_examples=30, deadline=None)
@given(journeys=grouped_journeys(max_length=9))
def test_profile_shortcut_equals_per_touch_weights(
    rule: heuristics.Rule, journeys: GroupedJourneys
) -> None:
    length = journeys.lengths[journeys.path_of_touch]
    per_touch = heuristics.credit_touches(journeys, rule(length, journeys.position))
    shortcut = heuristics.credit_by_rule(journeys, rule)
    np.testing.assert_allclose(shortcut.conversions, per_touch.conversions, atol=1e-9)
    assert shortcut.value is not None
    assert per_touch.value is not None
    np.testing.assert_allclose(shortcut.value, per_touch.value, atol=1e-6)


def test_long_paths_fall_back_to_per_touch_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heuristics, "PROFILE_CELLS", 0)
    assert credits("position", PATHS) == {
        "A": 1 + 0.5 + 0.4 + 0.8,
        "B": 0.5 + 0.2 + 0.2 / 3,
        "C": 0.4 + 0.2 / 3,
        "D": 0.2 / 3,
    }
    assert heuristics._profile(GroupedJourneys.from_paths([["A"]], [1])) is None


@pytest.mark.parametrize("half_life", [1e-3, 0.5, 3.0, 1e6])
def test_touch_decay_weights_sum_to_one_per_path(half_life: float) -> None:
    length = np.repeat(np.arange(1, 40), np.arange(1, 40))
    position = np.concatenate([np.arange(n) for n in range(1, 40)])
    weights = heuristics.touch_decay_rule(half_life)(length, position)
    sums = np.bincount(length - 1, weights=weights)
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)
