"""The journeys behind a channel's credit: each journey's share of it, under any model.

A credit cell ("paid search: 12,400 of revenue under linear") stands for the converted journeys
that gave the channel credit. For the rule-based models and Shapley the share is the model's
own, journey by journey: a linear journey of four touches, two of them paid search, gives paid
search half its conversion and half its value. Summed over the journeys, the shares are the
channel's credit (``credit_vectors``), and summed over every channel, the journeys' conversions.

The Markov credit belongs to the pooled chain, not to any one journey: removal effects weigh
how the channel's states carry *all* the walks. Its shares split the channel's credit among the
converted journeys that passed through the channel, in proportion to their conversions (or
value); a channel credited without any converted journey through it (its states lead other
walks to conversion) has its credit split over every converted journey the same way. So the
shares still add up to the channel's credit, and over every channel to the conversions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from onefunnel.domain.attribution import heuristics
from onefunnel.domain.attribution.credits import AttributionModel
from onefunnel.domain.attribution.journeys import FloatArray, GroupedJourneys, IntArray
from onefunnel.domain.attribution.markov import markov_credit
from onefunnel.domain.attribution.runner import DEFAULT_DIRECT_CHANNEL, DEFAULT_HALF_LIFE


@dataclass(frozen=True, eq=False)
class JourneyShares:
    """Non-zero shares as parallel arrays: journey (path index), channel id, conversions and
    value (None when the journeys carry no value)."""

    path: IntArray
    channel: IntArray
    conversions: FloatArray
    value: FloatArray | None

    def of_channel(self, channel_id: int) -> JourneyShares:
        """The shares of one channel only."""
        keep = self.channel == channel_id
        return JourneyShares(
            self.path[keep],
            self.channel[keep],
            self.conversions[keep],
            None if self.value is None else self.value[keep],
        )


def journey_shares(
    journeys: GroupedJourneys,
    model: AttributionModel,
    *,
    order: int = 1,
    half_life: float = DEFAULT_HALF_LIFE,
    direct_channel: str = DEFAULT_DIRECT_CHANNEL,
) -> JourneyShares:
    """Each journey's share of each channel's credit under ``model`` (see the module
    docstring); shares of a channel add up to its ``credit_vectors`` credit."""
    if model is AttributionModel.markov:
        return _markov_shares(journeys, order)
    weights = _touch_weights(journeys, model, half_life, direct_channel)
    return _by_touch(journeys, weights)


def _touch_weights(
    journeys: GroupedJourneys, model: AttributionModel, half_life: float, direct: str
) -> FloatArray:
    """Each touch's weight within its path (weights of a path sum to 1)."""
    length = journeys.lengths[journeys.path_of_touch]
    position = journeys.position
    match model:
        case AttributionModel.first:
            return np.asarray(position == 0, dtype=np.float64)
        case AttributionModel.last:
            return np.asarray(position == length - 1, dtype=np.float64)
        case AttributionModel.last_non_direct:
            return _last_non_direct(journeys, direct)
        case AttributionModel.linear:
            return heuristics.linear_rule(length, position)
        case AttributionModel.position:
            return heuristics.position_rule(length, position)
        case AttributionModel.w_shaped:
            return heuristics.w_shaped_rule(length, position)
        case AttributionModel.time_decay:
            return _time_decay(journeys, half_life, length, position)
        case _:  # shapley: each distinct channel of a path gets an equal part
            return _shapley(journeys)


def _last_non_direct(journeys: GroupedJourneys, direct: str) -> FloatArray:
    weights = np.zeros(len(journeys.touch_channels))
    ends = journeys.offsets[1:] - 1
    chosen = ends.copy()
    if direct in journeys.channels:
        direct_id = journeys.channels.index(direct)
        for p in np.flatnonzero(journeys.touch_channels[ends] == direct_id):
            start = int(journeys.offsets[p])
            for t in range(int(ends[p]), start - 1, -1):
                if journeys.touch_channels[t] != direct_id:
                    chosen[p] = t
                    break
    weights[chosen] = 1.0
    return weights


def _time_decay(
    journeys: GroupedJourneys, half_life: float, length: IntArray, position: IntArray
) -> FloatArray:
    if journeys.touch_ages_days is None:
        return heuristics.touch_decay_rule(half_life)(length, position)
    path = journeys.path_of_touch
    starts = journeys.offsets[:-1]
    age = journeys.touch_ages_days
    raw = np.exp2(-(age - np.minimum.reduceat(age, starts)[path]) / half_life)
    return np.asarray(raw / np.add.reduceat(raw, starts)[path], dtype=np.float64)


def _shapley(journeys: GroupedJourneys) -> FloatArray:
    n = len(journeys.channels)
    key = journeys.path_of_touch * n + journeys.touch_channels
    # The first touch of each (path, channel) pair carries the pair's part; repeats carry 0.
    _unique, first = np.unique(key, return_index=True)
    distinct = np.bincount(journeys.path_of_touch[first], minlength=journeys.n_paths)
    weights = np.zeros(len(key))
    weights[first] = 1.0 / distinct[journeys.path_of_touch[first]]
    return weights


def _by_touch(journeys: GroupedJourneys, weights: FloatArray) -> JourneyShares:
    """Sum the touches' weighted conversions (and value) per (path, channel)."""
    n = len(journeys.channels)
    path = journeys.path_of_touch
    key = path * n + journeys.touch_channels
    pairs, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.ravel()
    conversions = np.bincount(inverse, weights * journeys.conversions[path], len(pairs))
    value = None
    if journeys.values is not None:
        value = np.bincount(inverse, weights * journeys.values[path], len(pairs))
    pair_path, pair_channel = np.divmod(pairs, n)
    keep = conversions != 0
    if value is not None:
        keep |= value != 0
    return JourneyShares(
        pair_path[keep].astype(np.int64),
        pair_channel[keep].astype(np.int64),
        conversions[keep],
        None if value is None else value[keep],
    )


def _markov_shares(journeys: GroupedJourneys, order: int) -> JourneyShares:
    credit = markov_credit(journeys, order)
    n = len(journeys.channels)
    through = np.zeros((journeys.n_paths, n), dtype=bool)
    through[journeys.path_of_touch, journeys.touch_channels] = True
    converted = journeys.conversions > 0
    paths: list[IntArray] = []
    channels: list[IntArray] = []
    conv: list[FloatArray] = []
    vals: list[FloatArray] = []
    for c in range(n):
        if credit.conversions[c] == 0 and (credit.value is None or credit.value[c] == 0):
            continue
        members = np.flatnonzero(through[:, c] & converted)
        if not len(members):
            members = np.flatnonzero(converted)
        paths.append(members)
        channels.append(np.full(len(members), c, dtype=np.int64))
        conv.append(_split(journeys.conversions[members], float(credit.conversions[c])))
        if credit.value is not None and journeys.values is not None:
            vals.append(_split(journeys.values[members], float(credit.value[c]),
                               fallback=journeys.conversions[members]))  # fmt: skip
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
    return JourneyShares(
        np.concatenate(paths) if paths else empty_i,
        np.concatenate(channels) if channels else empty_i,
        np.concatenate(conv) if conv else empty_f,
        None if credit.value is None else (np.concatenate(vals) if vals else empty_f),
    )


def _split(weights: FloatArray, total: float, *, fallback: FloatArray | None = None) -> FloatArray:
    """``total`` split in proportion to ``weights`` (else to ``fallback``, else evenly)."""
    for w in (weights, fallback):
        if w is not None and float(w.sum()) > 0:
            return np.asarray(w / float(w.sum()) * total, dtype=np.float64)
    return np.full(len(weights), total / len(weights)) if len(weights) else np.zeros(0)
