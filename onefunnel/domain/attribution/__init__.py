"""Multi-touch attribution: credit for conversions and value to the channels of journeys.

Models: first, last, last non-direct, linear, time decay, position-based (U) and W-shaped
(`heuristics`), Markov chain removal effect of order 1–4 solved exactly (`markov`), and Shapley
values over observed channel sets (`shapley`). Every model's credits add up to the journeys' total
conversions (and total value). Channels are whatever labels the paths carry: channels,
campaigns, or sources.

Input is `GroupedJourneys` (distinct paths with conversion, value and null counts, in flat numpy
arrays); `journeys_from_touches` builds it from timestamped touches within a lookback window.
"""

from onefunnel.domain.attribution.credits import AttributionModel, ChannelCredit, CreditVectors
from onefunnel.domain.attribution.journeys import AttributionInputError, GroupedJourneys
from onefunnel.domain.attribution.markov import RemovalEffects, markov_removal_effects
from onefunnel.domain.attribution.runner import (
    DEFAULT_DIRECT_CHANNEL,
    DEFAULT_HALF_LIFE,
    credit_vectors,
    parse_models,
    run_models,
)
from onefunnel.domain.attribution.touches import journeys_from_touches

__all__ = [
    "DEFAULT_DIRECT_CHANNEL",
    "DEFAULT_HALF_LIFE",
    "AttributionInputError",
    "AttributionModel",
    "ChannelCredit",
    "CreditVectors",
    "GroupedJourneys",
    "RemovalEffects",
    "credit_vectors",
    "journeys_from_touches",
    "markov_removal_effects",
    "parse_models",
    "run_models",
]
