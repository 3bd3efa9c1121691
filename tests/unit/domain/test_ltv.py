"""BG/NBD, Gamma-Gamma and per-customer CLV (domain/ltv): reference fits, invariants, errors."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onefunnel.domain.ltv import (
    CustomerSummary,
    LtvInputError,
    fit_bgnbd,
    fit_gamma_gamma,
    predict,
    summarise_orders,
)
from onefunnel.domain.ltv.bgnbd import BgNbdFit, _log_likelihood_and_gradient
from onefunnel.domain.ltv.customers import collapse
from onefunnel.domain.ltv.gamma_gamma import GammaGammaFit
from onefunnel.domain.ltv.gamma_gamma import (
    _log_likelihood_and_gradient as _gg_log_likelihood_and_gradient,
)

CDNOW = Path(__file__).resolve().parents[2] / "fixtures" / "cdnow_sample_orders.csv"
EPOCH = date(1970, 1, 1)


def _day(text: str) -> int:
    return (date.fromisoformat(text) - EPOCH).days


@pytest.fixture(scope="module")
def cdnow() -> CustomerSummary:
    """The CDNOW sample's 39-week calibration period, summarised in weeks."""
    with CDNOW.open() as handle:
        rows = list(csv.DictReader(handle))
    return summarise_orders(
        np.array([int(r["customer_id"]) for r in rows], dtype=np.int64),
        np.array([_day(r["date"]) for r in rows], dtype=np.int64),
        np.array([float(r["amount"]) for r in rows]),
        calibration_end=_day("1997-09-30"),
        days_per_unit=7.0,
    )


def test_cdnow_reproduces_the_published_bgnbd_parameters(cdnow: CustomerSummary) -> None:
    # Fader, Hardie & Lee (2005), CDNOW: r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    fit = fit_bgnbd(cdnow)
    assert fit.customers == len(cdnow) == 2357
    assert fit.r == pytest.approx(0.243, rel=0.01)
    assert fit.alpha == pytest.approx(4.414, rel=0.01)
    assert fit.a == pytest.approx(0.793, rel=0.01)
    assert fit.b == pytest.approx(2.426, rel=0.01)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_cdnow_reproduces_the_published_gamma_gamma_parameters(cdnow: CustomerSummary) -> None:
    # Fader, Hardie & Lee (2005b) / the Gamma-Gamma note: p = 6.25, q = 3.74, γ = 15.44.
    fit = fit_gamma_gamma(cdnow)
    assert fit.customers == int(np.count_nonzero(cdnow.frequency))
    assert fit.p == pytest.approx(6.25, rel=0.01)
    assert fit.q == pytest.approx(3.74, rel=0.01)
    assert fit.gamma == pytest.approx(15.44, rel=0.01)


def test_identical_customers_weigh_like_their_copies(cdnow: CustomerSummary) -> None:
    """Collapsing identical histories is exact: three copies fit the same parameters."""
    tripled = CustomerSummary.of(
        np.tile(cdnow.frequency, 3),
        np.tile(cdnow.recency, 3),
        np.tile(cdnow.age, 3),
        np.tile(cdnow.monetary, 3),
    )
    once, thrice = fit_bgnbd(cdnow), fit_bgnbd(tripled)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(thrice, name) == pytest.approx(getattr(once, name), rel=1e-6)
    assert thrice.log_likelihood == pytest.approx(3 * once.log_likelihood, rel=1e-9)
    spend_once, spend_thrice = fit_gamma_gamma(cdnow), fit_gamma_gamma(tripled)
    assert spend_thrice.p == pytest.approx(spend_once.p, rel=1e-6)
    assert spend_thrice.customers == 3 * spend_once.customers


def _simulate_bgnbd(
    rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float, age: float
) -> CustomerSummary:
    """Draw customers from the BG/NBD story itself (Poisson buying, dropout after a purchase)."""
    rates = rng.gamma(r, 1.0 / alpha, n)
    dropout = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / rates[i])
            if t > age:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < dropout[i]:
                break
    return CustomerSummary.of(x, t_x, np.full(n, age))


def test_bgnbd_recovers_the_parameters_it_simulated() -> None:
    rng = np.random.default_rng(7)
    summary = _simulate_bgnbd(rng, 6000, r=0.5, alpha=6.0, a=0.8, b=2.5, age=52.0)
    fit = fit_bgnbd(summary)
    assert fit.r == pytest.approx(0.5, rel=0.2)
    assert fit.alpha == pytest.approx(6.0, rel=0.3)
    assert fit.a == pytest.approx(0.8, rel=0.35)
    assert fit.b == pytest.approx(2.5, rel=0.5)


def test_gamma_gamma_recovers_the_parameters_it_simulated() -> None:
    rng = np.random.default_rng(11)
    n, p, q, gamma = 8000, 4.0, 3.0, 20.0
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(q, 1.0 / gamma, n)
    # The mean of x Gamma(p, ν) amounts is Gamma(p·x, ν·x).
    m = rng.gamma(p * x, 1.0 / (nu * x))
    fit = fit_gamma_gamma(CustomerSummary.of(x, x, np.full(n, 10.0), m))
    assert fit.p == pytest.approx(p, rel=0.1)
    assert fit.q == pytest.approx(q, rel=0.1)
    assert fit.gamma == pytest.approx(gamma, rel=0.15)


params = st.tuples(
    *(st.floats(0.05, 20.0) for _ in range(4)),
)
histories = st.lists(
    st.tuples(st.integers(0, 30), st.floats(0.01, 1.0), st.floats(0.1, 100.0)),
    min_size=1,
    max_size=8,
)


def _arrays(rows: list[tuple[int, float, float]]) -> tuple[np.ndarray, ...]:
    x = np.array([float(r[0]) for r in rows])
    age = np.array([r[2] for r in rows])
    t_x = np.where(x > 0, np.array([r[1] for r in rows]) * age, 0.0)
    return x, t_x, age


@settings(max_examples=60, deadline=None)
@given(params, histories)
def test_bgnbd_gradient_matches_finite_differences(
    theta: tuple[float, float, float, float], rows: list[tuple[int, float, float]]
) -> None:
    x, t_x, age = _arrays(rows)
    point = np.log(np.array(theta))
    value, gradient = _log_likelihood_and_gradient(point, x, t_x, age)
    assert np.all(np.isfinite(value))
    for i in range(4):
        h = np.zeros(4)
        h[i] = 1e-6
        up, _ = _log_likelihood_and_gradient(point + h, x, t_x, age)
        down, _ = _log_likelihood_and_gradient(point - h, x, t_x, age)
        numeric = (up - down) / 2e-6
        assert np.allclose(gradient[i], numeric, rtol=1e-4, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(*(st.floats(0.1, 30.0) for _ in range(3))),
    st.lists(st.tuples(st.integers(1, 20), st.floats(0.5, 500.0)), min_size=1, max_size=8),
)
def test_gamma_gamma_gradient_matches_finite_differences(
    theta: tuple[float, float, float], rows: list[tuple[int, float]]
) -> None:
    x = np.array([float(r[0]) for r in rows])
    m = np.array([r[1] for r in rows])
    point = np.log(np.array(theta))
    _, gradient = _gg_log_likelihood_and_gradient(point, x, m)
    for i in range(3):
        h = np.zeros(3)
        h[i] = 1e-6
        up, _ = _gg_log_likelihood_and_gradient(point + h, x, m)
        down, _ = _gg_log_likelihood_and_gradient(point - h, x, m)
        assert np.allclose(gradient[i], (up - down) / 2e-6, rtol=1e-4, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(params, histories, st.floats(0.5, 100.0))
def test_predictions_are_probabilities_and_grow_with_the_horizon(
    theta: tuple[float, float, float, float],
    rows: list[tuple[int, float, float]],
    horizon: float,
) -> None:
    r, alpha, a, b = theta
    fit = BgNbdFit(r, alpha, a, b, 0.0, len(rows))
    x, t_x, age = _arrays(rows)
    summary = CustomerSummary.of(x, t_x, age)
    alive = fit.probability_alive(summary)
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[x == 0] == 1)
    near = fit.expected_purchases(summary, horizon)
    far = fit.expected_purchases(summary, 2 * horizon)
    assert np.all(near >= -1e-9)
    assert np.all(far >= near - 1e-9 * (1 + np.abs(near)))


def test_expected_purchases_of_an_unseen_customer_match_the_new_customer_formula() -> None:
    """A customer with no repeat purchase and age 0 is a new customer (eq. 10 → eq. 9)."""
    fit = BgNbdFit(0.243, 4.414, 0.793, 2.426, 0.0, 1)
    summary = CustomerSummary.of([0.0], [0.0], [0.0])
    assert fit.expected_purchases(summary, 39.0)[0] == pytest.approx(
        fit.expected_purchases_new(39.0), rel=1e-12
    )


def test_clv_is_discounted_expected_purchases_times_spend() -> None:
    bgnbd = BgNbdFit(0.243, 4.414, 0.793, 2.426, 0.0, 3)
    spend = GammaGammaFit(6.25, 3.74, 15.44, 0.0, 2)
    summary = CustomerSummary.of([0, 2, 7], [0.0, 30.4, 35.0], [38.9, 38.9, 38.9], [0, 22.3, 41])
    flat = predict(bgnbd, spend, summary, horizon=52, discount_rate=0.0)
    assert np.allclose(flat.clv, flat.expected_purchases * flat.expected_spend)
    assert np.allclose(flat.expected_purchases, bgnbd.expected_purchases(summary, 52))
    # A customer with no repeat purchase is expected to spend the population mean, pγ/(q−1).
    assert flat.expected_spend[0] == pytest.approx(6.25 * 15.44 / 2.74)
    discounted = predict(bgnbd, spend, summary, horizon=52, discount_rate=0.01)
    assert np.all(discounted.clv < flat.clv)
    longer = predict(bgnbd, spend, summary, horizon=104, discount_rate=0.01)
    assert np.all(longer.clv > discounted.clv)
    # One step over the whole horizon discounts everything at its end.
    coarse = predict(bgnbd, spend, summary, horizon=52, discount_rate=0.01, step=52)
    assert np.allclose(coarse.clv, flat.clv / 1.01**52)


def test_same_day_orders_are_one_purchase_and_later_orders_are_left_out() -> None:
    customers = np.array([5, 5, 5, 5, 9, 9, 3], dtype=np.int64)
    days = np.array([10, 10, 17, 31, 12, 40, 50], dtype=np.int64)
    amounts = np.array([5.0, 7.0, 20.0, 30.0, 8.0, 1.0, 2.0])
    summary = summarise_orders(customers, days, amounts, calibration_end=31, days_per_unit=7)
    # Customer 3 bought first after the end; customer 9's second order is after it too.
    assert summary.customers.tolist() == [5, 9]
    assert summary.frequency.tolist() == [2.0, 0.0]
    assert summary.recency.tolist() == pytest.approx([3.0, 0.0])
    assert summary.age.tolist() == pytest.approx([3.0, 19 / 7])
    # The first purchase (12 on day 10) is not in the mean of the repeat purchases.
    assert summary.monetary.tolist() == pytest.approx([25.0, 0.0])
    assert summary.first_day.tolist() == [10, 12]


@pytest.mark.parametrize(
    ("columns", "field"),
    [
        (([-1], [0], [1]), "frequency"),
        (([1.5], [1], [2]), "frequency"),
        (([1], [3], [2]), "recency"),
        (([1], [0], [2]), "recency"),
        (([1], [1], [float("nan")]), "age"),
        (([1, 2], [1], [2, 2]), "recency"),
    ],
)
def test_bad_summaries_name_the_field(columns: tuple[list[float], ...], field: str) -> None:
    with pytest.raises(LtvInputError, match=rf"^{field}: "):
        CustomerSummary.of(*columns)


def test_fits_need_repeat_buyers() -> None:
    summary = CustomerSummary.of([0, 0], [0, 0], [3, 4])
    with pytest.raises(LtvInputError, match=r"^frequency: no customer made a repeat purchase"):
        fit_bgnbd(summary)
    with pytest.raises(LtvInputError, match=r"^monetary: "):
        fit_gamma_gamma(summary)


def test_predict_rejects_a_negative_discount_rate() -> None:
    bgnbd = BgNbdFit(0.243, 4.414, 0.793, 2.426, 0.0, 1)
    spend = GammaGammaFit(6.25, 3.74, 15.44, 0.0, 1)
    summary = CustomerSummary.of([1], [1], [2], [10])
    with pytest.raises(LtvInputError, match=r"^discount_rate: "):
        predict(bgnbd, spend, summary, horizon=10, discount_rate=-0.1)
    with pytest.raises(LtvInputError, match=r"^horizon: "):
        predict(bgnbd, spend, summary, horizon=float("inf"), discount_rate=0.1)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(*(st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e300, 3.0]) for _ in range(3))),
        min_size=1,
        max_size=40,
    )
)
def test_collapse_groups_exactly_the_identical_rows(rows: list[tuple[float, ...]]) -> None:
    columns = tuple(np.array([r[i] for r in rows]) for i in range(3))
    distinct, counts, inverse = collapse(*columns)
    table = np.column_stack(columns) + 0.0
    # Every row maps to a distinct row equal to it, and the counts add up.
    assert np.array_equal(np.column_stack(distinct)[inverse], table)
    assert counts.sum() == len(rows)
    assert np.array_equal(np.bincount(inverse, minlength=len(counts)), counts)
    assert len(counts) == len(np.unique(table, axis=0))


def test_a_history_without_dropouts_names_the_edge_the_fit_runs_to() -> None:
    """Everybody buying at one steady rate up to the end, nobody stopping: the likelihood keeps
    rising towards no dropout (a → 0 or b → ∞), and the error says so instead of a bare
    "does not converge"."""
    ages = np.linspace(20.0, 60.0, 30)
    frequency = np.floor(ages / 4)  # one purchase every 4 weeks, the last just before the end
    recency = frequency * 4
    summary = CustomerSummary.of(frequency.tolist(), recency.tolist(), ages.tolist())
    with pytest.raises(LtvInputError) as raised:
        fit_bgnbd(summary)
    message = str(raised.value)
    assert message.startswith("bgnbd: the fit does not converge on this data (")
    assert "a → 0" in message or "b → ∞" in message, message
    assert "30 customers, 30 with a repeat purchase" in message
