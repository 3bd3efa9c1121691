"""BG/NBD: how many purchases a customer will make, and whether they are still "alive".

The beta-geometric / negative binomial distribution model of Fader, Hardie & Lee (2005),
"Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing
Science 24(2), 275-284. The story: while alive, a customer buys at a Poisson rate λ, and
λ ~ Gamma(r, α) across customers; after each purchase the customer drops out for good with
probability p, and p ~ Beta(a, b) across customers. A customer with x repeat purchases, the
last at t_x, observed for T (all in one time unit) has likelihood (their eq. 6, with
δ = 1 when x > 0):

    L(r, α, a, b | x, t_x, T) = A1 · A2 · (A3 + δ · A4)
    A1 = Γ(r + x) α^r / Γ(r)
    A2 = B(a, b + x) / B(a, b)
    A3 = (α + T)^-(r + x)
    A4 = a / (b + x − 1) · (α + t_x)^-(r + x)

computed here in logs, the sum A3 + A4 by log-sum-exp, so it neither under- nor overflows for
long histories. The parameters maximise the log-likelihood summed over customers (identical
histories counted once with a weight), on log-parameters with the analytic gradient.

Per customer, given the fit (their eqs. 10 and 11, z = t / (α + T + t)):

    E[Y(t) | x, t_x, T] = (a + b + x − 1) / (a − 1)
        · [1 − ((α + T)/(α + T + t))^(r + x) · ₂F₁(r + x, b + x; a + b + x − 1; z)]
        / (1 + δ · a / (b + x − 1) · ((α + T)/(α + t_x))^(r + x))
    P(alive | x, t_x, T) = 1 / (1 + δ · a / (b + x − 1) · ((α + T)/(α + t_x))^(r + x))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from onefunnel.domain.ltv._optimize import maximise
from onefunnel.domain.ltv.customers import (
    CustomerSummary,
    FloatArray,
    LtvInputError,
    collapse,
)


@dataclass(frozen=True, slots=True)
class BgNbdFit:
    """Fitted BG/NBD parameters and the log-likelihood summed over the customers fitted."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int

    def _terms(
        self, x: FloatArray, t_x: FloatArray, age: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """δ · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x) (0 when x = 0), and r + x."""
        rx = self.r + x
        repeat = x > 0
        log_ratio = np.zeros_like(x)
        xr, rr = x[repeat], rx[repeat]
        log_ratio[repeat] = (
            np.log(self.a)
            - np.log(self.b + xr - 1)
            + rr * (np.log(self.alpha + age[repeat]) - np.log(self.alpha + t_x[repeat]))
        )
        return np.where(repeat, np.exp(log_ratio), 0.0), rx

    def probability_alive(self, summary: CustomerSummary) -> FloatArray:
        """P(alive at the end of calibration | history), per customer (eq. 11)."""
        odds_dead, _ = self._terms(summary.frequency, summary.recency, summary.age)
        return np.asarray(1.0 / (1.0 + odds_dead))

    def expected_purchases(self, summary: CustomerSummary, horizon: float) -> FloatArray:
        """Expected purchases in (T, T + horizon] given each customer's history (eq. 10)."""
        x, t_x, age = summary.frequency, summary.recency, summary.age
        if horizon <= 0:
            return np.zeros_like(x)
        odds_dead, rx = self._terms(x, t_x, age)
        # At a = 1 the formula is 0/0 with a finite limit; a hair beside it gives the limit.
        a = self.a if abs(self.a - 1) > 1e-7 else 1 + 1e-7
        abx = a + self.b + x - 1
        z = horizon / (self.alpha + age + horizon)
        shrink = np.exp(rx * (np.log(self.alpha + age) - np.log(self.alpha + age + horizon)))
        bracket = 1.0 - shrink * hyp2f1(rx, self.b + x, abx, z)
        return np.asarray(abx / (a - 1) * bracket / (1.0 + odds_dead))

    def expected_purchases_new(self, horizon: float) -> float:
        """Expected purchases of a new customer in (0, horizon] (eq. 9)."""
        b, r, alpha = self.b, self.r, self.alpha
        a = self.a if abs(self.a - 1) > 1e-7 else 1 + 1e-7
        z = horizon / (alpha + horizon)
        shrink = (alpha / (alpha + horizon)) ** r
        return float((a + b - 1) / (a - 1) * (1 - shrink * hyp2f1(r, b, a + b - 1, z)))


def log_likelihood(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> FloatArray:
    """The log of eq. 6 per customer (see the module docstring)."""
    value, _ = _log_likelihood_and_gradient(np.log([r, alpha, a, b]), x, t_x, age)
    return value


def _log_likelihood_and_gradient(
    theta: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its gradient in (log r, log α, log a, log b)."""
    r, alpha, a, b = np.exp(theta)
    rx = r + x
    repeat = x > 0
    log_a1 = gammaln(rx) - gammaln(r) + r * np.log(alpha)
    log_a2 = betaln(a, b + x) - betaln(a, b)
    log_alpha_t = np.log(alpha + age)
    log_alpha_tx = np.log(alpha + t_x)
    log_a3 = -rx * log_alpha_t
    # A4 exists only for repeat buyers; elsewhere its log is -inf (weight 0 in the sum).
    bx1 = np.where(repeat, b + x - 1, 1.0)
    log_a4 = np.where(repeat, np.log(a) - np.log(bx1) - rx * log_alpha_tx, -np.inf)
    top = np.maximum(log_a3, log_a4)
    log_sum = top + np.log(np.exp(log_a3 - top) + np.exp(log_a4 - top))
    w4 = np.exp(log_a4 - log_sum)
    w3 = 1.0 - w4
    d_r = digamma(rx) - digamma(r) + np.log(alpha) - w3 * log_alpha_t - w4 * log_alpha_tx
    d_alpha = r / alpha - rx * (w3 / (alpha + age) + w4 / (alpha + t_x))
    psi_abx = digamma(a + b + x)
    d_a = digamma(a + b) - psi_abx + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - psi_abx - w4 / bx1
    gradient = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return log_a1 + log_a2 + log_sum, gradient


def fit_bgnbd(summary: CustomerSummary) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood to every customer of the summary."""
    n = len(summary)
    if n == 0:
        raise LtvInputError("customers: no customer to fit")
    if not np.any(summary.frequency > 0):
        raise LtvInputError("frequency: no customer made a repeat purchase; BG/NBD needs some")
    (x, t_x, age), weights, _ = collapse(summary.frequency, summary.recency, summary.age)
    total = float(weights.sum())

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        value, gradient = _log_likelihood_and_gradient(theta, x, t_x, age)
        return -float(weights @ value) / total, -(gradient @ weights) / total

    # Start at the scale of the data: α is a time scale, so it starts at the mean age.
    start = np.log([1.0, max(float(np.mean(age)), 1e-3), 1.0, 1.0])
    try:
        r, alpha, a, b = maximise(objective, start, "bgnbd", ("r", "alpha", "a", "b"))
    except LtvInputError as exc:
        # What the edge means here: a → 0 or b → ∞ is no customer seen to stop buying; r and
        # α → ∞ together is one purchase rate for everybody. Both need more history to tell.
        repeaters = int(weights[x > 0].sum())
        raise LtvInputError(
            f"{exc}; {n} customers, {repeaters} with a repeat purchase: BG/NBD tells customers "
            "who stopped buying from those who buy slowly, and needs history that shows both"
        ) from None
    ll = float(weights @ log_likelihood(r, alpha, a, b, x, t_x, age))
    return BgNbdFit(float(r), float(alpha), float(a), float(b), ll, n)
