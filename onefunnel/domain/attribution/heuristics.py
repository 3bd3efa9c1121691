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

Speed. Except time decay on timestamped touches, every rule's weight depends only on the path's
length L and the touch's position. So the touches are first summed once into a small *profile*:
the conversions (and value) landing on each channel at each (L, position). Each rule is then a
table over (L, position), and a channel's credit is its profile times the table: milliseconds per
model after one pass over the touches. Paths too long for a small table fall back to per-touch
weights, with the same rule functions.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from onefunnel.domain.attribution.credits import CreditVectors
from onefunnel.domain.attribution.journeys import (
    FloatArray,
    GroupedJourneys,
    IntArray,
    weighted_count,
)

Rule = Callable[[IntArray, IntArray], FloatArray]
"""Weights of touches given their path's length and their position (0-based) in it."""

PROFILE_CELLS = 1 << 23  # largest channels × lengths × positions profile worth building


def linear_rule(length: IntArray, position: IntArray) -> FloatArray:
    """1/L for every touch of a path of L touches."""
    return 1.0 / length.astype(np.float64)


def position_rule(length: IntArray, position: IntArray) -> FloatArray:
    """U-shaped 40/20/40 weights (50/50 for two touches, 100 % for one)."""
    is_end = (position == 0) | (position == length - 1)
    middle = 0.2 / np.maximum(length - 2, 1)
    return np.select([length == 1, length == 2, is_end], [1.0, 0.5, 0.4], default=middle)


def w_shaped_rule(length: IntArray, position: IntArray) -> FloatArray:
    """W-shaped 30/30/30 weights with 10 % spread over the rest (even split up to 3 touches)."""
    is_key = (position == 0) | (position == length - 1) | (position == (length - 1) // 2)
    rest = 0.1 / np.maximum(length - 3, 1)
    even = 1.0 / length.astype(np.float64)
    return np.select([length <= 3, is_key], [even, 0.3], default=rest)


def touch_decay_rule(half_life: float) -> Rule:
    """Time decay counting touches: weight 2^(-touches after this one / half_life), normalised."""
    if not half_life > 0:
        raise ValueError(f"half_life must be positive, got {half_life}")

    def rule(length: IntArray, position: IntArray) -> FloatArray:
        raw = np.exp2(-(length - 1 - position) / half_life)
        # Σ_{k<L} 2^(-k/h), a geometric series; with h huge (ratio → 1) it tends to L.
        ratio = np.exp2(-1.0 / half_life)
        total = -np.expm1(length * np.log(ratio)) / -np.expm1(np.log(ratio))
        return np.asarray(raw / total, dtype=np.float64)

    return rule


def credit_by_rule(journeys: GroupedJourneys, rule: Rule) -> CreditVectors:
    """Credit every touch by a (length, position) rule: on the profile when it is small."""
    profile = _profile(journeys)
    if profile is None:
        length = journeys.lengths[journeys.path_of_touch]
        return credit_touches(journeys, rule(length, journeys.position))
    table = rule(profile.length, profile.position)
    return CreditVectors(
        conversions=profile.conversions @ table,
        value=None if profile.value is None else profile.value @ table,
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
    # Step back from the end only in the paths still sitting on a direct touch: few paths end
    # with direct, and fewer with two, so each round handles a shrinking handful of paths.
    probe = last.copy()
    found = journeys.touch_channels[last] != direct_id
    pending = np.flatnonzero(~found)
    while len(pending):
        probe[pending] -= 1
        pending = pending[probe[pending] >= journeys.offsets[pending]]
        hit = journeys.touch_channels[probe[pending]] != direct_id
        found[pending[hit]] = True
        pending = pending[~hit]
    return credit_chosen_touch(journeys, np.where(found, probe, last))


def time_decay(journeys: GroupedJourneys, half_life: float) -> CreditVectors:
    """Time decay: by touch age in days when the journeys have ages, else by touches-to-go."""
    if journeys.touch_ages_days is None:
        return credit_by_rule(journeys, touch_decay_rule(half_life))
    if not half_life > 0:
        raise ValueError(f"half_life must be positive, got {half_life}")
    path = journeys.path_of_touch
    age = journeys.touch_ages_days
    starts = journeys.offsets[:-1]
    # Measure ages from each path's newest touch so the largest weight is exactly 1: journeys
    # years long would otherwise underflow every weight to 0 and divide 0 by 0.
    relative_age = age - np.minimum.reduceat(age, starts)[path]
    raw = np.exp2(-relative_age / half_life)
    return credit_touches(journeys, raw / np.add.reduceat(raw, starts)[path])


@dataclass(frozen=True, eq=False)
class _Profile:
    """Conversions and value landing on each channel (rows) per (length, position) cell."""

    conversions: FloatArray
    value: FloatArray | None
    length: IntArray  # each cell's path length
    position: IntArray  # each cell's position, < length


_PROFILES: weakref.WeakKeyDictionary[GroupedJourneys, _Profile | None] = weakref.WeakKeyDictionary()


def _profile(journeys: GroupedJourneys) -> _Profile | None:
    """The (channel, length, position) profile, built once per journeys and only if small."""
    if journeys in _PROFILES:
        return _PROFILES[journeys]
    n = len(journeys.channels)
    side = int(journeys.lengths.max()) + 1
    profile = None
    if n * side * side <= PROFILE_CELLS:
        # key = channel·side² + length·side + position, where position = touch index − offset,
        # so the per-path part (length·side − offset) is repeated once over the touches.
        per_path = journeys.lengths * side - journeys.offsets[:-1]
        key = journeys.touch_channels * (side * side) + np.repeat(per_path, journeys.lengths)
        key += np.arange(len(key), dtype=np.int64)

        def landing(amount: FloatArray) -> FloatArray:
            spread = np.repeat(amount, journeys.lengths)
            return weighted_count(key, spread, n * side * side).reshape(n, side * side)

        lengths, positions = np.divmod(np.arange(side * side, dtype=np.int64), side)
        valid = positions < lengths
        profile = _Profile(
            conversions=landing(journeys.conversions)[:, valid],
            value=None if journeys.values is None else landing(journeys.values)[:, valid],
            length=lengths[valid],
            position=positions[valid],
        )
    _PROFILES[journeys] = profile
    return profile
