"""Per-customer predictions from a BG/NBD and a Gamma-Gamma fit: purchases, alive, and CLV.

The customer lifetime value over a horizon H, discounted at rate d per time unit, follows
Fader, Hardie & Lee (2005b): the expected purchases of each step of the horizon, times the
expected amount per purchase, discounted to the end of calibration:

    CLV = E[M] · Σ_k (E[Y(t_k)] − E[Y(t_{k−1})]) / (1 + d)^(t_k),   t_k = min(k · step, H)

(spend and purchases independent, as the Gamma-Gamma model assumes). Customers with identical
histories are computed once, so a million customers cost what their distinct histories cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from onefunnel.domain.ltv.bgnbd import BgNbdFit
from onefunnel.domain.ltv.customers import CustomerSummary, FloatArray, LtvInputError, collapse
from onefunnel.domain.ltv.gamma_gamma import GammaGammaFit


@dataclass(frozen=True, eq=False)
class CustomerValues:
    """Aligned with the summary's rows: expected purchases, P(alive), spend and CLV."""

    expected_purchases: FloatArray
    probability_alive: FloatArray
    expected_spend: FloatArray
    clv: FloatArray


def predict(
    bgnbd: BgNbdFit,
    gamma_gamma: GammaGammaFit,
    summary: CustomerSummary,
    *,
    horizon: float,
    discount_rate: float,
    step: float = 1.0,
) -> CustomerValues:
    """Expected purchases in (T, T + horizon], P(alive), expected spend and discounted CLV.

    `horizon` and `step` are in the summary's time unit; `discount_rate` is per time unit.
    """
    if not math.isfinite(horizon) or horizon < 0:
        raise LtvInputError("horizon: must be a finite number >= 0")
    if not math.isfinite(step) or step <= 0:
        raise LtvInputError("step: must be a positive number")
    if not math.isfinite(discount_rate) or discount_rate < 0:
        raise LtvInputError("discount_rate: must be a finite number >= 0")
    (x, t_x, age), _, inverse = collapse(summary.frequency, summary.recency, summary.age)
    groups = CustomerSummary(
        np.arange(x.shape[0], dtype=np.int64),
        x,
        t_x,
        age,
        np.zeros_like(x),
        np.zeros_like(x, np.int64),
    )
    steps = max(1, math.ceil(horizon / step - 1e-9)) if horizon > 0 else 0
    discounted = np.zeros_like(x)
    before = np.zeros_like(x)
    for k in range(1, steps + 1):
        t = min(k * step, horizon)
        now = bgnbd.expected_purchases(groups, t)
        discounted += (now - before) * (1.0 + discount_rate) ** -t
        before = now
    spend = gamma_gamma.expected_spend(summary)
    return CustomerValues(
        expected_purchases=before[inverse],
        probability_alive=bgnbd.probability_alive(groups)[inverse],
        expected_spend=spend,
        clv=discounted[inverse] * spend,
    )
