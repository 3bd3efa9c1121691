from __future__ import annotations

import numpy as np
import pytest

from onefunnel.domain.attribution import AttributionInputError, GroupedJourneys


def test_from_paths_stores_paths_as_flat_arrays() -> None:
    journeys = GroupedJourneys.from_paths([["a", "b"], ["b"], ["c", "a", "c"]], [1, 0, 2])

    assert journeys.channels == ("a", "b", "c")
    assert journeys.touch_channels.tolist() == [0, 1, 1, 2, 0, 2]
    assert journeys.offsets.tolist() == [0, 2, 3, 6]
    assert journeys.lengths.tolist() == [2, 1, 3]
    assert journeys.path_of_touch.tolist() == [0, 0, 1, 2, 2, 2]
    assert journeys.position.tolist() == [0, 1, 0, 0, 1, 2]
    assert journeys.path(2) == ("c", "a", "c")
    assert journeys.total_conversions == 3.0
    assert journeys.total_value is None


@pytest.mark.parametrize(
    ("paths", "conversions", "nulls", "values", "message"),
    [
        ([["a"], []], [1, 1], None, None, "path 2 is empty"),
        ([["a"], ["b"]], [1, -1], None, None, "path 2 has negative conversions"),
        ([["a"]], [1], [-2], None, "path 1 has negative nulls"),
        ([["a"]], [1], None, [float("nan")], "path 1 has a non-finite values"),
        ([["a"], ["b"]], [1], None, None, "conversions has 1 entries for 2 paths"),
        ([["a", ""]], [1], None, None, "channel names must not be empty"),
    ],
)
def test_invalid_journeys_are_rejected_naming_the_path(
    paths: list[list[str]],
    conversions: list[float],
    nulls: list[float] | None,
    values: list[float] | None,
    message: str,
) -> None:
    with pytest.raises(AttributionInputError, match=message):
        GroupedJourneys.from_paths(paths, conversions, nulls=nulls, values=values)


def test_touch_referring_to_unknown_channel_is_rejected() -> None:
    with pytest.raises(AttributionInputError, match="outside"):
        GroupedJourneys(
            channels=("a",),
            touch_channels=np.array([0, 1]),
            offsets=np.array([0, 2]),
            conversions=np.array([1.0]),
            nulls=np.array([0.0]),
        )


def test_negative_touch_age_is_rejected() -> None:
    with pytest.raises(AttributionInputError, match="touch 2 has a negative"):
        GroupedJourneys.from_paths([["a", "b"]], [1], touch_ages_days=[[1.0, -1.0]])
