"""Lifetime value: BG/NBD repeat purchases, Gamma-Gamma spend, and subscription retention.

Pure numpy/scipy, no Django: `summarise_orders` turns orders into per-customer arrays,
`fit_bgnbd` and `fit_gamma_gamma` fit the models by maximum likelihood, `predict` gives each
customer's expected purchases, probability of being alive and discounted CLV; `fit_sbg` and
`clv_from_survival` value subscription contracts from their retention curve.
"""

from onefunnel.domain.ltv.bgnbd import BgNbdFit, fit_bgnbd
from onefunnel.domain.ltv.clv import CustomerValues, predict
from onefunnel.domain.ltv.customers import (
    CustomerSummary,
    LtvInputError,
    check_summary,
    summarise_orders,
)
from onefunnel.domain.ltv.gamma_gamma import GammaGammaFit, fit_gamma_gamma
from onefunnel.domain.ltv.subscription import (
    SbgFit,
    clv_from_survival,
    fit_sbg,
    survival_from_counts,
)

__all__ = [
    "BgNbdFit",
    "CustomerSummary",
    "CustomerValues",
    "GammaGammaFit",
    "LtvInputError",
    "SbgFit",
    "check_summary",
    "clv_from_survival",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_sbg",
    "predict",
    "summarise_orders",
    "survival_from_counts",
]
