"""Properties every model keeps, and running models by name."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.attribution import (
    AttributionInputError,
    AttributionModel,
    GroupedJourneys,
    parse_models,
    run_models,
)
from tests.unit.domain.attribution.conftest import grouped_journeys

ALL = [m.value for m in AttributionModel]
HEURISTICS = ["first", "last", "last_non_direct", "linear", "time_decay", "position", "w_shaped"]


def by_model(
    journeys: GroupedJourneys, order: int = 1
) -> dict[str, dict[str, tuple[float, float]]]:
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for row in run_models(journeys, ALL, order=order):
        out.setdefault(row.model.value, {})[row.channel] = (row.conversions, row.value or 0.0)
    return out


@settings(max_examples=40, deadline=None)
@given(journeys=grouped_journeys(), order=st.integers(1, 4))
def test_every_model_credits_add_up_to_the_totals(journeys: GroupedJourneys, order: int) -> None:
    for model, credit in by_model(journeys, order).items():
        conversions = sum(c for c, _ in credit.values())
        value = sum(v for _, v in credit.values())
        assert conversions == pytest.approx(journeys.total_conversions, rel=1e-9), model
        assert value == pytest.approx(journeys.total_value, rel=1e-9), model


@settings(max_examples=40, deadline=None)
@given(journeys=grouped_journeys())
def test_credits_are_never_negative(journeys: GroupedJourneys) -> None:
    for model, credit in by_model(journeys).items():
        assert min(c for c, _ in credit.values()) >= -1e-12, model
        assert min(v for _, v in credit.values()) >= -1e-9, model


@settings(max_examples=40, deadline=None)
@given(journeys=grouped_journeys(), data=st.data())
def test_renaming_channels_renames_credits(journeys: GroupedJourneys, data: st.DataObject) -> None:
    names = list(journeys.channels)
    shuffled = data.draw(st.permutations(names))
    rename = dict(zip(names, (f"x-{n}" for n in shuffled), strict=True))
    renamed = GroupedJourneys(
        channels=tuple(rename[c] for c in journeys.channels),
        touch_channels=journeys.touch_channels,
        offsets=journeys.offsets,
        conversions=journeys.conversions,
        nulls=journeys.nulls,
        values=journeys.values,
    )
    before, after = by_model(journeys, order=2), by_model(renamed, order=2)
    for model in ALL:
        if model == "last_non_direct":  # "direct" is special; renamed it is not
            continue
        expected = {rename[c]: pytest.approx(v, abs=1e-9) for c, v in before[model].items()}
        assert after[model] == expected, model


@settings(max_examples=40, deadline=None)
@given(journeys=grouped_journeys(), data=st.data())
def test_reordering_paths_changes_nothing(journeys: GroupedJourneys, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(journeys.n_paths)))
    shuffled = GroupedJourneys.from_paths(
        [list(journeys.path(p)) for p in order],
        [journeys.conversions[p] for p in order],
        nulls=[journeys.nulls[p] for p in order],
        values=[journeys.values[p] for p in order] if journeys.values is not None else None,
    )
    before, after = by_model(journeys, order=3), by_model(shuffled, order=3)
    for model in ALL:
        assert after[model] == {c: pytest.approx(v, abs=1e-9) for c, v in before[model].items()}


def test_rows_come_per_model_in_the_order_asked() -> None:
    journeys = GroupedJourneys.from_paths([["a", "b"]], [1])
    rows = run_models(journeys, "shapley, first,shapley")
    assert [(r.model.value, r.channel) for r in rows] == [
        ("shapley", "a"),
        ("shapley", "b"),
        ("first", "a"),
        ("first", "b"),
    ]
    assert all(r.value is None for r in rows)


def test_parse_models_accepts_lists_and_comma_separated_names() -> None:
    assert parse_models(["markov", "linear"]) == (AttributionModel.markov, AttributionModel.linear)
    assert parse_models("w_shaped,,position") == (
        AttributionModel.w_shaped,
        AttributionModel.position,
    )


@pytest.mark.parametrize(
    ("names", "message"),
    [("markov,nope", "unknown attribution model 'nope'"), (" , ", "no attribution model")],
)
def test_bad_model_names_are_rejected_clearly(names: str, message: str) -> None:
    with pytest.raises(AttributionInputError, match=message):
        parse_models(names)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"order": 0}, "order must be between 1 and 4"), ({"half_life": 0.0}, "half-life")],
)
def test_bad_options_are_rejected(options: dict[str, float], message: str) -> None:
    journeys = GroupedJourneys.from_paths([["a"]], [1])
    with pytest.raises(AttributionInputError, match=message):
        run_models(journeys, "markov", **options)  # type: ignore[arg-type]


def test_heuristics_keep_totals_on_many_paths_of_mixed_lengths() -> None:
    # A large input runs through every heuristic and keeps the totals: a guard that the
    # reduceat-based code handles many paths of mixed lengths, including length 1.
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 12, size=5000)
    paths = [[f"c{x}" for x in rng.integers(0, 20, size=n)] for n in lengths]
    journeys = GroupedJourneys.from_paths(paths, rng.integers(0, 3, size=5000).tolist())
    for model in HEURISTICS:
        total = sum(r.conversions for r in run_models(journeys, model))
        assert total == pytest.approx(journeys.total_conversions), model
