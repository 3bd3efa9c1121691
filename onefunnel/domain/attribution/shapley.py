"""Shapley value attribution over observed channel sets (Zhao et al. 2018, simplified formula).

Intuition. Treat channels as players of a cooperative game whose payoff is conversions. The worth
of a coalition S of channels is the conversions of the journeys whose channel *set* lies within S:

    v(S) = Σ_{T ⊆ S} R(T),   R(T) = conversions of journeys whose distinct channels are exactly T

The Shapley value of channel j averages, over every order in which channels could join, the worth
j adds when it joins. For this v each journey set T is a "unanimity game": its R(T) is gained the
moment the last member of T joins, and by symmetry each member of T is last equally often. So
every member gets R(T)/|T|, and Zhao et al.'s simplified formula follows:

    φ_j = Σ_{T ∋ j} R(T) / |T|

It needs only the channel sets actually observed, not the 2^n coalitions, and it is exact: the
unit tests check it against the definition, averaging over all orderings. Credits add up to
v(all channels) = total conversions (Shapley efficiency). Value is credited the same way with R
counting conversion value. Order and repetition inside a journey do not matter to this model.
"""

from __future__ import annotations

import numpy as np

from onefunnel.domain.attribution.credits import CreditVectors
from onefunnel.domain.attribution.journeys import FloatArray, GroupedJourneys, weighted_count

_BITMASK_CHANNELS = 63


def shapley_credit(journeys: GroupedJourneys) -> CreditVectors:
    """Credit each journey's conversions (and value) equally to its distinct channels."""
    if len(journeys.channels) <= _BITMASK_CHANNELS:
        return _by_bitmask(journeys)
    return _by_distinct_pairs(journeys)


def _by_bitmask(journeys: GroupedJourneys) -> CreditVectors:
    # With at most 63 channels a channel set is one uint64, so grouping journeys by set is a
    # sort of one integer per path instead of a sort of every touch.
    n = len(journeys.channels)
    bits = np.left_shift(np.uint64(1), journeys.touch_channels.astype(np.uint64))
    masks = np.bitwise_or.reduceat(bits, journeys.offsets[:-1])
    sets, path_set = np.unique(masks, return_inverse=True)
    members = ((sets[:, None] >> np.arange(n, dtype=np.uint64)) & np.uint64(1)).astype(bool)
    share = members / members.sum(axis=1, keepdims=True)

    def per_channel(amount: FloatArray) -> FloatArray:
        by_set = weighted_count(path_set.ravel(), amount, len(sets))
        credit: FloatArray = by_set @ share
        return credit

    value = None if journeys.values is None else per_channel(journeys.values)
    return CreditVectors(conversions=per_channel(journeys.conversions), value=value)


def _by_distinct_pairs(journeys: GroupedJourneys) -> CreditVectors:
    n = len(journeys.channels)
    pairs = np.unique(journeys.path_of_touch * n + journeys.touch_channels)
    pair_path, pair_channel = np.divmod(pairs, n)
    set_size = np.bincount(pair_path, minlength=journeys.n_paths).astype(np.float64)

    def per_channel(amount: FloatArray) -> FloatArray:
        weights = (amount / set_size)[pair_path]
        return weighted_count(pair_channel, weights, n)

    value = None if journeys.values is None else per_channel(journeys.values)
    return CreditVectors(conversions=per_channel(journeys.conversions), value=value)
