"""Predictive lead scoring: the probability that a lead converts, learned from past outcomes.

The intuition. Rules say what marketing *believes* makes a good lead; past conversions say what
actually did. Given a table of lead features (industry, employees, touches in the last 30 days,
…) and whether each lead converted, we fit a classifier and report how well it ranks and how
honest its probabilities are, on leads it has not seen.

The steps, in order:

1. **Column kinds.** A column whose present values are all numbers (or numeric text, as read
   from a CSV) is numeric; anything else is categorical.
2. **Encoding with missing values.** Numeric columns: missing values are imputed with the
   training median, an indicator column records that they were missing (missingness is often
   informative: no company size known), and values are standardised. Categorical columns are
   one-hot encoded, with "(missing)" as a category of its own and rare or unseen categories
   folded into "(other)".
3. **Imbalance.** Few leads convert. The logistic regression is fit unweighted: reweighting
   the classes does not improve its ranking (on the CoIL 2000 caravan-insurance response table,
   6 % positives, balanced weights gave a 5-fold AUC of 0.731 against 0.732 unweighted on the
   same folds; ``bench/predictive.py``) and it distorts the probabilities. The boosted trees
   keep ``balanced`` weights (0.757 against 0.756 unweighted there): they act as if half of
   all leads converted, which we undo by adding the log prior odds of the training data to
   every predicted log-odds (a prior-shift correction).
4. **Choosing.** ``train_best_model`` fits both models on the same cross-validation folds and
   keeps the one with the better mean AUC (ties go to the simpler logistic regression).
5. **Calibration of the chosen model.** Its out-of-fold log-odds are mapped to probabilities
   by Platt scaling (a one-feature logistic regression of the outcome on the log-odds), so
   that of the leads given ~30 %, ~30 % convert. Being monotone it leaves the ranking (AUC)
   as it is.
6. **Evaluation.** A stratified holdout gives ROC AUC (ranking), the Brier score and
   reliability bins (calibration) — the holdout model is calibrated on its own training rows
   only. Stratified k-fold cross-validation gives AUC mean and spread and the out-of-fold
   Brier score before calibration. The model kept for prediction is then refit on all rows.
7. **Explanation.** A prediction's top features are found by occlusion: replace one column
   with its typical value (training median or most frequent category) and see how much the
   log-odds move. This works alike for the linear and the boosted model.

No file I/O here: the caller reads the table and persists the fitted model (it pickles).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped,unused-ignore]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped,unused-ignore]
from sklearn.metrics import brier_score_loss, roc_auc_score  # type: ignore[import-untyped,unused-ignore]
from sklearn.model_selection import (  # type: ignore[import-untyped,unused-ignore]
    StratifiedKFold,
    train_test_split,
)
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped,unused-ignore]

FeatureTable = Mapping[str, Sequence[Any] | npt.NDArray[Any]]
FloatArray = npt.NDArray[np.float64]

MISSING = "(missing)"
OTHER = "(other)"
#: Categories seen fewer times than this in training are folded into "(other)".
MIN_CATEGORY_COUNT = 5
#: At most this many categories per column get their own one-hot column.
MAX_CATEGORIES = 50
RELIABILITY_BINS = 10


class PredictiveError(ValueError):
    """Input the predictive model cannot use; the message starts with the field's name."""


class ColumnKind(StrEnum):
    """How a feature column is encoded."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class Algorithm(StrEnum):
    """The classifiers on offer."""

    LOGISTIC_REGRESSION = "logistic_regression"
    GRADIENT_BOOSTING = "gradient_boosting"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return isinstance(value, str) and not value.strip()


def _number(value: Any) -> float | None:
    """The value as a float, or None if it is not numeric (booleans count as 0/1)."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def detect_column_kinds(table: FeatureTable) -> dict[str, ColumnKind]:
    """Numeric if every present value of the column is a number or numeric text."""
    kinds: dict[str, ColumnKind] = {}
    for name, column in table.items():
        values = np.asarray(column, dtype=object) if not isinstance(column, np.ndarray) else column
        if values.dtype.kind in "biuf":
            kinds[name] = ColumnKind.NUMERIC
            continue
        present = [v for v in values.tolist() if not _is_missing(v)]
        numeric = bool(present) and all(_number(v) is not None for v in present)
        kinds[name] = ColumnKind.NUMERIC if numeric else ColumnKind.CATEGORICAL
    return kinds


def _numeric_column(values: Sequence[Any] | npt.NDArray[Any], name: str) -> FloatArray:
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(np.asarray(values, dtype=object).tolist()):
        if _is_missing(value):
            out[i] = np.nan
            continue
        number = _number(value)
        if number is None:
            raise PredictiveError(f"{name}[{i}]: expected a number, got {value!r}")
        out[i] = number
    return out


def _category(value: Any) -> str:
    return MISSING if _is_missing(value) else str(value).strip()


@dataclass(frozen=True)
class _NumericEncoding:
    name: str
    median: float
    mean: float
    scale: float
    indicator: bool


@dataclass(frozen=True)
class _CategoricalEncoding:
    name: str
    categories: tuple[str, ...]
    mode: str


class _Encoder:
    """Turns a feature table into a float matrix, as learned from the training rows."""

    def __init__(self, table: FeatureTable, kinds: Mapping[str, ColumnKind]) -> None:
        self.numeric: list[_NumericEncoding] = []
        self.categorical: list[_CategoricalEncoding] = []
        for name, kind in kinds.items():
            if kind is ColumnKind.NUMERIC:
                column = _numeric_column(table[name], name)
                missing = np.isnan(column)
                median = float(np.median(column[~missing])) if (~missing).any() else 0.0
                filled = np.where(missing, median, column)
                scale = float(filled.std()) or 1.0
                self.numeric.append(
                    _NumericEncoding(name, median, float(filled.mean()), scale, bool(missing.any()))
                )
            else:
                counts = Counter(_category(v) for v in np.asarray(table[name], dtype=object))
                kept = [c for c, n in counts.most_common(MAX_CATEGORIES) if n >= MIN_CATEGORY_COUNT]
                mode = counts.most_common(1)[0][0]
                self.categorical.append(_CategoricalEncoding(name, tuple(sorted(kept)), mode))

    @property
    def feature_names(self) -> list[str]:
        names: list[str] = []
        for num in self.numeric:
            names.append(num.name)
            if num.indicator:
                names.append(f"{num.name} {MISSING}")
        for cat in self.categorical:
            names.extend(f"{cat.name}={c}" for c in (*cat.categories, OTHER))
        return names

    def baseline(self) -> dict[str, Any]:
        """A typical row: the median of each numeric column, the mode of each categorical."""
        row: dict[str, Any] = {num.name: num.median for num in self.numeric}
        row.update({cat.name: cat.mode for cat in self.categorical})
        return row

    def transform(self, table: FeatureTable) -> FloatArray:
        blocks: list[FloatArray] = []
        for num in self.numeric:
            column = _numeric_column(table[num.name], num.name)
            missing = np.isnan(column)
            blocks.append(((np.where(missing, num.median, column) - num.mean) / num.scale)[:, None])
            if num.indicator:
                blocks.append(missing.astype(np.float64)[:, None])
        for cat in self.categorical:
            values = [_category(v) for v in np.asarray(table[cat.name], dtype=object)]
            position = {c: i for i, c in enumerate(cat.categories)}
            onehot = np.zeros((len(values), len(cat.categories) + 1))
            for row, value in enumerate(values):
                onehot[row, position.get(value, len(cat.categories))] = 1.0
            blocks.append(onehot)
        rows = len(next(iter(table.values())))
        return np.hstack(blocks) if blocks else np.zeros((rows, 0))


@dataclass(frozen=True)
class ReliabilityBin:
    """Holdout leads whose predicted probability fell in [lower, upper): how many, the mean
    prediction, and the share that actually converted. Calibrated: the last two agree."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


@dataclass(frozen=True)
class ModelReport:
    """How good the model is, measured on rows it was not fit on."""

    algorithm: Algorithm
    rows: int
    positives: int
    holdout_rows: int
    holdout_auc: float
    brier_score: float
    reliability: tuple[ReliabilityBin, ...]
    cv_folds: int
    cv_auc_mean: float
    cv_auc_std: float
    column_kinds: Mapping[str, ColumnKind]
    # Out-of-fold Brier score on the cross-validation folds, before calibration.
    cv_brier: float = float("nan")
    # Platt scaling of the log-odds (slope, intercept); (1, 0) when not calibrated.
    calibration: tuple[float, float] = (1.0, 0.0)


@dataclass(frozen=True)
class FeatureContribution:
    """How much one column moved a prediction's log-odds away from a typical lead's value."""

    feature: str
    value: Any
    log_odds: float


def _estimator(algorithm: Algorithm, seed: int) -> Any:
    if algorithm is Algorithm.LOGISTIC_REGRESSION:
        # Unweighted, default settings (more iterations only so that it converges).
        return LogisticRegression(max_iter=2000)
    # Small, regularised trees with early stopping: lead tables are small and noisy, and the
    # default (31 leaves, no stopping) overfits them. 64 bins keep the weighted binning cheap.
    return HistGradientBoostingClassifier(
        class_weight="balanced",
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        early_stopping=True,
        max_bins=64,
        random_state=seed,
    )


class _Fitted:
    """An encoder and an estimator fit together on one set of rows."""

    def __init__(
        self,
        table: FeatureTable,
        outcomes: npt.NDArray[np.int_],
        kinds: Mapping[str, ColumnKind],
        algorithm: Algorithm,
        seed: int,
    ) -> None:
        self.encoder = _Encoder(table, kinds)
        self.estimator = _estimator(algorithm, seed)
        self.estimator.fit(self.encoder.transform(table), outcomes)
        rate = float(outcomes.mean())
        # Balanced weights fit as if the prior were 1:1; shift back to the real prior odds.
        weighted = getattr(self.estimator, "class_weight", None) == "balanced"
        self.prior_shift = math.log(rate / (1 - rate)) if weighted else 0.0
        self.calibration = (1.0, 0.0)

    def calibrate(self, log_odds: FloatArray, outcomes: npt.NDArray[np.int_]) -> None:
        """Platt scaling: fit outcome ~ a · log-odds + b on predictions the model did not
        train on, and apply it to every later prediction."""
        self.calibration = platt(log_odds, outcomes)

    def raw_log_odds(self, table: FeatureTable) -> FloatArray:
        raw = self.estimator.decision_function(self.encoder.transform(table))
        return np.asarray(raw, dtype=np.float64) + self.prior_shift

    def log_odds(self, table: FeatureTable) -> FloatArray:
        slope, intercept = self.calibration
        return slope * self.raw_log_odds(table) + intercept

    def proba(self, table: FeatureTable) -> FloatArray:
        # The logistic function written with tanh: no overflow for very large log-odds.
        return np.asarray(0.5 * (1.0 + np.tanh(0.5 * self.log_odds(table))), dtype=np.float64)


def _sigmoid(log_odds: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * log_odds)), dtype=np.float64)


def platt(log_odds: FloatArray, outcomes: npt.NDArray[np.int_]) -> tuple[float, float]:
    """The (slope, intercept) that best map ``log_odds`` to the ``outcomes`` (a one-feature
    logistic regression, practically unregularised)."""
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(np.asarray(log_odds)[:, None], outcomes)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def _cross_validate(
    table: FeatureTable,
    y: npt.NDArray[np.int_],
    rows: npt.NDArray[np.int_],
    kinds: Mapping[str, ColumnKind],
    algorithm: Algorithm,
    seed: int,
    folds: int,
) -> tuple[FloatArray, list[float]]:
    """Out-of-fold log-odds of ``rows`` (before calibration) and each fold's AUC, on the
    stratified folds the seed gives."""
    oof = np.zeros(len(rows))
    aucs = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fold_train, fold_test in splitter.split(rows, y[rows]):
        train, test = rows[fold_train], rows[fold_test]
        fitted = _Fitted(_subset(table, train), y[train], kinds, algorithm, seed)
        oof[fold_test] = fitted.raw_log_odds(_subset(table, test))
        aucs.append(float(roc_auc_score(y[test], oof[fold_test])))
    return oof, aucs


def _subset(table: FeatureTable, rows: npt.NDArray[np.int_]) -> dict[str, npt.NDArray[Any]]:
    return {name: np.asarray(column, dtype=object)[rows] for name, column in table.items()}


def _reliability(
    predicted: FloatArray, observed: npt.NDArray[np.int_]
) -> tuple[ReliabilityBin, ...]:
    edges = np.arange(RELIABILITY_BINS + 1) / RELIABILITY_BINS
    which = np.clip(np.digitize(predicted, edges) - 1, 0, RELIABILITY_BINS - 1)
    bins = []
    for b in range(RELIABILITY_BINS):
        mask = which == b
        if mask.any():
            bins.append(
                ReliabilityBin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    int(mask.sum()),
                    float(predicted[mask].mean()),
                    float(observed[mask].mean()),
                )
            )
    return tuple(bins)


class PredictiveModel:
    """A fitted conversion model with its evaluation report."""

    def __init__(self, fitted: _Fitted, columns: tuple[str, ...], report: ModelReport) -> None:
        self._fitted = fitted
        self.columns = columns
        self.report = report

    def _checked(self, table: FeatureTable) -> FeatureTable:
        if not isinstance(table, Mapping):
            raise PredictiveError("table: expected a mapping of column name to values")
        for name in self.columns:
            if name not in table:
                raise PredictiveError(f"{name}: missing column")
        lengths = {len(table[name]) for name in self.columns}
        if len(lengths) > 1:
            raise PredictiveError("table: columns differ in length")
        return {name: table[name] for name in self.columns}

    def predict_proba(self, table: FeatureTable) -> FloatArray:
        """The probability of conversion of each row (extra columns are ignored)."""
        return self._fitted.proba(self._checked(table))

    def typical_lead(self) -> dict[str, Any]:
        """The reference explanations compare with: each column's median or commonest value."""
        return self._fitted.encoder.baseline()

    def explain(self, row: Mapping[str, Any], top: int = 5) -> tuple[FeatureContribution, ...]:
        """The ``top`` columns that move this row's log-odds most, largest effect first."""
        if not isinstance(row, Mapping):
            raise PredictiveError("row: expected a mapping of column name to value")
        table = self._checked({name: [value] for name, value in row.items()})
        baseline = self._fitted.encoder.baseline()
        # Row 0 is the lead itself; row i + 1 is the lead with column i set to its typical value.
        variants: dict[str, list[Any]] = {name: [table[name][0]] for name in self.columns}
        for occluded in self.columns:
            for name in self.columns:
                variants[name].append(baseline[name] if name == occluded else table[name][0])
        log_odds = self._fitted.log_odds(variants)
        effects = [
            FeatureContribution(name, table[name][0], float(log_odds[0] - log_odds[i + 1]))
            for i, name in enumerate(self.columns)
        ]
        effects.sort(key=lambda c: (-abs(c.log_odds), c.feature))
        return tuple(effects[: max(top, 0)])


def _outcomes(outcomes: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.int_]:
    values = np.asarray(outcomes, dtype=object)
    if values.ndim != 1:
        raise PredictiveError("outcomes: expected a flat list of 0/1 values")
    out = np.empty(len(values), dtype=np.int_)
    for i, value in enumerate(values.tolist()):
        if isinstance(value, bool) or value in (0, 1):
            out[i] = int(value)
        else:
            raise PredictiveError(f"outcomes[{i}]: expected 0 or 1, got {value!r}")
    return out


def train_predictive_model(
    table: FeatureTable,
    outcomes: Sequence[Any] | npt.NDArray[Any],
    *,
    algorithm: Algorithm = Algorithm.LOGISTIC_REGRESSION,
    holdout_fraction: float = 0.25,
    folds: int = 5,
    seed: int = 0,
    threads: int | None = None,
    calibrate: bool = True,
) -> PredictiveModel:
    """Fit a conversion model on ``table`` (column name → values) and 0/1 ``outcomes``,
    evaluate it (holdout AUC, Brier, reliability; stratified k-fold AUC and Brier), refit on
    all rows and, with ``calibrate``, calibrate it (Platt scaling on out-of-fold log-odds).

    ``threads`` caps the native (OpenMP/BLAS) threads used while fitting; None leaves the
    libraries' default. On a small table or a busy machine one thread is often fastest.
    """
    _check_threads(threads)
    with threadpool_limits(limits=threads):
        table, y, kinds = _checked_inputs(table, outcomes, algorithm, holdout_fraction, folds)
        return _train(table, y, kinds, Algorithm(algorithm), holdout_fraction, folds, seed,
                      calibrate=calibrate)  # fmt: skip


def _check_threads(threads: int | None) -> None:
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise PredictiveError(f"threads: expected a positive integer or None, got {threads!r}")


def _checked_inputs(
    table: FeatureTable,
    outcomes: Sequence[Any] | npt.NDArray[Any],
    algorithm: Algorithm,
    holdout_fraction: float,
    folds: int,
) -> tuple[FeatureTable, npt.NDArray[np.int_], dict[str, ColumnKind]]:
    if not isinstance(table, Mapping) or not table:
        raise PredictiveError("table: expected at least one feature column")
    try:
        algorithm = Algorithm(algorithm)
    except ValueError:
        raise PredictiveError(f"algorithm: unknown algorithm {algorithm!r}") from None
    y = _outcomes(outcomes)
    for name, column in table.items():
        if len(column) != len(y):
            raise PredictiveError(f"{name}: has {len(column)} values for {len(y)} outcomes")
    if not 0.05 <= holdout_fraction <= 0.5:
        raise PredictiveError(f"holdout_fraction: expected 0.05 to 0.5, got {holdout_fraction}")
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= 20:
        raise PredictiveError(f"folds: expected an integer from 2 to 20, got {folds!r}")
    positives = int(y.sum())
    smallest = min(positives, len(y) - positives)
    needed = max(folds, math.ceil(2 / holdout_fraction))
    if smallest < needed:
        raise PredictiveError(
            f"outcomes: {positives} converted and {len(y) - positives} did not; each class "
            f"needs at least {needed} rows to evaluate the model"
        )
    return table, y, detect_column_kinds(table)


def _train(
    table: FeatureTable,
    y: npt.NDArray[np.int_],
    kinds: Mapping[str, ColumnKind],
    algorithm: Algorithm,
    holdout_fraction: float,
    folds: int,
    seed: int,
    *,
    calibrate: bool,
    cv: tuple[FloatArray, list[float]] | None = None,
) -> PredictiveModel:
    columns = tuple(table)
    rows = np.arange(len(y))
    oof, aucs = cv or _cross_validate(table, y, rows, kinds, algorithm, seed, folds)

    train, test = train_test_split(rows, test_size=holdout_fraction, stratify=y, random_state=seed)
    holdout = _Fitted(_subset(table, train), y[train], kinds, algorithm, seed)
    inner = min(folds, int(y[train].sum()), int(len(train) - y[train].sum()))
    if calibrate and inner >= 2:
        # Calibrated on its own training rows only, so the holdout stays unseen.
        inner_oof, _ = _cross_validate(table, y, train, kinds, algorithm, seed, inner)
        holdout.calibrate(inner_oof, y[train])
    predicted = holdout.proba(_subset(table, test))
    final = _Fitted(_subset(table, rows), y, kinds, algorithm, seed)
    if calibrate:
        final.calibrate(oof, y)
    report = ModelReport(
        algorithm=algorithm,
        rows=len(y),
        positives=int(y.sum()),
        holdout_rows=len(test),
        holdout_auc=float(roc_auc_score(y[test], predicted)),
        brier_score=float(brier_score_loss(y[test], predicted)),
        reliability=_reliability(predicted, y[test]),
        cv_folds=folds,
        cv_auc_mean=float(np.mean(aucs)),
        cv_auc_std=float(np.std(aucs)),
        column_kinds=kinds,
        cv_brier=float(brier_score_loss(y, _sigmoid(oof))),
        calibration=final.calibration,
    )
    return PredictiveModel(final, columns, report)


def train_best_model(
    table: FeatureTable,
    outcomes: Sequence[Any] | npt.NDArray[Any],
    *,
    algorithm: Algorithm | None = None,
    holdout_fraction: float = 0.25,
    folds: int = 5,
    seed: int = 0,
    threads: int | None = None,
) -> tuple[PredictiveModel, tuple[ModelReport, ...]]:
    """Fit every algorithm on the same holdout split and the same cross-validation folds (one
    seed), and keep the one with the best mean cross-validated AUC — ties go to logistic
    regression, the simpler — unless ``algorithm`` names one. Only the kept model is then
    calibrated. Returns the model kept and the report of each model fitted, the kept one
    first (the others uncalibrated: their ``cv_brier`` compares the models as fitted).

    The k-fold AUC decides rather than the single holdout: it averages over every row.
    """
    if algorithm is not None:
        model = train_predictive_model(
            table, outcomes, algorithm=algorithm, holdout_fraction=holdout_fraction,
            folds=folds, seed=seed, threads=threads,
        )  # fmt: skip
        return model, (model.report,)
    _check_threads(threads)
    with threadpool_limits(limits=threads):
        table, y, kinds = _checked_inputs(
            table, outcomes, Algorithm.LOGISTIC_REGRESSION, holdout_fraction, folds
        )
        rows = np.arange(len(y))
        cvs = {a: _cross_validate(table, y, rows, kinds, a, seed, folds) for a in Algorithm}
        best = max(
            Algorithm,
            key=lambda a: (round(float(np.mean(cvs[a][1])), 12), -_SIMPLICITY[a]),
        )
        kept = _train(table, y, kinds, best, holdout_fraction, folds, seed, calibrate=True,
                      cv=cvs[best])  # fmt: skip
        others = tuple(
            _train(table, y, kinds, a, holdout_fraction, folds, seed, calibrate=False,
                   cv=cvs[a]).report
            for a in Algorithm
            if a is not best
        )  # fmt: skip
    return kept, (kept.report, *others)


# Lower is simpler: on equal ranking quality the simpler model is kept.
_SIMPLICITY = {Algorithm.LOGISTIC_REGRESSION: 0, Algorithm.GRADIENT_BOOSTING: 1}
