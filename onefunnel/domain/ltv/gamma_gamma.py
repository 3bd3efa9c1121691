"""Gamma-Gamma: how much a customer spends per purchase.

Fader, Hardie & Lee (2005b), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
Journal of Marketing Research 42(4), 415-430, and Fader & Hardie, "The Gamma-Gamma Model of
Monetary Value" (2013 note). Each purchase's amount z ~ Gamma(p, ν); across customers
ν ~ Gamma(q, γ). Spend is assumed independent of the purchase process, and is fitted on the
repeat buyers only (x > 0 repeat purchases with mean amount m̄ > 0). The density of a
customer's mean repeat amount is

    f(m̄ | p, q, γ, x) = Γ(px + q) / (Γ(px) Γ(q)) · γ^q x^(px) m̄^(px − 1) / (γ + m̄ x)^(px + q)

and the expected amount per purchase given the history (the shrunk mean) is

    E[M | p, q, γ, m̄, x] = p (γ + m̄ x) / (p x + q − 1),

which for a customer with no repeat purchase (x = 0) is the population mean p γ / (q − 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from onefunnel.domain.ltv._optimize import maximise
from onefunnel.domain.ltv.customers import (
    CustomerSummary,
    FloatArray,
    LtvInputError,
    collapse,
)


@dataclass(frozen=True, slots=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters; `customers` is the number of repeat buyers fitted."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int

    def expected_spend(self, summary: CustomerSummary) -> FloatArray:
        """Expected amount per future purchase, per customer (needs q > 1 for a finite mean)."""
        if self.q <= 1:
            raise LtvInputError("gamma_gamma: q <= 1, so the expected spend is not finite")
        x, m = summary.frequency, summary.monetary
        return np.asarray(self.p * (self.gamma + m * x) / (self.p * x + self.q - 1))


def log_likelihood(p: float, q: float, gamma: float, x: FloatArray, m: FloatArray) -> FloatArray:
    """The log density of each repeat buyer's mean amount (see the module docstring)."""
    value, _ = _log_likelihood_and_gradient(np.log([p, q, gamma]), x, m)
    return value


def _log_likelihood_and_gradient(
    theta: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    p, q, gamma = np.exp(theta)
    px = p * x
    log_x, log_m, log_gmx = np.log(x), np.log(m), np.log(gamma + m * x)
    value = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + px * log_x
        + (px - 1) * log_m
        - (px + q) * log_gmx
    )
    psi = digamma(px + q)
    d_p = x * (psi - digamma(px) + log_x + log_m - log_gmx)
    d_q = psi - digamma(q) + np.log(gamma) - log_gmx
    d_gamma = q / gamma - (px + q) / (gamma + m * x)
    return value, np.stack([d_p * p, d_q * q, d_gamma * gamma])


def fit_gamma_gamma(summary: CustomerSummary) -> GammaGammaFit:
    """Fit Gamma-Gamma by maximum likelihood to the repeat buyers with a positive mean spend."""
    buyers = (summary.frequency > 0) & (summary.monetary > 0)
    if not buyers.any():
        raise LtvInputError("monetary: no repeat buyer with a positive amount; cannot fit spend")
    (x, m), weights, _ = collapse(summary.frequency[buyers], summary.monetary[buyers])
    total = float(weights.sum())

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        value, gradient = _log_likelihood_and_gradient(theta, x, m)
        return -float(weights @ value) / total, -(gradient @ weights) / total

    # γ scales with the currency: start it at the mean amount.
    start = np.log([1.0, 1.0, max(float(np.average(m, weights=weights)), 1e-6)])
    p, q, gamma = maximise(objective, start, "gamma_gamma", ("p", "q", "gamma"))
    ll = float(weights @ log_likelihood(p, q, gamma, x, m))
    return GammaGammaFit(float(p), float(q), float(gamma), ll, int(total))
