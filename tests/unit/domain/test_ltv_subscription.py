"""Subscription CLV from the retention curve: sBG fits (Fader & Hardie 2007) and the sums."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.ltv import LtvInputError, clv_from_survival, fit_sbg, survival_from_counts
from onefunnel.domain.ltv.subscription import SbgFit

# Fader & Hardie (2007), "How to Project Customer Retention", Table 1: customers still active
# after 0..7 renewals out of 1,000, and their published fits (Table 2).
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


@pytest.mark.parametrize(
    ("active", "alpha", "beta"), [(HIGH_END, 0.668, 3.806), (REGULAR, 0.704, 1.182)]
)
def test_sbg_reproduces_the_published_fits(active: list[int], alpha: float, beta: float) -> None:
    fit = fit_sbg(active)
    assert fit.alpha == pytest.approx(alpha, rel=0.01)
    assert fit.beta == pytest.approx(beta, rel=0.01)


def test_sbg_recovers_the_parameters_it_simulated() -> None:
    rng = np.random.default_rng(3)
    churn = rng.beta(1.5, 4.0, 50_000)
    lifetimes = rng.geometric(churn)  # the renewal at which each customer leaves
    active = [int(np.count_nonzero(lifetimes > t)) for t in range(12)]
    fit = fit_sbg(active)
    assert fit.alpha == pytest.approx(1.5, rel=0.15)
    assert fit.beta == pytest.approx(4.0, rel=0.15)


def test_survival_starts_at_one_and_follows_the_retention_rates() -> None:
    fit = SbgFit(0.7, 1.2, 0.0)
    survival = fit.survival(10)
    assert survival[0] == 1
    # sBG's retention rate at renewal t is (β + t − 1) / (α + β + t − 1).
    t = np.arange(1, 10)
    assert np.allclose(survival[1:] / survival[:-1], (1.2 + t - 1) / (0.7 + 1.2 + t - 1))


@settings(max_examples=50, deadline=None)
@given(st.floats(0.2, 5), st.floats(0.2, 10), st.floats(0.01, 0.5), st.floats(1, 1000))
def test_closed_form_clv_equals_the_long_sum(
    alpha: float, beta: float, discount_rate: float, margin: float
) -> None:
    fit = SbgFit(alpha, beta, 0.0)
    assert fit.clv(margin, discount_rate) == pytest.approx(
        fit.clv(margin, discount_rate, periods=5000), rel=1e-6
    )


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 0.99), st.floats(0, 0.5), st.integers(1, 60), st.floats(1, 1000))
def test_constant_retention_is_a_geometric_series(
    retention: float, discount_rate: float, periods: int, margin: float
) -> None:
    survival = retention ** np.arange(periods)
    ratio = retention / (1 + discount_rate)
    expected = margin * (1 - ratio**periods) / (1 - ratio)
    assert clv_from_survival(margin, survival, discount_rate) == pytest.approx(expected)


def test_observed_survival_is_active_over_the_cohort() -> None:
    assert survival_from_counts(REGULAR).tolist() == pytest.approx(
        [count / 1000 for count in REGULAR]
    )


@pytest.mark.parametrize(
    ("active", "message"),
    [
        ([1000], "^active: need the cohort size"),
        ([0, 0], "^active: counts must be"),
        ([100, 90, 95], "^active: period 2: more customers than before"),
        ([100, 100, 100], "^active: nobody churned"),
    ],
)
def test_bad_counts_are_named(active: list[int], message: str) -> None:
    with pytest.raises(LtvInputError, match=message):
        fit_sbg(active)


def test_bad_survival_and_discount_are_named() -> None:
    with pytest.raises(LtvInputError, match=r"^survival: must not increase"):
        clv_from_survival(10, [1.0, 0.5, 0.6], 0.1)
    with pytest.raises(LtvInputError, match=r"^discount_rate: "):
        clv_from_survival(10, [1.0, 0.5], -0.1)
    with pytest.raises(LtvInputError, match=r"^discount_rate: 0 gives an unbounded"):
        SbgFit(0.7, 1.2, 0.0).clv(10, 0.0)
