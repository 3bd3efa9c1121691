"""What an attribution model returns: credit per channel, for conversions and for value."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from onefunnel.domain.attribution.journeys import FloatArray


class AttributionModel(StrEnum):
    """The attribution models, by the names the CLI and the API accept."""

    first = "first"
    last = "last"
    last_non_direct = "last_non_direct"
    linear = "linear"
    time_decay = "time_decay"
    position = "position"
    w_shaped = "w_shaped"
    markov = "markov"
    shapley = "shapley"


@dataclass(frozen=True)
class ChannelCredit:
    """The conversions (and conversion value, when the journeys carry value) one model credits
    to one channel. Across channels, one model's credits add up to the journeys' totals."""

    model: AttributionModel
    channel: str
    conversions: float
    value: float | None


@dataclass(frozen=True, eq=False)
class CreditVectors:
    """One model's credit as arrays indexed by channel id (the models' internal answer)."""

    conversions: FloatArray
    value: FloatArray | None


def split_by_shares(shares: FloatArray, total: float) -> FloatArray:
    """Split a total in proportion to non-negative shares (normalised here to sum to 1)."""
    denominator = float(shares.sum())
    if denominator <= 0:
        return np.zeros_like(shares)
    return shares / denominator * total
