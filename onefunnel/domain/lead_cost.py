"""What a lead cost: the campaign spend attributed to its touches.

The intuition. A campaign's spend buys leads, and a lead is usually bought by several
campaigns at once. Treat each handoff as a conversion: an attribution model (position-based by
default) splits that one conversion among the touches of the lead's journey, so each campaign
earns a fractional credit for each lead it helped to bring in. Summed over the leads handed
off in the period, that is the campaign's attributed lead count; its spend divided by that
count is its price per unit of credit. A lead's cost is, over the campaigns in its journey,

    cost(lead) = Σ_c  spend_c × credit(lead, c) / Σ_leads credit(lead', c)

so a campaign's spend is shared by its leads in proportion to how much the model says it did
for each (a lead it opened under the U-shaped model pays 40 % of a share, one it touched in
passing less), and the costs of the period's leads add up to the spend of their campaigns.
Touches without a campaign (organic, direct) take their part of each lead's credit and carry
no spend, so a lead that mostly came by itself is cheap.

Every model whose credit is a sum over journeys serves (first, last, last non-direct, linear,
time decay, position, W-shaped, Shapley); the Markov removal effect is a property of all
journeys together, with no per-lead share, so it cannot price one lead. ``EVEN_SPLIT`` is the
fallback: each campaign's spend shared equally by the leads it touched (``domain.intent``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

from onefunnel.domain.attribution import (
    DEFAULT_HALF_LIFE,
    AttributionInputError,
    AttributionModel,
    GroupedJourneys,
    credit_vectors,
)

CENT = Decimal("0.01")
#: The method name of the even split, the fallback.
EVEN_SPLIT = "even_split"
#: The model used when none is configured.
DEFAULT_COST_METHOD = AttributionModel.position.value
#: How far before a handoff the journeys and the spend are read (as the attribution report).
COST_LOOKBACK_DAYS = 90
#: The label of a touch without a campaign: it takes credit and carries no spend.
NO_CAMPAIGN = "(no campaign)"
COST_MODELS = tuple(m for m in AttributionModel if m is not AttributionModel.markov)


class CostMethodError(ValueError):
    """A cost method that cannot price a lead; the message names the choices."""


def parse_cost_method(name: object) -> str:
    """The cost method by name: ``even_split`` or a per-lead attribution model."""
    text = str(name).strip().lower() if name is not None else ""
    if text == EVEN_SPLIT or text in {m.value for m in COST_MODELS}:
        return text
    choices = ", ".join([EVEN_SPLIT, *(m.value for m in COST_MODELS)])
    if text == AttributionModel.markov.value:
        raise CostMethodError(
            f"cost model: markov credits all journeys together and cannot price one lead; "
            f"choose from: {choices}"
        )
    raise CostMethodError(f"cost model: unknown method {name!r}; choose from: {choices}")


def journey_credit(path: Sequence[str], ages_days: Sequence[float], model: str) -> dict[str, float]:
    """One lead's credit per label: how the model splits its one conversion among its touches.

    Every cost model credits each journey on its own, so the credit of many journeys is the sum
    of theirs: a lead's credit can be worked out once, at its handoff, and kept.
    """
    method = AttributionModel(parse_cost_method(model))
    return _credit([path], [ages_days], method) if path else {}


def share_of_spend(
    own: Mapping[str, float], pool: Mapping[str, float], spend: Mapping[str, Decimal]
) -> Decimal:
    """The lead's cost, rounded to the cent: each campaign's spend × the lead's credit ÷ the
    credit of all the period's leads (``pool``, the lead's own included)."""
    total = Decimal(0)
    for campaign, credit in own.items():
        amount = spend.get(campaign, Decimal(0))
        whole = pool.get(campaign, 0.0)
        if campaign == NO_CAMPAIGN or amount <= 0 or credit <= 0 or whole <= 0:
            continue
        total += amount * Decimal(repr(credit)) / Decimal(repr(whole))
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


def attributed_cost(
    paths: Sequence[Sequence[str]],
    ages_days: Sequence[Sequence[float]],
    lead: int,
    spend: Mapping[str, Decimal],
    model: str,
) -> Decimal:
    """The cost of ``paths[lead]`` among the period's journeys (see the module docstring).

    ``paths`` are the journeys of the period's leads, each a time-ordered list of campaign
    labels (``NO_CAMPAIGN`` for touches without one), with each touch's age in days at its
    lead's handoff (time decay reads them). ``spend`` is each campaign's spend in the period; a
    campaign missing from it cost nothing.
    """
    method = AttributionModel(parse_cost_method(model))
    if not 0 <= lead < len(paths):
        raise AttributionInputError(f"lead: no journey #{lead} among {len(paths)}")
    pool = _credit(paths, ages_days, method)
    return share_of_spend(_credit([paths[lead]], [ages_days[lead]], method), pool, spend)


def _credit(
    paths: Sequence[Sequence[str]], ages_days: Sequence[Sequence[float]], model: AttributionModel
) -> dict[str, float]:
    """Each label's credit over the given journeys, one conversion each."""
    journeys = GroupedJourneys.from_paths(
        paths, conversions=[1.0] * len(paths), touch_ages_days=ages_days
    )
    credit = credit_vectors(
        journeys, model, half_life=DEFAULT_HALF_LIFE, direct_channel=NO_CAMPAIGN
    )
    return {label: float(credit.conversions[i]) for i, label in enumerate(journeys.channels)}
