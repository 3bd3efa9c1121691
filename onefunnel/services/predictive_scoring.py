"""Predictive scoring on the shared record: build a feature table from contacts and touches,
train the domain's model on past outcomes, persist it, and use it.

**What is learned.** Every contact ever handed off is one example, seen as it was at its first
handoff (the point where a score matters): its profile (industry, employees, country,
seniority, personal email), its touches before that moment (counts by kind, recent activity,
age of the relationship) and the rule score's fit and engagement parts then. The outcome is
whether the contact reached conversion afterwards. Nothing after the handoff leaks into the
features, so the holdout AUC is honest, and the rule score is measured on the very same holdout
rows (the domain splits with ``train_test_split(..., stratify=y, random_state=seed)``; we repeat
that call on the same inputs to get the same rows).

**Where it goes.** The fitted model is pickled with joblib into ``$ONEFUNNEL_HOME/models/`` and
recorded in ``PredictiveModelRun`` with its metrics. Switched on, it gives each contact's
conversion probability (stored by the rescore, used for a handoff's expected value, shown with
its top features by ``explain``); the rule score keeps deciding the MQL threshold.

Analysts can also train on their own table (``train_csv``) and score another file
(``predict_csv``) with the saved model.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped,unused-ignore]
import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped,unused-ignore]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped,unused-ignore]

from onefunnel.domain.predictive import (
    Algorithm,
    ModelReport,
    PredictiveError,
    PredictiveModel,
    train_best_model,
)
from onefunnel.domain.scoring import ScoringModel, fit_lines
from onefunnel.domain.stages import Stage
from onefunnel.models import Contact, Handoff, PredictiveModelRun, StageChange, Touchpoint
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.scoring import PROFILE_FIELDS, active_model, profile_from_row

DATABASE_SOURCE = "database"
FEATURE_KINDS = (
    "page_view", "high_intent_page", "email_open", "email_click", "content_download",
    "webinar", "event", "form_submit", "hand_raise", "ad_click", "social_engagement",
)  # fmt: skip
_DAY = 86_400.0
HOLDOUT_FRACTION = 0.25


def models_dir() -> Path:
    """Where fitted models are kept: ``$ONEFUNNEL_HOME/models/``."""
    return Path(settings.HOME) / "models"


# ---------------------------------------------------------------------------------------------
# Features


def _epoch(column: str) -> str:
    if connection.vendor == "sqlite":
        return f"(julianday({column}) - 2440587.5) * 86400.0"
    return f"EXTRACT(EPOCH FROM {column})::float8"


def _touch_arrays(contact_ids: Sequence[int]) -> tuple[npt.NDArray[Any], ...]:
    table = Touchpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT contact_id, kind, {_epoch('occurred_at')} FROM {table} "
            "WHERE contact_id IS NOT NULL"
        )
        rows = cursor.fetchall()
    wanted = {pk: i for i, pk in enumerate(contact_ids)}
    rows = [r for r in rows if r[0] in wanted]
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, dtype=object), np.zeros(0)
    ids, kinds, seconds = zip(*rows, strict=True)
    position = np.fromiter((wanted[i] for i in ids), dtype=np.int64, count=len(ids))
    return position, np.asarray(kinds, dtype=object), np.asarray(seconds, dtype=np.float64)


def feature_table(
    contact_ids: Sequence[int], cutoffs: npt.NDArray[np.float64], model: ScoringModel
) -> dict[str, list[Any] | npt.NDArray[Any]]:
    """The features of each contact as it was at its cutoff (Unix seconds): profile, touch
    counts before the cutoff, and the rule score's fit and engagement parts then."""
    n = len(contact_ids)
    rows = dict(
        (row[0], row[1:])
        for row in Contact.objects.filter(pk__in=contact_ids).values_list("pk", *PROFILE_FIELDS)
    )
    profiles = [profile_from_row(rows[pk]) for pk in contact_ids]
    position, kinds, seconds = _touch_arrays(contact_ids)
    before = seconds <= cutoffs[position] if len(position) else np.zeros(0, bool)
    position, kinds, seconds = position[before], kinds[before], seconds[before]
    age = cutoffs[position] - seconds
    table: dict[str, list[Any] | npt.NDArray[Any]] = {
        "industry": [p.get("industry") for p in profiles],
        "employees": [p.get("employees") for p in profiles],
        "country": [p.get("country") for p in profiles],
        "seniority": [p.get("seniority") for p in profiles],
        "personal_email": [p.get("personal_email") for p in profiles],
    }
    for kind in FEATURE_KINDS:
        table[f"{kind}s"] = np.bincount(position[kinds == kind], minlength=n).astype(float)
    table["touches_30d"] = np.bincount(position[age <= 30 * _DAY], minlength=n).astype(float)
    first = np.full(n, np.nan)
    if len(position):
        np.fmin.at(first, position, seconds)
    table["days_known"] = np.where(np.isnan(first), 0.0, (cutoffs - first) / _DAY)
    points = np.array([float(model.points_for(str(k))) for k in kinds], dtype=np.float64)
    decay = np.exp2(-age / (model.half_life_days * _DAY))
    table["rule_engagement"] = np.bincount(position, weights=points * decay, minlength=n)
    table["rule_fit"] = np.array(
        [float(sum(line.points for line in fit_lines(p, model))) for p in profiles]
    )
    return table


def _seconds(moment: datetime) -> float:
    return moment.astimezone(UTC).timestamp()


# ---------------------------------------------------------------------------------------------
# Training on the shared record


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """How the model measured, next to the rule score on the same holdout rows."""

    run_id: int
    algorithm: str
    rows: int
    positives: int
    holdout_rows: int
    holdout_auc: float
    rule_auc: float | None
    brier_score: float
    cv_auc_mean: float
    cv_auc_std: float
    folds: int
    calibration: tuple[tuple[float, float, int, float, float], ...]
    active: bool
    path: str
    # Every model fitted on the same folds (the kept one first): algorithm, k-fold AUC mean
    # and spread, out-of-fold Brier score before calibration, holdout AUC and Brier score
    # (the kept one calibrated, the others as fitted).
    candidates: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _examples() -> tuple[list[int], npt.NDArray[np.float64], npt.NDArray[np.int_]]:
    first = list(
        Handoff.objects.values("contact_id").annotate(at=Min("created_at")).order_by("contact_id")
    )
    if not first:
        raise InputError("handoffs: there are no handoffs to learn from yet")
    ids = [row["contact_id"] for row in first]
    cutoffs = np.array([_seconds(row["at"]) for row in first])
    converted: dict[int, datetime] = dict(
        StageChange.objects.filter(contact_id__in=ids, to_stage=Stage.CONVERSION)
        .values("contact_id")
        .annotate(at=Min("at"))
        .values_list("contact_id", "at")
    )
    outcomes = np.array(
        [
            int(pk in converted and _seconds(converted[pk]) >= c)
            for pk, c in zip(ids, cutoffs, strict=True)
        ]
    )
    return ids, cutoffs, outcomes


def _save(model: PredictiveModel, name: str) -> str:
    directory = models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, directory / name)
    return name


def _candidates(reports: Sequence[ModelReport]) -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "algorithm": r.algorithm.value,
            "cv_auc_mean": r.cv_auc_mean,
            "cv_auc_std": r.cv_auc_std,
            "cv_brier": r.cv_brier,
            "holdout_auc": r.holdout_auc,
            "brier_score": r.brier_score,
            "calibrated": r.calibration != (1.0, 0.0),
        }
        for r in reports
    )


def train_from_database(
    *,
    algorithm: Algorithm | None = None,
    activate: bool = False,
    folds: int = 5,
    seed: int = 0,
    now: datetime | None = None,
) -> TrainingReport:
    """Fit a conversion model on every handed-off contact (as it was at its first handoff),
    report holdout ROC AUC, calibration and k-fold AUC, and the rule score's AUC on the same
    holdout; save it, and switch it on when ``activate``.

    Without ``algorithm`` every algorithm is fitted on the same folds and the best k-fold AUC
    is kept (``train_best_model``); each one's numbers are in ``candidates``."""
    moment = now or timezone.now()
    rules = active_model()
    ids, cutoffs, outcomes = _examples()
    table = feature_table(ids, cutoffs, rules)
    try:
        model, reports = train_best_model(
            table, outcomes, algorithm=algorithm, holdout_fraction=HOLDOUT_FRACTION,
            folds=folds, seed=seed, threads=1,
        )  # fmt: skip
    except PredictiveError as exc:
        raise InputError(str(exc)) from None
    _train, test = train_test_split(
        np.arange(len(outcomes)), test_size=HOLDOUT_FRACTION, stratify=outcomes, random_state=seed
    )
    rule_score = np.asarray(table["rule_fit"]) + np.asarray(table["rule_engagement"])
    rule_auc = float(roc_auc_score(outcomes[test], rule_score[test]))
    name = _save(model, f"conversion-{moment:%Y%m%d%H%M%S}-{model.report.algorithm.value}.joblib")
    return _record(
        model, name, DATABASE_SOURCE, "reached conversion", rule_auc, activate, moment,
        candidates=_candidates(reports),
    )  # fmt: skip


def _record(
    model: PredictiveModel,
    path: str,
    source: str,
    target: str,
    rule_auc: float | None,
    activate: bool,
    now: datetime,
    *,
    candidates: tuple[dict[str, Any], ...] = (),
) -> TrainingReport:
    r = model.report
    calibration = tuple(
        (b.lower, b.upper, b.count, b.mean_predicted, b.observed_rate) for b in r.reliability
    )
    metrics = {
        "rows": r.rows, "positives": r.positives, "holdout_rows": r.holdout_rows,
        "holdout_auc": r.holdout_auc, "rule_auc": rule_auc, "brier_score": r.brier_score,
        "cv_auc_mean": r.cv_auc_mean, "cv_auc_std": r.cv_auc_std, "folds": r.cv_folds,
        "calibration": [list(b) for b in calibration], "candidates": list(candidates),
    }  # fmt: skip
    with transaction.atomic():
        if activate:
            PredictiveModelRun.objects.filter(active=True).update(active=False)
        run = PredictiveModelRun.objects.create(
            created_at=now,
            path=path,
            algorithm=r.algorithm.value,
            source=source,
            target=target,
            features=list(model.columns),
            metrics=metrics,
            active=activate,
        )
    return TrainingReport(
        run.pk, r.algorithm.value, r.rows, r.positives, r.holdout_rows, r.holdout_auc, rule_auc,
        r.brier_score, r.cv_auc_mean, r.cv_auc_std, r.cv_folds, calibration, activate, path,
        candidates,
    )  # fmt: skip


def set_active(run_id: int | None) -> None:
    """Switch a database-trained model on as the score (None switches predictive scoring off)."""
    with transaction.atomic():
        if run_id is not None:
            run = PredictiveModelRun.objects.filter(pk=run_id).first()
            if run is None:
                raise NotFoundError(f"model: no trained model #{run_id}")
            if run.source != DATABASE_SOURCE:
                raise InputError(f"model: #{run_id} was trained on a CSV file, not on contacts")
        PredictiveModelRun.objects.filter(active=True).update(active=False)
        if run_id is not None:
            PredictiveModelRun.objects.filter(pk=run_id).update(active=True)


# ---------------------------------------------------------------------------------------------
# Using the active model


_loaded: dict[str, PredictiveModel] = {}
_load_lock = threading.Lock()


def _load(path: str) -> PredictiveModel:
    with _load_lock:
        if path not in _loaded:
            file = models_dir() / path
            try:
                model = joblib.load(file)
            except FileNotFoundError:
                raise NotFoundError(f"model: the file {file} is missing") from None
            if not isinstance(model, PredictiveModel):
                raise InputError(f"model: {file} is not a onefunnel predictive model")
            _loaded[path] = model
        return _loaded[path]


def _active() -> PredictiveModel | None:
    path = PredictiveModelRun.objects.filter(active=True).values_list("path", flat=True).first()
    return _load(path) if path else None


def predict_contacts(contact_ids: Sequence[int], at: datetime) -> npt.NDArray[np.float64] | None:
    """Conversion probabilities of contacts at ``at`` from the active model (None when off)."""
    model = _active()
    if model is None or not contact_ids:
        return None
    cutoffs = np.full(len(contact_ids), _seconds(at))
    return model.predict_proba(feature_table(contact_ids, cutoffs, active_model()))


def probability_for(contact_id: int, at: datetime) -> float | None:
    """One contact's conversion probability at ``at`` (None when predictive scoring is off)."""
    probabilities = predict_contacts([contact_id], at)
    return None if probabilities is None else float(probabilities[0])


def explain_prediction(
    contact_id: int, *, now: datetime | None = None, top: int = 5
) -> tuple[float, tuple[tuple[str, str, float], ...]] | None:
    """Probability and top contributing features (name, value, log-odds effect), or None."""
    model = _active()
    if model is None:
        return None
    moment = now or timezone.now()
    table = feature_table([contact_id], np.array([_seconds(moment)]), active_model())
    row = {name: np.asarray(values, dtype=object)[0] for name, values in table.items()}
    probability = float(model.predict_proba(table)[0])
    effects = tuple((c.feature, str(c.value), c.log_odds) for c in model.explain(row, top=top))
    return probability, effects


# ---------------------------------------------------------------------------------------------
# Analysts' own tables


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except FileNotFoundError:
        raise InputError(f"csv: no such file {str(path)!r}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"csv: cannot read {str(path)!r}: {exc}") from None


_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


@dataclass(frozen=True, slots=True)
class CsvTrainingReport:
    """Stratified k-fold ROC AUC of the model kept on an analyst's table, its calibrated
    holdout AUC and Brier score, and every model fitted on the same folds (kept first)."""

    auc_mean: float
    auc_std: float
    folds: int
    model: str
    rows: int
    positives: int
    run_id: int
    path: str
    holdout_auc: float = float("nan")
    brier_score: float = float("nan")
    candidates: tuple[dict[str, Any], ...] = ()


def train_csv(
    path: Path,
    target: str,
    *,
    algorithm: Algorithm | None = None,
    folds: int = 5,
    drop: Sequence[str] = (),
    seed: int = 0,
    now: datetime | None = None,
) -> CsvTrainingReport:
    """Train on a CSV file whose ``target`` column holds 0/1 (or true/false, yes/no); every
    other column (except ``drop``) is a feature. Without ``algorithm`` both models are fitted
    on the same folds and the better k-fold AUC is kept (``train_best_model``), then
    calibrated. A bad target value names its row; nothing is saved then."""
    columns, rows = _read_csv(path)
    if target not in columns:
        raise InputError(
            f"target: no column {target!r} in {path.name} (columns: {', '.join(columns)})"
        )
    for name in drop:
        if name not in columns:
            raise InputError(f"drop: no column {name!r} in {path.name}")
    outcomes = []
    for i, row in enumerate(rows, start=2):
        value = (row.get(target) or "").strip().lower()
        if value in _TRUE:
            outcomes.append(1)
        elif value in _FALSE:
            outcomes.append(0)
        else:
            raise InputError(f"row {i}: {target}: expected 0/1, got {row.get(target)!r}")
    features = [c for c in columns if c != target and c not in drop]
    if not features:
        raise InputError("columns: the file has no feature column besides the target")
    table = {c: [row.get(c) for row in rows] for c in features}
    try:
        model, reports = train_best_model(
            table, outcomes, algorithm=algorithm, folds=folds, seed=seed, threads=1
        )
    except PredictiveError as exc:
        raise InputError(str(exc)) from None
    moment = now or timezone.now()
    name = _save(model, f"csv-{moment:%Y%m%d%H%M%S}-{model.report.algorithm.value}.joblib")
    candidates = _candidates(reports)
    report = _record(model, name, str(path), target, None, False, moment, candidates=candidates)
    r = model.report
    return CsvTrainingReport(
        r.cv_auc_mean, r.cv_auc_std, r.cv_folds, r.algorithm.value, r.rows, r.positives,
        report.run_id, name, r.holdout_auc, r.brier_score, candidates,
    )  # fmt: skip


def predict_csv(path: Path, *, run_id: int | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """Score every row of a CSV file with a saved model (the newest CSV-trained one unless
    ``run_id`` is given): the file's columns plus ``probability``."""
    runs = PredictiveModelRun.objects.all()
    run = (
        runs.filter(pk=run_id).first()
        if run_id is not None
        else runs.exclude(source=DATABASE_SOURCE).order_by("-pk").first()
    )
    if run is None:
        raise NotFoundError("model: no trained model; run `onefunnel scoring train --csv` first")
    model = _load(run.path)
    columns, rows = _read_csv(path)
    missing = [c for c in model.columns if c not in columns]
    if missing:
        raise InputError(
            f"{missing[0]}: missing column (the model needs {', '.join(model.columns)})"
        )
    table = {c: [row.get(c) for row in rows] for c in model.columns}
    try:
        probabilities = model.predict_proba(table) if rows else np.zeros(0)
    except PredictiveError as exc:
        raise InputError(str(exc)) from None
    scored = [
        {**row, "probability": round(float(p), 6)}
        for row, p in zip(rows, probabilities, strict=True)
    ]
    return [*columns, "probability"], scored
