"""Rule-based attribution: each rule gives every touch of a path a weight, weights sum to 1.

A path's conversions (and value) are then shared among its touches by those weights, and a
channel's credit is the sum over its touches. Because each path's weights sum to 1, every model's
credits sum to the total conversions. All rules are vectorised over the flat touch arrays.

The rules, for a path of L touches at positions 0..L-1:

- **first** / **last**: all credit to position 0 / L-1.
- **last_non_direct**: all credit to the last touch whose channel is not the *direct* channel
  (typed-in URL, bookmark: traffic that says nothing about which marketing worked); a path made
  only of direct touches gives it to its last touch, as Google Analytics does.
- **linear**: 1/L each.
- **time_decay**: weight 2^(-age / half_life), normalised within the path. With timestamped
  touches the age is the time from the touch to the conversion (or to the journey's last touch),
  in days, and `half_life` is in days. Grouped paths have no timestamps, so there the age is the
  number of touches *after* this one (the last touch has age 0) and `half_life` is in touches:
  a touch `half_life` steps before the conversion gets half the weight of the last one.
- **position** (U-shaped): 40 % first, 40 % last, 20 % spread evenly over the middle; a path of
  two touches gets 50/50, of one touch 100 %.
- **w_shaped**: 30 % first, 30 % to the middle key touch, 30 % last, 10 % spread evenly over the
  others. The W model's middle peak is meant to be the touch that created the lead; grouped
  paths do not mark it, so it is the middle touch, at position (L-1)//2 (rounding towards the
  start). Paths of three touches or fewer split evenly.
"""

from __future__ import annotations

import numpy as np

from onefunnel.domain.attribution.credits import CreditVectors
from onefunnel.domain.attribution.journeys import (
    FloatArray,
    GroupedJourneys,
    IntArray,
    weighted_count,
)


def credit_touches(journeys: GroupedJourneys, weights: FloatArray) -> CreditVectors:
    """Share each path's conversions and value among its touches by per-touch weights."""
    n = len(journeys.channels)
    path = journeys.path_of_touch
    conversions = weighted_count(journeys.touch_channels, weights * journeys.conversions[path], n)
    value = None
    if journeys.values is not None:
        value = weighted_count(journeys.touch_channels, weights * journeys.values[path], n)
    return CreditVectors(conversions=conversions, value=value)


def credit_chosen_touch(journeys: GroupedJourneys, chosen: IntArray) -> CreditVectors:
    """Give each path's whole conversions and value to one touch (a flat touch index per path)."""
    n = len(journeys.channels)
    channel = journeys.touch_channels[chosen]
    conversions = weighted_count(channel, journeys.conversions, n)
    value = None
    if journeys.values is not None:
        value = weighted_count(channel, journeys.values, n)
    return CreditVectors(conversions=conversions, value=value)


def first_touch(journeys: GroupedJourneys) -> CreditVectors:
    """All credit to each path's first touch."""
    return credit_chosen_touch(journeys, journeys.offsets[:-1])


def last_touch(journeys: GroupedJourneys) -> CreditVectors:
    """All credit to each path's last touch."""
    return credit_chosen_touch(journeys, journeys.offsets[1:] - 1)


def last_non_direct_touch(journeys: GroupedJourneys, direct_channel: str) -> CreditVectors:
    """All credit to each path's last touch that is not `direct_channel` (else its last touch)."""
    last = journeys.offsets[1:] - 1
    if direct_channel not in journeys.channels:
        return credit_chosen_touch(journeys, last)
    direct_id = journeys.channels.index(direct_channel)
    touch_index = np.arange(len(journeys.touch_channels), dtype=np.int64)
    candidate = np.where(journeys.touch_channels != direct_id, touch_index, -1)
    last_non_direct = np.maximum.reduceat(candidate, journeys.offsets[:-1])
    return credit_chosen_touch(journeys, np.where(last_non_direct >= 0, last_non_direct, last))


def linear_weights(journeys: GroupedJourneys) -> FloatArray:
    """1/L for every touch of a path of L touches."""
    return 1.0 / journeys.lengths[journeys.path_of_touch].astype(np.float64)


def time_decay_weights(journeys: GroupedJourneys, half_life: float) -> FloatArray:
    """2^(-age/half_life) normalised per path; ages in days if known, else touches-to-go."""
    if not half_life > 0:
        raise ValueError(f"half_life must be positive, got {half_life}")
    path = journeys.path_of_touch
    if journeys.touch_ages_days is not None:
        age = journeys.touch_ages_days
    else:
        age = (journeys.lengths[path] - 1 - journeys.position).astype(np.float64)
    starts = journeys.offsets[:-1]
    # Measure ages from each path's newest touch so the largest weight is exactly 1: journeys
    # years long would otherwise underflow every weight to 0 and divide 0 by 0.
    relative_age = age - np.minimum.reduceat(age, starts)[path]
    raw = np.exp2(-relative_age / half_life)
    return raw / np.add.reduceat(raw, starts)[path]


def position_weights(journeys: GroupedJourneys) -> FloatArray:
    """U-shaped 40/20/40 weights (50/50 for two touches, 100 % for one)."""
    length = journeys.lengths[journeys.path_of_touch]
    position = journeys.position
    is_end = (position == 0) | (position == length - 1)
    middle = 0.2 / np.maximum(length - 2, 1)
    return np.select([length == 1, length == 2, is_end], [1.0, 0.5, 0.4], default=middle)


def w_shaped_weights(journeys: GroupedJourneys) -> FloatArray:
    """W-shaped 30/30/30 weights with 10 % spread over the rest (even split up to 3 touches)."""
    length = journeys.lengths[journeys.path_of_touch]
    position = journeys.position
    is_key = (position == 0) | (position == length - 1) | (position == (length - 1) // 2)
    rest = 0.1 / np.maximum(length - 3, 1)
    even = 1.0 / length.astype(np.float64)
    return np.select([length <= 3, is_key], [even, 0.3], default=rest)
