"""Predictive scoring: column kinds, missing values, imbalance, evaluation, explanation."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from onefunnel.domain.predictive import (
    Algorithm,
    ColumnKind,
    PredictiveError,
    PredictiveModel,
    detect_column_kinds,
    train_best_model,
    train_predictive_model,
)

INDUSTRIES = np.array(["software", "retail", "education", "fintech", None], dtype=object)


def leads(n: int, seed: int) -> tuple[dict[str, Any], npt.NDArray[np.int_]]:
    """Synthetic past leads: conversion depends on visits, company size and industry; one
    column is noise. Sizes come as CSV text with blanks, visits with NaNs, as real exports do."""
    rng = np.random.default_rng(seed)
    employees = rng.lognormal(4, 1.5, n)
    industry = INDUSTRIES[rng.integers(0, len(INDUSTRIES), n)]
    visits = rng.poisson(2, n).astype(float)
    logit = -6 + 1.0 * visits + 0.5 * np.log(employees) + 1.5 * (industry == "software")
    converted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int_)
    visits[rng.random(n) < 0.15] = np.nan
    size_text = [str(int(e)) if rng.random() > 0.1 else "" for e in employees]
    table = {
        "employees": size_text,
        "industry": list(industry),
        "visits": visits,
        "noise": rng.normal(size=n),
    }
    return table, converted


@pytest.fixture(scope="module")
def data() -> tuple[dict[str, Any], npt.NDArray[np.int_]]:
    return leads(800, seed=11)


@pytest.fixture(scope="module")
def logistic(data: tuple[dict[str, Any], npt.NDArray[np.int_]]) -> PredictiveModel:
    table, converted = data
    return train_predictive_model(table, converted, seed=1, threads=1)


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (np.array([1.0, np.nan, 3.5]), ColumnKind.NUMERIC),
        (np.array([1, 2, 3]), ColumnKind.NUMERIC),
        (np.array([True, False]), ColumnKind.NUMERIC),
        (["12", " 40 ", "", None], ColumnKind.NUMERIC),
        ([3, 4.5, None, float("nan")], ColumnKind.NUMERIC),
        (["12", "twelve"], ColumnKind.CATEGORICAL),
        (np.array(["DE", "US"]), ColumnKind.CATEGORICAL),
        ([None, ""], ColumnKind.CATEGORICAL),
    ],
)
def test_detect_column_kinds(column: Any, kind: ColumnKind) -> None:
    assert detect_column_kinds({"c": column}) == {"c": kind}


def test_logistic_model_learns_the_signal(logistic: PredictiveModel) -> None:
    report = logistic.report
    assert report.algorithm is Algorithm.LOGISTIC_REGRESSION
    assert report.holdout_auc > 0.75
    assert report.cv_auc_mean > 0.75
    assert 0 < report.cv_auc_std < 0.1
    assert report.cv_folds == 5
    assert report.column_kinds == {
        "employees": ColumnKind.NUMERIC,
        "industry": ColumnKind.CATEGORICAL,
        "visits": ColumnKind.NUMERIC,
        "noise": ColumnKind.NUMERIC,
    }


def test_probabilities_are_calibrated(
    logistic: PredictiveModel, data: tuple[dict[str, Any], npt.NDArray[np.int_]]
) -> None:
    table, converted = data
    base_rate = converted.mean()
    report = logistic.report
    # Better than always predicting the base rate, and on average right about the base rate.
    assert report.brier_score < base_rate * (1 - base_rate)
    assert abs(logistic.predict_proba(table).mean() - base_rate) < 0.05
    assert sum(b.count for b in report.reliability) == report.holdout_rows
    for b in report.reliability:
        assert b.lower <= b.mean_predicted <= b.upper
        assert 0 <= b.observed_rate <= 1


def test_random_outcomes_give_chance_level_auc(
    data: tuple[dict[str, Any], npt.NDArray[np.int_]],
) -> None:
    table, converted = data
    shuffled = np.random.default_rng(3).permutation(converted)
    report = train_predictive_model(table, shuffled, seed=1, threads=1).report
    assert report.cv_auc_mean < 0.62


def test_gradient_boosting_learns_the_signal(
    data: tuple[dict[str, Any], npt.NDArray[np.int_]],
) -> None:
    table, converted = data
    model = train_predictive_model(
        table, converted, algorithm=Algorithm.GRADIENT_BOOSTING, folds=3, seed=1, threads=1
    )
    assert model.report.algorithm is Algorithm.GRADIENT_BOOSTING
    assert model.report.holdout_auc > 0.7
    assert model.report.cv_auc_mean > 0.7


def test_the_default_fits_both_on_the_same_folds_and_keeps_the_better(
    data: tuple[dict[str, Any], npt.NDArray[np.int_]],
) -> None:
    table, converted = data
    kept, reports = train_best_model(table, converted, folds=3, seed=1, threads=1)
    assert {r.algorithm for r in reports} == set(Algorithm)
    assert kept.report is reports[0]
    assert kept.report.cv_auc_mean == max(r.cv_auc_mean for r in reports)
    # one split for all: the same rows held out, each model as fitted alone with that seed
    assert len({(r.rows, r.positives, r.holdout_rows, r.cv_folds) for r in reports}) == 1
    for report in reports:
        # Only the kept model is calibrated; the others are reported as fitted.
        alone = train_predictive_model(
            table, converted, algorithm=report.algorithm, folds=3, seed=1, threads=1,
            calibrate=report is kept.report,
        ).report  # fmt: skip
        assert (alone.cv_auc_mean, alone.holdout_auc, alone.brier_score, alone.cv_brier) == (
            report.cv_auc_mean, report.holdout_auc, report.brier_score, report.cv_brier,
        )  # fmt: skip
        assert (report.calibration != (1.0, 0.0)) == (report is kept.report)


def test_a_named_model_is_the_only_one_fitted(
    data: tuple[dict[str, Any], npt.NDArray[np.int_]],
) -> None:
    table, converted = data
    kept, reports = train_best_model(
        table, converted, algorithm=Algorithm.LOGISTIC_REGRESSION, folds=3, seed=1, threads=1
    )
    assert [r.algorithm for r in reports] == [Algorithm.LOGISTIC_REGRESSION]
    assert kept.report.algorithm is Algorithm.LOGISTIC_REGRESSION


def test_prediction_handles_missing_and_unseen_values(logistic: PredictiveModel) -> None:
    new: dict[str, Any] = {
        "employees": ["", "5000", None],
        "industry": ["aerospace", None, "software"],
        "visits": [np.nan, 10, 0],
        "noise": [0.0, 0.0, 0.0],
        "ignored": ["x", "y", "z"],
    }
    probabilities = logistic.predict_proba(new)
    assert probabilities.shape == (3,)
    assert ((probabilities > 0) & (probabilities < 1)).all()
    assert probabilities[1] > probabilities[0]  # ten visits at a large company beat nothing


def test_explanation_ranks_the_features_that_moved_the_prediction(
    logistic: PredictiveModel,
) -> None:
    row = {"employees": "300", "industry": "retail", "visits": 12, "noise": 0.0}
    top = logistic.explain(row, top=3)
    assert len(top) == 3
    assert top[0].feature == "visits"
    assert top[0].value == 12
    assert top[0].log_odds > 1
    assert [abs(c.log_odds) for c in top] == sorted((abs(c.log_odds) for c in top), reverse=True)


def test_a_typical_lead_has_no_contributions(logistic: PredictiveModel) -> None:
    typical = logistic.typical_lead()
    assert all(c.log_odds == pytest.approx(0) for c in logistic.explain(typical, top=10))


def test_fitted_model_survives_pickling(
    logistic: PredictiveModel, data: tuple[dict[str, Any], npt.NDArray[np.int_]]
) -> None:
    table, _ = data
    restored = pickle.loads(pickle.dumps(logistic))
    assert np.array_equal(restored.predict_proba(table), logistic.predict_proba(table))
    assert restored.report == logistic.report


def test_training_is_deterministic(data: tuple[dict[str, Any], npt.NDArray[np.int_]]) -> None:
    table, converted = data
    first = train_predictive_model(table, converted, seed=5, folds=3, threads=1).report
    again = train_predictive_model(table, converted, seed=5, folds=3, threads=1).report
    assert first == again


def small() -> tuple[dict[str, Any], list[int]]:
    table, converted = leads(200, seed=2)
    return table, converted.tolist()


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (lambda t, y: (t, [*y[:-1], 2]), r"^outcomes\[199\]: expected 0 or 1"),
        (lambda t, y: (t, [0] * len(y)), r"^outcomes: 0 converted"),
        (lambda t, y: (t, [1, 1, 1] + [0] * (len(y) - 3)), r"^outcomes: 3 converted"),
        (lambda t, y: ({**t, "noise": [1.0]}, y), r"^noise: has 1 values for 200 outcomes"),
        (lambda t, y: ({}, y), r"^table: "),
    ],
)
def test_bad_training_input_is_rejected(change: Any, pattern: str) -> None:
    table, converted = change(*small())
    with pytest.raises(PredictiveError, match=pattern):
        train_predictive_model(table, converted, threads=1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"holdout_fraction": 0.9}, "holdout_fraction"),
        ({"folds": 1}, "folds"),
        ({"folds": True}, "folds"),
        ({"threads": 0}, "threads"),
        ({"algorithm": "neural_net"}, "algorithm"),
    ],
)
def test_bad_options_are_rejected(kwargs: dict[str, Any], field: str) -> None:
    table, converted = small()
    with pytest.raises(PredictiveError, match=rf"^{field}: "):
        train_predictive_model(table, converted, **kwargs)


def test_bad_prediction_input_is_rejected(logistic: PredictiveModel) -> None:
    with pytest.raises(PredictiveError, match=r"^visits: missing column"):
        logistic.predict_proba({"employees": ["1"], "industry": ["x"], "noise": [0.0]})
    with pytest.raises(PredictiveError, match=r"^employees\[0\]: expected a number"):
        logistic.predict_proba(
            {"employees": ["many"], "industry": ["x"], "visits": [1], "noise": [0.0]}
        )
    with pytest.raises(PredictiveError, match=r"^table: columns differ"):
        logistic.predict_proba(
            {"employees": ["1", "2"], "industry": ["x"], "visits": [1], "noise": [0.0]}
        )
    with pytest.raises(PredictiveError, match=r"^row: "):
        logistic.explain(["not", "a", "row"])  # type: ignore[arg-type]


def rare_leads(n: int, seed: int) -> tuple[dict[str, Any], npt.NDArray[np.int_]]:
    """About 6 % convert, as in marketing-response tables."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(2, n).astype(float)
    size = rng.normal(size=n)
    logit = -4.2 + 0.6 * visits + 0.8 * size
    converted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int_)
    return {"visits": visits, "size": size, "noise": rng.normal(size=n)}, converted


def test_the_linear_model_is_unweighted_and_the_boosted_one_shifted_back() -> None:
    from onefunnel.domain.predictive import _Fitted

    table, converted = rare_leads(600, seed=2)
    kinds = detect_column_kinds(table)
    linear = _Fitted(table, converted, kinds, Algorithm.LOGISTIC_REGRESSION, 0)
    boosted = _Fitted(table, converted, kinds, Algorithm.GRADIENT_BOOSTING, 0)
    assert linear.estimator.class_weight is None
    assert linear.prior_shift == 0.0
    rate = converted.mean()
    assert boosted.estimator.class_weight == "balanced"
    assert boosted.prior_shift == pytest.approx(np.log(rate / (1 - rate)))


def test_calibration_keeps_the_ranking_and_fixes_the_level() -> None:
    """Platt scaling is monotone (the same AUC); on rare outcomes the calibrated model's
    mean prediction is the base rate, and its Brier score no worse than before."""
    table, converted = rare_leads(3000, seed=5)
    assert 0.03 < converted.mean() < 0.09
    for algorithm in Algorithm:
        raw = train_predictive_model(table, converted, algorithm=algorithm, folds=3, seed=1,
                                     threads=1, calibrate=False)  # fmt: skip
        calibrated = train_predictive_model(table, converted, algorithm=algorithm, folds=3,
                                            seed=1, threads=1)  # fmt: skip
        assert calibrated.report.holdout_auc == pytest.approx(raw.report.holdout_auc)
        assert calibrated.report.cv_auc_mean == raw.report.cv_auc_mean
        probabilities = calibrated.predict_proba(table)
        assert probabilities.mean() == pytest.approx(converted.mean(), abs=0.01)
        assert calibrated.report.brier_score <= raw.report.brier_score + 1e-3


def test_platt_recovers_a_known_mapping() -> None:
    from onefunnel.domain.predictive import platt

    rng = np.random.default_rng(0)
    log_odds = rng.normal(0, 2, 20000)
    # The truth is half as confident as the model and 1 lower.
    outcomes = (rng.random(20000) < 1 / (1 + np.exp(-(0.5 * log_odds - 1)))).astype(np.int_)
    slope, intercept = platt(log_odds, outcomes)
    assert slope == pytest.approx(0.5, abs=0.05)
    assert intercept == pytest.approx(-1, abs=0.08)
