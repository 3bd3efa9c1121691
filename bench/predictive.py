"""Predictive scoring on a public marketing-response table: does class weighting cost ranking?

Run from the repository root::

    python bench/predictive.py               # 5 folds on the vendored CoIL 2000 table
    python bench/predictive.py --folds 3

The table is the CoIL 2000 caravan-insurance response data (5,822 customers, 85 numeric
features, 348 = 6.0 % bought the policy), vendored in ``bench/data/caravan.csv.gz`` (source and
licence in ``bench/data/README.md``). On the same stratified folds (one seed) it measures the
mean and spread of the fold AUCs and the out-of-fold Brier score of:

* the linear model as it was the default before (``class_weight="balanced"``, prior shift);
* an unweighted ``LogisticRegression()`` with scikit-learn's default settings;
* the boosted trees with and without balanced class weights;
* then what ``train_best_model`` (``onefunnel scoring train``) keeps, with its holdout AUC and
  Brier score before and after calibration of the kept model.

It prints one table. It is a measurement, not a test: numbers depend on the data, not the
machine, but fitting takes a few minutes on a busy one.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onefunnel.domain.predictive import (
    _Encoder,
    _subset,
    detect_column_kinds,
    train_best_model,
    train_predictive_model,
)

DATA = Path(__file__).resolve().parent / "data" / "caravan.csv.gz"


def load() -> tuple[dict[str, Any], np.ndarray]:
    """The table as columns of floats, and the 0/1 response."""
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    y = np.array([1 if r["Purchase"] == "Yes" else 0 for r in rows])
    table = {c: np.array([float(r[c]) for r in rows]) for c in rows[0] if c != "Purchase"}
    return table, y


def boosted(weighted: bool) -> Callable[[], Any]:
    """The domain's boosted trees (same settings), with or without balanced weights."""
    return lambda: HistGradientBoostingClassifier(
        class_weight="balanced" if weighted else None,
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        early_stopping=True,
        max_bins=64,
        random_state=0,
    )


def cross_validate(
    table: dict[str, Any], y: np.ndarray, folds: int, make: Callable[[], Any], shift: bool
) -> tuple[float, float, float]:
    """Mean and spread of fold AUCs and the out-of-fold Brier score, on the seed-0 folds the
    product uses. ``shift`` undoes balanced weights (the prior-shift correction)."""
    kinds = detect_column_kinds(table)
    rows = np.arange(len(y))
    oof = np.zeros(len(y))
    aucs = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(rows, y):
        encoder = _Encoder(_subset(table, train), kinds)
        model = make().fit(encoder.transform(_subset(table, train)), y[train])
        p = model.predict_proba(encoder.transform(_subset(table, test)))[:, 1]
        if shift:
            rate = y[train].mean()
            log_odds = np.log(p / (1 - p)) + math.log(rate / (1 - rate))
            p = 1 / (1 + np.exp(-log_odds))
        oof[test] = p
        aucs.append(roc_auc_score(y[test], p))
    return float(np.mean(aucs)), float(np.std(aucs)), float(brier_score_loss(y, oof))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    table, y = load()
    print(f"caravan: {len(y)} rows, {len(table)} features, {y.mean():.1%} positives")
    lines = []
    variants: list[tuple[str, Callable[[], Any], bool]] = [
        ("linear, balanced weights (old default)",
         lambda: LogisticRegression(class_weight="balanced", max_iter=2000), True),
        ("linear, unweighted, sklearn defaults", LogisticRegression, False),
        ("boosted, balanced weights (default)", boosted(True), True),
        ("boosted, unweighted", boosted(False), False),
    ]  # fmt: skip
    with threadpool_limits(limits=1):
        for name, make, shift in variants:
            started = time.perf_counter()
            mean, std, brier = cross_validate(table, y, args.folds, make, shift)
            lines.append((name, mean, std, brier, "", "", time.perf_counter() - started))
        started = time.perf_counter()
        kept, reports = train_best_model(table, y, folds=args.folds, seed=0, threads=1)
        r = kept.report
        raw = train_predictive_model(
            table, y, algorithm=r.algorithm, folds=args.folds, seed=0, threads=1, calibrate=False
        ).report
        for report in reports:
            label = f"train_best_model: {report.algorithm.value}"
            label += " (kept, calibrated)" if report is r else ""
            lines.append(
                (label, report.cv_auc_mean, report.cv_auc_std, report.cv_brier,
                 f"{report.holdout_auc:.4f}", f"{report.brier_score:.5f}",
                 time.perf_counter() - started)
            )  # fmt: skip
        lines.append(
            (f"  {r.algorithm.value} kept, before calibration", raw.cv_auc_mean, raw.cv_auc_std,
             raw.cv_brier, f"{raw.holdout_auc:.4f}", f"{raw.brier_score:.5f}", 0.0)
        )  # fmt: skip
    print(f"| model ({args.folds} folds, same for all) | AUC mean | AUC std | out-of-fold Brier "
          "| holdout AUC | holdout Brier | seconds |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, mean, std, brier, h_auc, h_brier, seconds in lines:
        print(f"| {name} | {mean:.4f} | {std:.4f} | {brier:.5f} | {h_auc} | {h_brier} "
              f"| {seconds:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
