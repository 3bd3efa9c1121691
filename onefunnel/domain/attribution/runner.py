"""Run attribution models by name and return one credit row per model and channel."""

from __future__ import annotations

import math
from collections.abc import Iterable

from onefunnel.domain.attribution import heuristics
from onefunnel.domain.attribution.credits import AttributionModel, ChannelCredit, CreditVectors
from onefunnel.domain.attribution.journeys import AttributionInputError, GroupedJourneys
from onefunnel.domain.attribution.markov import markov_credit
from onefunnel.domain.attribution.shapley import shapley_credit

DEFAULT_HALF_LIFE = 7.0
DEFAULT_DIRECT_CHANNEL = "direct"


def parse_models(names: str | Iterable[str]) -> tuple[AttributionModel, ...]:
    """Model names (a list, or one comma-separated string) as models, in order, deduplicated.

    Raises AttributionInputError naming the unknown model and listing the known ones.
    """
    raw = names.split(",") if isinstance(names, str) else list(names)
    models: list[AttributionModel] = []
    for name in (n.strip() for n in raw):
        if not name:
            continue
        try:
            model = AttributionModel(name)
        except ValueError:
            known = ", ".join(m.value for m in AttributionModel)
            raise AttributionInputError(
                f"unknown attribution model {name!r}; choose from: {known}"
            ) from None
        if model not in models:
            models.append(model)
    if not models:
        raise AttributionInputError("no attribution model given")
    return tuple(models)


def credit_vectors(
    journeys: GroupedJourneys,
    model: AttributionModel,
    *,
    order: int = 1,
    half_life: float = DEFAULT_HALF_LIFE,
    direct_channel: str = DEFAULT_DIRECT_CHANNEL,
) -> CreditVectors:
    """One model's credit as arrays indexed by channel id."""
    match model:
        case AttributionModel.first:
            return heuristics.first_touch(journeys)
        case AttributionModel.last:
            return heuristics.last_touch(journeys)
        case AttributionModel.last_non_direct:
            return heuristics.last_non_direct_touch(journeys, direct_channel)
        case AttributionModel.linear:
            return heuristics.credit_by_rule(journeys, heuristics.linear_rule)
        case AttributionModel.time_decay:
            return heuristics.time_decay(journeys, half_life)
        case AttributionModel.position:
            return heuristics.credit_by_rule(journeys, heuristics.position_rule)
        case AttributionModel.w_shaped:
            return heuristics.credit_by_rule(journeys, heuristics.w_shaped_rule)
        case AttributionModel.markov:
            return markov_credit(journeys, order)
        case AttributionModel.shapley:
            return shapley_credit(journeys)


def run_models(
    journeys: GroupedJourneys,
    models: str | Iterable[str],
    *,
    order: int = 1,
    half_life: float = DEFAULT_HALF_LIFE,
    direct_channel: str = DEFAULT_DIRECT_CHANNEL,
) -> tuple[ChannelCredit, ...]:
    """Run each named model; rows per model in channel order (the journeys' channel ids).

    `order` is the Markov order (1–4); `half_life` is in days for journeys with touch ages and in
    touches otherwise (see heuristics); `direct_channel` names the channel last-non-direct skips.
    """
    if not 1 <= order <= 4:
        raise AttributionInputError(f"order must be between 1 and 4, got {order}")
    if not (half_life > 0 and math.isfinite(half_life)):
        raise AttributionInputError(f"half-life must be a positive number, got {half_life}")
    rows: list[ChannelCredit] = []
    for model in parse_models(models):
        credit = credit_vectors(
            journeys, model, order=order, half_life=half_life, direct_channel=direct_channel
        )
        for channel_id, channel in enumerate(journeys.channels):
            rows.append(
                ChannelCredit(
                    model=model,
                    channel=channel,
                    conversions=float(credit.conversions[channel_id]),
                    value=None if credit.value is None else float(credit.value[channel_id]),
                )
            )
    return tuple(rows)
