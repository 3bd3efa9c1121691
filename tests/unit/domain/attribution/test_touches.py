"""Cutting timestamped touches into journeys."""

from __future__ import annotations

import numpy as np
import pytest

from onefunnel.domain.attribution import AttributionInputError, journeys_from_touches

DAY = 86_400.0
CHANNELS = ("search", "email", "direct")


Cut = tuple[tuple[str, ...], float, float, float, list[float]]


def cut(
    touches: list[tuple[int, float, int, bool, float]], lookback_days: float | None = None
) -> list[Cut]:
    journey, when, channel, converted, value = zip(*touches, strict=True)
    journeys = journeys_from_touches(
        journey=np.array(journey, dtype=np.int64),
        timestamp_seconds=np.array(when, dtype=np.float64) * DAY,
        channel=np.array(channel, dtype=np.int64),
        converted=np.array(converted, dtype=bool),
        value=np.array(value, dtype=np.float64),
        channels=CHANNELS,
        lookback_days=lookback_days,
    )
    assert journeys.values is not None
    assert journeys.touch_ages_days is not None
    out: list[Cut] = []
    for p in range(journeys.n_paths):
        ages = journeys.touch_ages_days[journeys.offsets[p] : journeys.offsets[p + 1]]
        out.append(
            (
                journeys.path(p),
                float(journeys.conversions[p]),
                float(journeys.nulls[p]),
                float(journeys.values[p]),
                ages.tolist(),
            )
        )
    return out


def test_touches_are_ordered_by_time_and_cut_at_each_conversion() -> None:
    touches = [
        # journey 7, out of order in the input; converts on day 5 and again on day 9
        (7, 5.0, 1, True, 120.0),
        (7, 1.0, 0, False, 0.0),
        (7, 8.0, 2, False, 0.0),
        (7, 9.0, 0, True, 80.0),
        (7, 12.0, 1, False, 0.0),  # after the last conversion: a non-converting path
        (3, 2.0, 2, False, 99.0),  # never converts: value on a non-converting row is ignored
    ]
    assert cut(touches) == [
        (("direct",), 0.0, 1.0, 0.0, [0.0]),
        (("search", "email"), 1.0, 0.0, 120.0, [4.0, 0.0]),
        (("direct", "search"), 1.0, 0.0, 80.0, [1.0, 0.0]),
        (("email",), 0.0, 1.0, 0.0, [0.0]),
    ]


def test_lookback_window_drops_old_touches_but_keeps_the_converting_one() -> None:
    touches = [
        (1, 0.0, 0, False, 0.0),
        (1, 25.0, 1, False, 0.0),
        (1, 30.0, 2, True, 10.0),
        (2, 0.0, 1, True, 5.0),
    ]
    assert cut(touches, lookback_days=7) == [
        (("email", "direct"), 1.0, 0.0, 10.0, [5.0, 0.0]),
        (("email",), 1.0, 0.0, 5.0, [0.0]),
    ]
    assert cut(touches, lookback_days=30)[0][0] == ("search", "email", "direct")


def test_simultaneous_touches_keep_their_input_order() -> None:
    touches = [(1, 3.0, 2, False, 0.0), (1, 3.0, 0, False, 0.0), (1, 3.0, 1, True, 1.0)]
    assert cut(touches)[0][0] == ("direct", "search", "email")


@pytest.mark.parametrize(
    ("lookback", "message"), [(0.0, "lookback_days must be positive"), (None, "no touches")]
)
def test_bad_touch_input_is_rejected(lookback: float | None, message: str) -> None:
    empty = np.array([], dtype=np.int64)
    with pytest.raises(AttributionInputError, match=message):
        journeys_from_touches(
            journey=empty,
            timestamp_seconds=empty.astype(np.float64),
            channel=empty,
            converted=empty.astype(bool),
            value=None,
            channels=CHANNELS,
            lookback_days=lookback,
        )
