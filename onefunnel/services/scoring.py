"""Lead scores: the scoring model in force, the O(1) update when a touch arrives, the full
rescore, and a score's explanation.

Each contact's ``ContactScore`` row holds the domain's ``ScoreState`` (fit points and the raw
engagement sum at a reference time), so a new touch costs one read, one decay and one write,
however many touches the contact has. ``Contact.score`` caches the total. The full engagement
explanation ("+7.5 high intent page 2 days ago") is computed on read from the contact's touches,
so it is always exact; the stored row keeps the fit lines.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from onefunnel.domain.intent import employee_band, stage_after_threshold
from onefunnel.domain.scoring import (
    FitEvaluator,
    Profile,
    RuleError,
    ScoreLine,
    ScoreState,
    ScoringModel,
    Touch,
    TouchColumns,
    add_touch,
    crosses_threshold,
    default_scoring_model,
    parse_scoring_model,
    score_contact,
    score_many,
    score_state,
)
from onefunnel.domain.stages import Cause, Stage
from onefunnel.models import (
    Account,
    Contact,
    ContactScore,
    PredictiveModelRun,
    ScoringConfig,
    Touchpoint,
)
from onefunnel.services import score_rows
from onefunnel.services.config_versions import (
    ConfigVersion,
    InvalidConfigError,
    current_config,
    store_config,
)
from onefunnel.services.errors import NotFoundError
from onefunnel.services.stages import StageMove, apply_stage_change, lock

_PERSONAL = frozenset(
    {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"}
)


# ---------------------------------------------------------------------------------------------
# The scoring model in force


_cache_lock = threading.Lock()
_cached: tuple[int, str, ScoringModel] | None = None


@functools.cache
def _default_model() -> ScoringModel:
    return default_scoring_model()


def _model_for(version: int | None, config: str | None) -> ScoringModel:
    """The parsed model of a stored version (its JSON text), parsed once per process.

    Keyed by the stored text too: another database (a test, a reset demo) may hold a
    different model under the same version number.
    """
    global _cached
    if version is None or config is None:
        return _default_model()
    with _cache_lock:
        if _cached is not None and _cached[0] == version and _cached[1] == config:
            return _cached[2]
    model = dataclasses.replace(parse_scoring_model(json.loads(config)), version=version)
    with _cache_lock:
        _cached = (version, config, model)
    return model


def active_model() -> ScoringModel:
    """The newest stored scoring model, or the built-in default when none is stored."""
    newest = score_rows.read_newest_config()
    return _model_for(*newest) if newest else _default_model()


def scoring_config() -> ConfigVersion:
    """The scoring configuration in force (the default one when nothing is stored)."""

    def default() -> ConfigVersion:
        model = default_scoring_model()
        return ConfigVersion(model.version, model.to_dict(), "built-in default", None)

    return current_config(ScoringConfig, default)


def save_scoring_config(
    data: object, *, note: str = "", actor_id: int | None = None, now: datetime | None = None
) -> ConfigVersion:
    """Store a new version of the scoring model, or refuse it naming every bad field and
    storing nothing. Scores computed with older versions are brought up to date by a rescore
    (or, contact by contact, by their next touch)."""
    try:
        model = parse_scoring_model(data)
    except RuleError as exc:
        raise InvalidConfigError((e.loc, e.msg) for e in exc.errors) from None
    return store_config(
        ScoringConfig,
        lambda version: dataclasses.replace(model, version=version).to_dict(),
        default_version=default_scoring_model().version,
        note=note,
        actor_id=actor_id,
        now=now,
    )


def predictive_on() -> bool:
    """True when a predictive model is switched on. Checked before importing scikit-learn,
    which takes a second or two to load and is not needed otherwise."""
    return PredictiveModelRun.objects.filter(active=True).exists()


# ---------------------------------------------------------------------------------------------
# Profiles: what the fit rules see


def _scalars(data: object) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str | int | float | bool)}


def build_profile(
    *,
    email: str | None,
    title: str,
    country: str,
    properties: object,
    industry: str | None,
    employees: int | None,
    account_country: str | None,
    region: str | None,
    account_properties: object,
) -> dict[str, Any]:
    """A contact's attributes as the fit rules name them: the account's and the contact's own
    properties, then the standard fields (industry, employees, employee_band, country, region,
    job_title, email_domain, personal_email)."""
    domain = email.rsplit("@", 1)[1].lower() if email and "@" in email else None
    profile: dict[str, Any] = {**_scalars(account_properties), **_scalars(properties)}
    profile.update(
        industry=industry or None,
        employees=employees,
        employee_band=employee_band(employees) if employees is not None else None,
        country=country or account_country or None,
        region=region or None,
        job_title=title or None,
        email_domain=domain,
        personal_email=None if domain is None else domain in _PERSONAL,
    )
    return profile


PROFILE_FIELDS = (
    "email",
    "title",
    "country",
    "properties",
    "account__industry",
    "account__employee_count",
    "account__country",
    "account__region",
    "account__properties",
)


def profile_from_row(row: tuple[Any, ...]) -> dict[str, Any]:
    email, title, country, props, industry, employees, a_country, region, a_props = row
    return build_profile(
        email=email,
        title=title,
        country=country,
        properties=props,
        industry=industry,
        employees=employees,
        account_country=a_country,
        region=region,
        account_properties=a_props,
    )


def contact_profile_attributes(contact: Contact) -> dict[str, Any]:
    """The fit attributes of one contact (reads its account)."""
    rows = (
        list(
            Account.objects.filter(pk=contact.account_id).values_list(
                "industry", "employee_count", "country", "region", "properties"
            )[:1]
        )
        if contact.account_id
        else []
    )
    return _contact_profile(contact, *(rows[0] if rows else (None,) * 4 + ({},)))


def _contact_profile(
    contact: Contact,
    industry: str | None,
    employees: int | None,
    account_country: str | None,
    region: str | None,
    account_properties: object,
) -> dict[str, Any]:
    return profile_from_row(
        (contact.email, contact.title, contact.country, contact.properties,
         industry, employees, account_country, region, account_properties)
    )  # fmt: skip


def _touches_of(contact_id: int, *, exclude: Iterable[int] = ()) -> list[Touch]:
    rows = Touchpoint.objects.filter(contact_id=contact_id)
    excluded = list(exclude)
    if excluded:
        rows = rows.exclude(pk__in=excluded)
    return [Touch(kind, at) for kind, at in rows.values_list("kind", "occurred_at")]


def _fit_explanations(
    model: ScoringModel, profiles: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Fit lines of many contacts (each rule evaluated once per distinct attribute value)."""
    evaluator = FitEvaluator(model)
    as_dicts: dict[tuple[ScoreLine, ...], list[dict[str, Any]]] = {}
    out = []
    for profile in profiles:
        lines = evaluator.lines(profile)
        found = as_dicts.get(lines)
        if found is None:
            found = as_dicts[lines] = [
                {"points": float(line.points), "reason": line.reason} for line in lines
            ]
        out.append(found)
    return out


_evaluator: FitEvaluator | None = None


def _fit_lines_cached(model: ScoringModel, profile: Profile) -> tuple[ScoreLine, ...]:
    """``fit_lines`` through one evaluator per model in force, kept across touches."""
    global _evaluator
    evaluator = _evaluator
    if evaluator is None or evaluator.model is not model:
        evaluator = _evaluator = FitEvaluator(model)
    return evaluator.lines(profile)


# ---------------------------------------------------------------------------------------------
# The O(1) update on a touch


@dataclass(frozen=True, slots=True)
class ScoreUpdate:
    """What a touch did to a score: before and after (at the touch's time), and the move to
    intent when it crossed the MQL threshold."""

    contact_id: int
    before: Decimal
    after: Decimal
    crossed: bool
    stage_move: StageMove | None


def score_on_touch(contact: Contact, touchpoint: Touchpoint) -> ScoreUpdate:
    """Update a contact's score for a touch just stored, in the caller's transaction (the
    contact row is locked by the caller). See ``score_on_touches``."""
    return score_on_touches(contact, [(touchpoint.pk, touchpoint.kind, touchpoint.occurred_at)])


def score_on_touches(contact: Contact, touches: Sequence[tuple[int, str, datetime]]) -> ScoreUpdate:
    """Update a contact's score for touches just stored (id, kind, time), in the caller's
    transaction (the contact row is locked by the caller).

    O(1) per touch when the stored state is current: decay the stored sum to each touch's time
    and add the touch. A contact without a state (or with one from an older model) is scored once
    from its earlier touches. Fit is re-evaluated each time, since profiles change. When the score
    crosses the MQL threshold, the contact moves to intent (cause: rule, the crossing touch as the
    cause), which opens a handoff. A tracking batch scores each contact once for all its touches.
    """
    return score_on_touches_many([(contact, touches)])[0]


def score_on_touches_many(
    scored: Sequence[tuple[Contact, Sequence[tuple[int, str, datetime]]]],
) -> list[ScoreUpdate]:
    """:func:`score_on_touches` for several contacts at once (each with its touches), with one
    read of their stored states and one batched write of the new ones; then the threshold
    crossings move their contacts, in the order given. The results equal those of one call
    per contact: contacts' scores do not depend on each other."""
    rows = score_rows.read_for_touches([contact.pk for contact, _ in scored])
    for contact, _ in scored:
        if contact.pk not in rows:
            raise NotFoundError(f"contact_id: no contact #{contact.pk}")
    history = _earlier_touches(
        [contact.pk for contact, _ in scored if not _state_current(rows[contact.pk])],
        exclude={touch[0] for _, touches in scored for touch in touches},
    )
    planned = [
        (contact, _plan_score(contact, touches, rows[contact.pk], history.get(contact.pk, [])))
        for contact, touches in scored
    ]
    score_rows.write_states([plan.write for _, plan in planned])
    updates: list[ScoreUpdate] = []
    for contact, plan in planned:
        contact.score = float(plan.write.total)
        move = None
        if plan.crossing is not None:
            target = stage_after_threshold(Stage(contact.stage) if contact.stage else None)
            if target is not None:
                move = apply_stage_change(
                    contact,
                    target,
                    cause=Cause.RULE,
                    cause_id=str(plan.crossing[0]),
                    at=plan.crossing[1],
                )
        updates.append(
            ScoreUpdate(contact.pk, plan.before, plan.write.total, plan.crossing is not None, move)
        )
    return updates


@dataclass(frozen=True, slots=True)
class _Planned:
    """A contact's score update, computed and not yet written."""

    write: score_rows.StateWrite
    before: Decimal
    crossing: tuple[int, datetime] | None  # the touch that crossed the threshold, if one did


def _state_current(row: score_rows.TouchScoreRow) -> bool:
    """Whether the stored state was computed with the model in force (else: score from history)."""
    return (
        row.as_of is not None
        and row.state_version == _model_for(row.model_version, row.model_config).version
    )


# Contacts per history query: under SQLite's limit on the parameters of one statement.
_HISTORY_CHUNK = 900


def _earlier_touches(contact_ids: Sequence[int], *, exclude: set[int]) -> dict[int, list[Touch]]:
    """The stored touches of contacts, except those in ``exclude`` (the ones being scored)."""
    found: dict[int, list[Touch]] = {}
    for start in range(0, len(contact_ids), _HISTORY_CHUNK):
        rows = Touchpoint.objects.filter(
            contact_id__in=contact_ids[start : start + _HISTORY_CHUNK]
        ).values_list("id", "contact_id", "kind", "occurred_at")
        for pk, contact_id, kind, at in rows:
            if pk not in exclude:
                found.setdefault(contact_id, []).append(Touch(kind, at))
    return found


def _plan_score(
    contact: Contact,
    touches: Sequence[tuple[int, str, datetime]],
    row: score_rows.TouchScoreRow,
    earlier: list[Touch],
) -> _Planned:
    """The score update of one contact; ``earlier`` are its stored touches before these, read
    only when its stored state is not current."""
    ordered = sorted(touches, key=lambda t: (t[2], t[0]))
    model = _model_for(row.model_version, row.model_config)
    profile = _contact_profile(
        contact,
        row.industry,
        row.employees,
        row.account_country,
        row.region,
        row.account_properties,
    )
    matched = _fit_lines_cached(model, profile)
    fit = sum((line.points for line in matched), Decimal(0))
    first_at = ordered[0][2]
    if row.as_of is not None and row.state_version == model.version:
        assert row.engagement_value is not None
        state = ScoreState(fit, row.engagement_value, row.as_of, model.version)
    else:
        state = dataclasses.replace(score_state(profile, earlier, model, first_at), fit=fit)
    before = state.total_at(max(state.as_of, first_at), model)
    crossing: tuple[int, datetime] | None = None
    for touch_id, kind, at in ordered:
        previous = state
        state = add_touch(state, Touch(kind, at), model, at)
        if crossing is None and crosses_threshold(
            previous.total_at(state.as_of, model), state.total_at(state.as_of, model), model
        ):
            crossing = (touch_id, at)
    write = score_rows.StateWrite(
        contact.pk,
        exists=row.as_of is not None,
        fit=fit,
        engagement_value=state.engagement_value,
        as_of=state.as_of,
        total=state.total_at(state.as_of, model),
        model_version=model.version,
        explanation=[{"points": float(x.points), "reason": x.reason} for x in matched],
    )
    return _Planned(write, before, crossing)


# ---------------------------------------------------------------------------------------------
# Full rescore


@dataclass(frozen=True, slots=True)
class RescoreSummary:
    """What a full rescore did."""

    contacts: int
    touches: int
    model_version: int
    mql_threshold: Decimal
    at_or_above_threshold: int
    promoted: int
    as_of: datetime

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return dataclasses.asdict(self)


def _epoch_seconds(column: str) -> str:
    """SQL for a timestamp column as float seconds since the Unix epoch: the one place where
    the two engines differ for the rescore's bulk read."""
    if connection.vendor == "sqlite":
        return f"(julianday({column}) - 2440587.5) * 86400.0"
    return f"EXTRACT(EPOCH FROM {column})::float8"


def _touch_columns(positions: dict[int, int]) -> tuple[TouchColumns, int]:
    table = Touchpoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT contact_id, kind, {_epoch_seconds('occurred_at')} FROM {table} "
            "WHERE contact_id IS NOT NULL"
        )
        rows = cursor.fetchall()
    if not rows:
        empty = np.array([], dtype="datetime64[us]")
        return TouchColumns(np.array([], dtype=np.int64), np.array([], dtype=str), empty), 0
    ids, kinds, seconds = zip(*rows, strict=True)
    known = np.fromiter(positions, dtype=np.int64, count=len(positions))
    order = np.argsort(known)
    index = order[np.searchsorted(known, np.asarray(ids, dtype=np.int64), sorter=order)]
    micros = np.rint(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return TouchColumns(index, np.asarray(kinds), micros.astype("datetime64[us]")), len(rows)


def rescore_all(
    *,
    now: datetime | None = None,
    promote: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> RescoreSummary:
    """Score every contact from all of its touches with the model in force, in one pass
    (vectorised), and store each contact's state, total and fit explanation.

    With ``promote``, contacts at or above the MQL threshold who are still in awareness,
    consideration or nurture move to intent (cause: rule), each opening a handoff; without it
    the rescore changes scores only. Runs in one transaction: all scores or none.
    """
    moment = now or timezone.now()
    model = active_model()
    report = progress or (lambda _phase, _done, _total: None)
    rows = list(Contact.objects.order_by("pk").values_list("pk", *PROFILE_FIELDS))
    ids = [row[0] for row in rows]
    profiles = [profile_from_row(row[1:]) for row in rows]
    report("reading", 1, 3)
    touches, n_touches = _touch_columns({pk: i for i, pk in enumerate(ids)})
    # Fit rules are evaluated once per contact, for the explanation; the vectorised pass then
    # only needs the engagement (a model without fit rules gives fit 0 and the same engagement).
    lines = _fit_explanations(model, profiles)
    fits = [Decimal(sum(round(line["points"] * 10) for line in ls)).scaleb(-1) for ls in lines]
    engagement_only = dataclasses.replace(model, fit_rules=())
    batch = score_many([{}] * len(ids), touches, engagement_only, moment)
    report("scoring", 2, 3)
    totals = [fits[i] + batch.total_of(i) for i in range(len(ids))]
    predicted = None
    if predictive_on():
        from onefunnel.services.predictive_scoring import predict_contacts

        predicted = predict_contacts(ids, moment)
    with transaction.atomic():
        ContactScore.objects.all().delete()
        score_rows.insert_states(
            (
                (
                    pk,
                    fits[i],
                    float(batch.engagement_value[i]),
                    totals[i],
                    lines[i],
                    None if predicted is None else float(predicted[i]),
                )
                for i, pk in enumerate(ids)
            ),
            as_of=moment,
            model_version=model.version,
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Contact._meta.db_table} SET score = %s WHERE id = %s",
                [(float(total), pk) for total, pk in zip(totals, ids, strict=True)],
            )
        promoted = _promote(ids, totals, model, moment) if promote else 0
    report("storing", 3, 3)
    above = sum(1 for total in totals if total >= model.mql_threshold)
    return RescoreSummary(
        len(ids), n_touches, model.version, model.mql_threshold, above, promoted, moment
    )


def _promote(ids: list[int], totals: list[Decimal], model: ScoringModel, at: datetime) -> int:
    ready = [pk for pk, total in zip(ids, totals, strict=True) if total >= model.mql_threshold]
    promoted = 0
    candidates = Contact.objects.filter(
        pk__in=ready, stage__in=[None, Stage.AWARENESS, Stage.CONSIDERATION, Stage.NURTURE]
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        contact = lock(Contact, pk)
        target = stage_after_threshold(Stage(contact.stage) if contact.stage else None)
        if target is not None:
            apply_stage_change(contact, target, cause=Cause.RULE, cause_id="rescore", at=at)
            promoted += 1
    return promoted


# ---------------------------------------------------------------------------------------------
# Explanation


@dataclass(frozen=True, slots=True)
class ScoreLineView:
    """One line of an explanation."""

    points: Decimal
    reason: str
    when: datetime | None


@dataclass(frozen=True, slots=True)
class ScoreExplanation:
    """A contact's score now, line by line (the lines sum exactly to the total), with the
    predictive probability and its top features when a predictive model is switched on."""

    contact_id: int
    email: str | None
    fit: Decimal
    engagement: Decimal
    total: Decimal
    mql_threshold: Decimal
    model_version: int
    lines: tuple[ScoreLineView, ...]
    probability: float | None = None
    top_features: tuple[tuple[str, str, float], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain form for output."""
        return dataclasses.asdict(self)


def explain_score(
    *, contact_id: int | None = None, email: str | None = None, now: datetime | None = None
) -> ScoreExplanation:
    """Explain a contact's score at ``now`` from its profile and every touch."""
    contacts = Contact.objects.all()
    if contact_id is not None:
        contact = contacts.filter(pk=contact_id).first()
        missing = f"contact_id: no contact #{contact_id}"
    else:
        contact = contacts.filter(email__iexact=(email or "").strip()).first()
        missing = f"email: no contact with email {email!r}"
    if contact is None:
        raise NotFoundError(missing)
    model = active_model()
    profile = contact_profile_attributes(contact)
    score = score_contact(profile, _touches_of(contact.pk), model, now or timezone.now())
    probability: float | None = None
    features: tuple[tuple[str, str, float], ...] = ()
    if predictive_on():
        from onefunnel.services.predictive_scoring import explain_prediction

        prediction = explain_prediction(contact.pk, now=now)
        if prediction is not None:
            probability, features = prediction
    return ScoreExplanation(
        contact_id=contact.pk,
        email=contact.email,
        fit=score.fit,
        engagement=score.engagement,
        total=score.total,
        mql_threshold=model.mql_threshold,
        model_version=model.version,
        lines=tuple(
            ScoreLineView(line.points, line.reason, line.when) for line in score.explanation
        ),
        probability=probability,
        top_features=features,
    )


def score_snapshot(contact: Contact, at: datetime) -> tuple[Decimal, list[dict[str, Any]]]:
    """The contact's score at ``at`` with its explanation lines, for a handoff's record."""
    model = active_model()
    profile = contact_profile_attributes(contact)
    touches = [t for t in _touches_of(contact.pk) if t.occurred_at <= at]
    score = score_contact(profile, touches, model, at)
    lines = [
        {
            "points": float(line.points),
            "reason": line.reason,
            "when": line.when.isoformat() if line.when else None,
        }
        for line in score.explanation
    ]
    return score.total, lines
