"""Markov chain attribution by removal effect, solved exactly.

Intuition. Read every journey as a walk: `start → channel → channel → … → conversion | null`.
Pooling all walks gives a Markov chain whose transition probabilities are the observed
frequencies. The chain converts from `start` with probability P(conv), which equals the observed
conversion rate. *Removing* a channel sends every walk that reaches it to `null`; the chain then
converts with a smaller probability P(conv | c removed). The **removal effect** of channel c is
the share of conversions that would be lost without it:

    RE(c) = 1 - P(conv | c removed) / P(conv)

Removal effects of different channels overlap (a conversion needing both a and b is lost with
either), so they do not add up to 1. Following Anderl et al. (2016) and the ChannelAttribution
package, the credit of c is its removal effect **normalised over all channels, times the total
conversions**:  credit(c) = RE(c) / Σ RE × total conversions. Value is credited the same way
with removal effects of the *expected value* (conversions weighted by their value), as
ChannelAttribution does; when every conversion is worth the same, the two shares coincide.

Order k. A first-order chain forgets how a walk got to a channel. In an order-k chain a state is
the last k channels seen (the first states of a walk hold fewer: its first 1, 2, … channels), so
transitions depend on up to k steps of history. Removing channel c removes every state that
contains c.

Exactness. No simulation: absorption probabilities solve a sparse linear system. With C the
matrix of transition counts between transient states (start and the channel states), `out` each
state's total outgoing count and b the counts into `conversion`, the probability h of ending in
`conversion` satisfies (diag(out) - C) h = b — the row-scaled form of h = Q h + r. Removing c keeps
the rows and columns of the surviving states (flows into removed states now end in `null`, which
contributes nothing) and solves again, once per channel, with a direct sparse LU factorisation
that serves the conversion and the value right-hand sides at once. Self-loops need no special
case: they scale a state's row and leave its absorption probability unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from onefunnel.domain.attribution.credits import CreditVectors, split_by_shares
from onefunnel.domain.attribution.journeys import (
    FloatArray,
    GroupedJourneys,
    IntArray,
    weighted_count,
)

MAX_ORDER = 4
DENSE_COUNT_CELLS = 1 << 22  # count transitions densely up to this many state pairs


@dataclass(frozen=True, eq=False)
class RemovalEffects:
    """The chain's conversion probability and each channel's removal effects (by channel id)."""

    conversion_probability: float
    conversions: FloatArray
    value: FloatArray | None


@dataclass(frozen=True, eq=False)
class _Chain:
    system: sp.csc_matrix  # diag(out) - C over [start, state 1, …]
    rhs: FloatArray  # columns: counts into conversion, value into conversion
    state_channels: IntArray  # (states, order): channel ids of each state, -1 where shorter


def markov_removal_effects(journeys: GroupedJourneys, order: int = 1) -> RemovalEffects:
    """Exact removal effect of every channel in the order-`order` chain of the journeys."""
    if not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be between 1 and {MAX_ORDER}, got {order}")
    n_channels = len(journeys.channels)
    has_value = journeys.values is not None
    chain = _build_chain(journeys, order)
    if chain is None:
        zeros = np.zeros(n_channels)
        return RemovalEffects(0.0, zeros, zeros.copy() if has_value else None)
    base = splu(chain.system).solve(chain.rhs)[0]
    lost = np.zeros((n_channels, 2))
    n_states = len(chain.state_channels)
    for channel in np.unique(chain.state_channels[chain.state_channels >= 0]):
        keep = np.ones(n_states + 1, dtype=bool)
        keep[1:] = ~(chain.state_channels == channel).any(axis=1)
        kept = np.flatnonzero(keep)
        reduced = chain.system[kept][:, kept]
        lost[channel] = base - splu(sp.csc_matrix(reduced)).solve(chain.rhs[kept])[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        effects = np.where(base > 0, lost / base, 0.0)
    # Removing states can only lower the conversion probability; clip rounding noise below 0.
    effects = np.clip(effects, 0.0, 1.0)
    return RemovalEffects(
        conversion_probability=float(base[0]),
        conversions=effects[:, 0],
        value=effects[:, 1] if has_value else None,
    )


def markov_credit(journeys: GroupedJourneys, order: int = 1) -> CreditVectors:
    """Credit = removal effect share × total conversions (and value share × total value)."""
    effects = markov_removal_effects(journeys, order)
    value = None
    if effects.value is not None and journeys.total_value is not None:
        value = split_by_shares(effects.value, journeys.total_value)
    return CreditVectors(
        conversions=split_by_shares(effects.conversions, journeys.total_conversions),
        value=value,
    )


def _build_chain(journeys: GroupedJourneys, order: int) -> _Chain | None:
    weight = journeys.conversions + journeys.nulls
    if not (weight > 0).any() or journeys.total_conversions <= 0:
        return None
    kept: slice | IntArray
    if (weight > 0).all():
        channels, lengths, kept = journeys.touch_channels, journeys.lengths, slice(None)
    else:
        # Paths nobody followed carry no transitions; dropping them keeps every out-count > 0.
        kept_paths = np.flatnonzero(weight > 0)
        channels = journeys.touch_channels[(weight > 0)[journeys.path_of_touch]]
        lengths, kept = journeys.lengths[kept_paths], kept_paths
    path_weight = weight[kept]
    ends = np.cumsum(lengths) - 1
    starts = ends - lengths + 1

    state, state_channels = _states(channels, starts, lengths, order, len(journeys.channels))
    size = len(state_channels) + 1
    node = state + 1  # node 0 is `start`
    transitions = _transitions(node, starts, ends, lengths, path_weight, size)
    into_conversion = weighted_count(node[ends], journeys.conversions[kept], size)
    into_null = weighted_count(node[ends], journeys.nulls[kept], size)
    out = np.asarray(transitions.sum(axis=1)).ravel() + into_conversion + into_null
    value = journeys.values if journeys.values is not None else journeys.conversions
    into_value = weighted_count(node[ends], value[kept], size)
    system = sp.csc_matrix(sp.diags(out) - transitions)
    return _Chain(system, np.column_stack([into_conversion, into_value]), state_channels)


def _transitions(
    node: IntArray,
    starts: IntArray,
    ends: IntArray,
    lengths: IntArray,
    path_weight: FloatArray,
    size: int,
) -> sp.csr_matrix:
    """Weighted counts of start → first touch and of touch → next touch within a path."""
    touch_weight = np.repeat(path_weight, lengths)
    if size * size <= DENSE_COUNT_CELLS:
        # Small state space (order 1): count every consecutive pair of nodes in one bincount,
        # parking the pairs that straddle two paths in an extra bin that is then dropped.
        pair = node[:-1] * size + node[1:]
        pair[ends[:-1]] = size * size
        dense = weighted_count(pair, touch_weight[:-1], size * size + 1)[:-1]
        dense[:size] += weighted_count(node[starts], path_weight, size)  # row 0 is start
        return sp.csr_matrix(dense.reshape(size, size))
    moves_on = np.ones(len(node), dtype=bool)
    moves_on[ends] = False
    moves_on = moves_on[:-1]
    source = np.concatenate([np.zeros(len(starts), dtype=np.int64), node[:-1][moves_on]])
    target = np.concatenate([node[starts], node[1:][moves_on]])
    count = np.concatenate([path_weight, touch_weight[:-1][moves_on]])
    return sp.csr_matrix((count, (source, target)), shape=(size, size))


def _states(
    channels: IntArray, starts: IntArray, lengths: IntArray, order: int, n_channels: int
) -> tuple[IntArray, IntArray]:
    """Dense state id per touch, and each state's channels (most recent first, -1 padded)."""
    if order == 1:
        # The state is the channel; renumber the channels that occur so every state has exits.
        occurs = np.zeros(n_channels, dtype=bool)
        occurs[channels] = True
        renumber = np.cumsum(occurs) - 1
        return renumber[channels], np.flatnonzero(occurs).reshape(-1, 1)
    position = np.arange(len(channels), dtype=np.int64) - np.repeat(starts, lengths)
    history = np.full((len(channels), order), -1, dtype=np.int64)
    for lag in range(order):
        history[:, lag] = np.where(position >= lag, np.roll(channels, lag), -1)
    if (n_channels + 1) ** order < 2**62:
        # Pack the k-tuple into one integer (base n+1 digits) so np.unique sorts scalars.
        key = np.zeros(len(channels), dtype=np.int64)
        for lag in range(order):
            key = key * (n_channels + 1) + (history[:, lag] + 1)
        _, first, state = np.unique(key, return_index=True, return_inverse=True)
        return state.reshape(-1).astype(np.int64), history[first]
    rows, state = np.unique(history, axis=0, return_inverse=True)
    return state.reshape(-1).astype(np.int64), rows
