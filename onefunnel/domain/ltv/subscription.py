"""Lifetime value of subscription contracts, from the retention curve.

In a contractual setting the firm sees churn, so a customer's value is the margin of each period
they stay, discounted:

    CLV = Σ_{t=0}^{H−1} m · S(t) / (1 + d)^t

with m the margin per period (paid at the start of the period), S(t) the probability of still
being a customer after t renewals (S(0) = 1) and d the discount rate per period.

S(t) comes either straight from the observed retention of a cohort (`survival_from_counts`:
survivors / cohort size, usable only as far as the data reaches) or from the shifted-beta-
geometric (sBG) model of Fader & Hardie (2007), "How to Project Customer Retention", Journal of
Interactive Marketing 21(1), 76-90, which extrapolates beyond it. In sBG each customer churns at
every renewal with their own probability θ ~ Beta(α, β), so the cohort's retention rises as the
likeliest churners leave:

    P(T = t) = B(α + 1, β + t − 1) / B(α, β),   S(t) = B(α, β + t) / B(α, β).

Over an unbounded horizon the sum has the closed form (Fader & Hardie 2010, "Customer-Base
Valuation in a Contractual Setting", Marketing Science 29(1)):

    E[CLV] = m · ₂F₁(1, β; α + β; 1 / (1 + d)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, hyp2f1

from onefunnel.domain.ltv._optimize import maximise
from onefunnel.domain.ltv.customers import FloatArray, LtvInputError


@dataclass(frozen=True, slots=True)
class SbgFit:
    """Fitted shifted-beta-geometric churn: θ ~ Beta(alpha, beta), and the log-likelihood."""

    alpha: float
    beta: float
    log_likelihood: float

    def survival(self, periods: int) -> FloatArray:
        """S(0), …, S(periods − 1): the share of a cohort still a customer after t renewals."""
        t = np.arange(periods, dtype=np.float64)
        return np.asarray(np.exp(betaln(self.alpha, self.beta + t) - betaln(self.alpha, self.beta)))

    def clv(self, margin: float, discount_rate: float, periods: int | None = None) -> float:
        """Expected lifetime value of a new customer; over `periods` periods, or unbounded."""
        _check_discount(discount_rate)
        if periods is not None:
            return clv_from_survival(margin, self.survival(periods), discount_rate)
        if discount_rate == 0 and self.alpha <= 1:
            raise LtvInputError("discount_rate: 0 gives an unbounded value when alpha <= 1")
        z = 1.0 / (1.0 + discount_rate)
        return float(margin * hyp2f1(1.0, self.beta, self.alpha + self.beta, z))


def _check_discount(discount_rate: float) -> None:
    if not np.isfinite(discount_rate) or discount_rate < 0:
        raise LtvInputError("discount_rate: must be a finite number >= 0")


def survival_from_counts(active: Sequence[float]) -> FloatArray:
    """The observed survival curve of a cohort: customers active after t renewals / at start."""
    counts = _check_counts(active)
    return np.asarray(counts / counts[0], dtype=np.float64)


def clv_from_survival(
    margin: float, survival: Sequence[float] | FloatArray, discount_rate: float
) -> float:
    """Σ margin · S(t) / (1 + d)^t over the periods of the curve (S(0) should be 1)."""
    _check_discount(discount_rate)
    s = np.asarray(survival, dtype=np.float64)
    if s.ndim != 1 or np.any(~np.isfinite(s)) or np.any(s < 0) or np.any(s > 1):
        raise LtvInputError("survival: must be probabilities between 0 and 1")
    if np.any(np.diff(s) > 0):
        raise LtvInputError("survival: must not increase")
    discount = (1.0 + discount_rate) ** -np.arange(s.shape[0], dtype=np.float64)
    return float(margin * (s @ discount))


def _check_counts(active: Sequence[float]) -> FloatArray:
    counts = np.asarray(active, dtype=np.float64)
    if counts.ndim != 1 or counts.shape[0] < 2:
        raise LtvInputError("active: need the cohort size and at least one later count")
    if np.any(~np.isfinite(counts)) or np.any(counts < 0) or counts[0] <= 0:
        raise LtvInputError("active: counts must be >= 0, the first one > 0")
    rising = np.flatnonzero(np.diff(counts) > 0)
    if rising.size:
        raise LtvInputError(f"active: period {int(rising[0]) + 1}: more customers than before")
    return counts


def fit_sbg(active: Sequence[float]) -> SbgFit:
    """Fit sBG to a cohort's active counts: active[0] at the start, active[t] after t renewals.

    Those lost at renewal t contribute log P(T = t); those still active after the last
    observed renewal k contribute log S(k) (Fader & Hardie 2007, eq. 7).
    """
    counts = _check_counts(active)
    lost = -np.diff(counts)
    if not lost.any():
        raise LtvInputError("active: nobody churned, so the churn rate cannot be estimated")
    if counts[-1] == 0 and np.count_nonzero(lost) == 1 and lost[0] > 0:
        raise LtvInputError("active: everyone churned at once; the model is not identified")
    t = np.arange(1, counts.shape[0], dtype=np.float64)
    k = float(counts.shape[0] - 1)
    total = float(counts[0])

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        alpha, beta = np.exp(theta)
        base = betaln(alpha, beta)
        log_p = betaln(alpha + 1, beta + t - 1) - base
        log_s = betaln(alpha, beta + k) - base
        value = float(lost @ log_p + counts[-1] * log_s)
        psi_ab = digamma(alpha + beta)
        d_base_a, d_base_b = digamma(alpha) - psi_ab, digamma(beta) - psi_ab
        psi_p = digamma(alpha + beta + t)
        d_p_a = digamma(alpha + 1) - psi_p - d_base_a
        d_p_b = digamma(beta + t - 1) - psi_p - d_base_b
        psi_s = digamma(alpha + beta + k)
        d_s_a = digamma(alpha) - psi_s - d_base_a
        d_s_b = digamma(beta + k) - psi_s - d_base_b
        grad = np.array(
            [
                alpha * (lost @ d_p_a + counts[-1] * d_s_a),
                beta * (lost @ d_p_b + counts[-1] * d_s_b),
            ]
        )
        return -value / total, -grad / total

    alpha, beta = maximise(objective, np.zeros(2), "sbg", ("alpha", "beta"))
    return SbgFit(float(alpha), float(beta), -objective(np.log([alpha, beta]))[0] * total)
