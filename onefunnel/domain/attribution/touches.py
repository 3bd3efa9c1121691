"""From single touches with timestamps to journeys: how touch-level data becomes paths.

Each touch belongs to a journey (a contact's or an account's), happened at a time, through a
channel, and may carry a conversion. The rules:

- A journey's touches are ordered by time (ties keep their input order).
- A touch marked *converted* closes a path: the conversion happened at that touch's time, with
  that touch's value, and the path is this touch and the journey's earlier touches since its
  previous conversion. A journey that converts twice gives two paths.
- Touches after a journey's last conversion (or of a journey that never converted) form one
  non-converting path, which counts as one null.
- The lookback window keeps, in each path, only the touches at most `lookback_days` before the
  path's end (the conversion, or the last touch of a non-converting path). The closing touch is
  always kept, so no path is ever empty.
- Each kept touch's age (days before its path's end) goes with the path, for time decay.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from onefunnel.domain.attribution.journeys import (
    AttributionInputError,
    FloatArray,
    GroupedJourneys,
    IntArray,
)

SECONDS_PER_DAY = 86_400.0


def journeys_from_touches(
    journey: IntArray,
    timestamp_seconds: FloatArray,
    channel: IntArray,
    converted: NDArray[np.bool_],
    value: FloatArray | None,
    channels: tuple[str, ...],
    lookback_days: float | None = None,
) -> GroupedJourneys:
    """Cut timestamped touches into paths (see the module docstring); one path per conversion.

    `journey` and `channel` are integer codes (any integers for journeys, ids into `channels`);
    `timestamp_seconds` is seconds since any fixed epoch.
    """
    n = len(journey)
    if not (len(timestamp_seconds) == len(channel) == len(converted) == n):
        raise AttributionInputError("every touch needs a journey, a timestamp and a channel")
    if value is not None and len(value) != n:
        raise AttributionInputError("value needs one entry per touch")
    if lookback_days is not None and not lookback_days > 0:
        raise AttributionInputError(f"lookback_days must be positive, got {lookback_days}")
    if n == 0:
        raise AttributionInputError("there are no touches")

    order = np.lexsort((np.arange(n), timestamp_seconds, journey))
    journey, when = journey[order], timestamp_seconds[order]
    channel, converted = channel[order], converted[order]

    new_path = np.ones(n, dtype=bool)
    new_path[1:] = (journey[1:] != journey[:-1]) | converted[:-1]
    path_of_touch = np.cumsum(new_path) - 1
    starts = np.flatnonzero(new_path)
    ends = np.append(starts[1:], n) - 1
    end_time = when[ends][path_of_touch]
    age_days = (end_time - when) / SECONDS_PER_DAY

    kept = np.ones(n, dtype=bool) if lookback_days is None else age_days <= lookback_days
    kept_per_path = np.bincount(path_of_touch[kept], minlength=len(starts))
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    np.cumsum(kept_per_path, out=offsets[1:])

    path_converted = converted[ends]
    conversions = path_converted.astype(np.float64)
    values = None
    if value is not None:
        values = np.where(path_converted, value[order][ends], 0.0)
    return GroupedJourneys(
        channels=channels,
        touch_channels=channel[kept].astype(np.int64),
        offsets=offsets,
        conversions=conversions,
        nulls=1.0 - conversions,
        values=values,
        touch_ages_days=age_days[kept],
    )
