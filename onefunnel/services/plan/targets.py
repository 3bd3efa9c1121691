"""Monthly targets per rep, team and company; their attainment to date and pace.

What each metric counts (the one definition):

* ``mqls`` — handoffs created in the month (a lead handed to sales at the point of intent),
  by the handoff's owner;
* ``handoffs_accepted`` — handoffs accepted, in the month of the decision (the first response,
  else the creation, where no decision time was recorded);
* ``deals_won`` / ``new_revenue`` — new-business deals won (count / amount) by close month and
  deal owner; ``renewal_revenue`` — renewals won; ``expansion_revenue`` — upsells and
  cross-sells won;
* ``spend`` — campaign spend by day (the company's only).

A team's actual is the sum over the reps whose profile is in the team.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from onefunnel.domain.access import Action, Actor, Work
from onefunnel.domain.plan.periods import add_months, month_label, parse_month
from onefunnel.domain.plan.targets import (
    Pace,
    TargetMetric,
    TargetScope,
    check_scope,
    pace,
)
from onefunnel.domain.sla import MONDAY_TO_FRIDAY
from onefunnel.models import Deal, Handoff, RepProfile, Spend, Target, TeamCalendar
from onefunnel.services.access import require
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.plan.common import parse_decimal, plan_errors

#: Months ahead a target may be set for (a clear error beyond, not a typo saved).
MAX_MONTHS_AHEAD = 36


@dataclass(frozen=True, slots=True)
class TargetInput:
    """One target as given (CLI, API or a CSV row): texts, checked by ``set_targets``."""

    month: str
    metric: str
    value: str | float | int | Decimal
    scope: str = "company"
    team: str | None = None
    rep: str | None = None


@dataclass(frozen=True, slots=True)
class TargetRow:
    """A target with its attainment and pace."""

    id: int
    month: str
    metric: str
    scope: str
    subject: str
    value: float
    actual: float
    attainment: float | None
    projected: float | None
    projected_attainment: float | None
    worked_days: int
    working_days: int
    set_by: str | None
    set_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "month": self.month,
            "metric": self.metric,
            "scope": self.scope,
            "subject": self.subject,
            "value": self.value,
            "actual": self.actual,
            "attainment": self.attainment,
            "projected": self.projected,
            "projected_attainment": self.projected_attainment,
            "worked_days": self.worked_days,
            "working_days": self.working_days,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class _Checked:
    scope: TargetScope
    subject: str
    team: str
    rep_id: int | None
    month: date
    metric: TargetMetric
    value: Decimal
    work: Work


def _parse_enum(enum: Any, text: str, field: str) -> Any:
    try:
        return enum(text.strip().lower())
    except ValueError:
        known = ", ".join(m.value for m in enum)
        raise InputError(f"{field}: unknown {field} {text!r} (one of {known})") from None


@plan_errors
def _check(entry: TargetInput, today: date) -> _Checked:
    metric: TargetMetric = _parse_enum(TargetMetric, entry.metric, "metric")
    scope: TargetScope = _parse_enum(TargetScope, entry.scope or "company", "scope")
    check_scope(metric, scope)
    month = parse_month(entry.month, "month")
    if month > add_months(today.replace(day=1), MAX_MONTHS_AHEAD):
        raise InputError(f"month: {entry.month} is more than {MAX_MONTHS_AHEAD} months ahead")
    value = parse_decimal(entry.value, "value")
    if (
        metric
        not in (
            TargetMetric.NEW_REVENUE,
            TargetMetric.RENEWAL_REVENUE,
            TargetMetric.EXPANSION_REVENUE,
            TargetMetric.SPEND,
        )
        and value != value.to_integral_value()
    ):
        raise InputError(f"value: {metric.value} is a count, not {value}")
    if scope is TargetScope.COMPANY:
        if entry.team or entry.rep:
            raise InputError("scope: a company target names no team or rep")
        return _Checked(scope, "company", "", None, month, metric, value, Work("target"))
    if scope is TargetScope.TEAM:
        team = (entry.team or "").strip()
        if not team:
            raise InputError("team: a team target names its team")
        if not RepProfile.objects.filter(team=team).exists():
            raise NotFoundError(f"team: no rep is in a team {team!r}")
        return _Checked(
            scope, f"team:{team}", team, None, month, metric, value, Work("target", team=team)
        )
    name = (entry.rep or "").strip()
    if not name:
        raise InputError("rep: a rep target names the rep (username)")
    user = get_user_model()._default_manager.filter(username=name).first()
    if user is None:
        raise NotFoundError(f"rep: no user {name!r}")
    team = RepProfile.objects.filter(user_id=user.pk).values_list("team", flat=True).first() or ""
    work = Work("target", owner_id=int(user.pk), owner_team=team or None)
    return _Checked(scope, f"rep:{user.pk}", team, int(user.pk), month, metric, value, work)


def set_targets(
    actor: Actor, entries: Sequence[TargetInput], *, today: date | None = None
) -> list[int]:
    """Set (create or replace) targets, all or none: every entry is checked — input and the
    actor's right to set it — before any is written. Returns the targets' ids."""
    day = today or timezone.now().date()
    checked = []
    for i, entry in enumerate(entries, start=1):
        try:
            c = _check(entry, day)
        except (InputError, NotFoundError) as exc:
            if len(entries) == 1:
                raise
            raise type(exc)(f"row {i}: {exc}") from None
        require(actor, Action.SET_TARGETS, c.work)
        checked.append(c)
    now = timezone.now()
    ids = []
    with transaction.atomic():
        for c in checked:
            target, _ = Target.objects.update_or_create(
                subject=c.subject,
                month=c.month,
                metric=c.metric.value,
                defaults={
                    "scope": c.scope.value,
                    "team": c.team,
                    "rep_id": c.rep_id,
                    "value": c.value,
                    "set_by_id": actor.user_id,
                    "set_at": now,
                },
            )
            ids.append(target.pk)
    return ids


def import_targets(actor: Actor, path: Path | str, *, today: date | None = None) -> list[int]:
    """Set the targets of a CSV file (``month,metric,value[,scope,team,rep]``), all or none;
    InputError naming the row at fault."""
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = {"month", "metric", "value"} - set(reader.fieldnames or ())
            if missing:
                raise InputError(f"file: missing column(s) {', '.join(sorted(missing))}")
            rows = [
                TargetInput(
                    month=r.get("month") or "",
                    metric=r.get("metric") or "",
                    value=r.get("value") or "",
                    scope=r.get("scope") or "company",
                    team=r.get("team") or None,
                    rep=r.get("rep") or None,
                )
                for r in reader
            ]
    except OSError as exc:
        raise InputError(f"file: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"file: {path} is not UTF-8 text") from None
    if not rows:
        raise InputError("file: no targets in the file")
    return set_targets(actor, rows, today=today)


# ---------------------------------------------------------------------------------------------
# Actuals


def _by_owner_month(
    qs: QuerySet[Any], when: str, owner: str | None, value: Any
) -> dict[tuple[date, int | None], float]:
    rows = (
        qs.annotate(m=TruncMonth(when))
        .values("m", *([owner] if owner else []))
        .annotate(v=value)
        .values_list("m", *([owner] if owner else []), "v")
    )
    out: dict[tuple[date, int | None], float] = defaultdict(float)
    for row in rows:
        m = row[0].date() if isinstance(row[0], datetime) else row[0]
        out[(m, row[1] if owner else None)] += float(row[-1] or 0)
    return out


def counted(metric: TargetMetric, start: datetime, stop: datetime) -> tuple[QuerySet[Any], str]:
    """The records a metric counts between ``start`` and ``stop`` (the one definition), and
    the field that dates them; ``spend`` rows are dated by day."""
    won = Deal.objects.filter(status="won", closed_at__gte=start, closed_at__lt=stop)
    match metric:
        case TargetMetric.MQLS:
            return Handoff.objects.filter(created_at__gte=start, created_at__lt=stop), "created_at"
        case TargetMetric.HANDOFFS_ACCEPTED:
            accepted = (
                Handoff.objects.filter(status="accepted")
                .annotate(at=Coalesce(F("decided_at"), F("first_response_at"), F("created_at")))
                .filter(at__gte=start, at__lt=stop)
            )
            return accepted, "at"
        case TargetMetric.DEALS_WON | TargetMetric.NEW_REVENUE:
            return won.filter(kind="new_business"), "closed_at"
        case TargetMetric.RENEWAL_REVENUE:
            return won.filter(kind="renewal"), "closed_at"
        case TargetMetric.EXPANSION_REVENUE:
            return won.filter(Q(kind="upsell") | Q(kind="cross_sell")), "closed_at"
        case TargetMetric.SPEND:
            return Spend.objects.filter(day__gte=start.date(), day__lt=stop.date()), "day"


#: Metrics that sum an amount (the others count records).
AMOUNTS = {
    TargetMetric.NEW_REVENUE: "amount",
    TargetMetric.RENEWAL_REVENUE: "amount",
    TargetMetric.EXPANSION_REVENUE: "amount",
    TargetMetric.SPEND: "amount",
}


def actuals(metric: TargetMetric, first: date, end: date) -> dict[tuple[date, int | None], float]:
    """The metric's actual per (month, owner id) for months from ``first`` to before ``end``
    (set-based: one grouped query)."""
    start = datetime(first.year, first.month, 1, tzinfo=UTC)
    stop = datetime(end.year, end.month, 1, tzinfo=UTC)
    qs, when = counted(metric, start, stop)
    owner = None if metric is TargetMetric.SPEND else "owner_id"
    value = Sum(AMOUNTS[metric]) if metric in AMOUNTS else Count("id")
    return _by_owner_month(qs, when, owner, value)


def _calendar(team: str) -> tuple[frozenset[int], frozenset[date]]:
    calendar = TeamCalendar.objects.filter(team=team).first() if team else None
    if calendar is None:
        return MONDAY_TO_FRIDAY, frozenset()
    hours = calendar.business_hours()
    return hours.weekdays, hours.holidays


def list_targets(
    *,
    month: str | None = None,
    metric: str | None = None,
    today: date | None = None,
) -> list[TargetRow]:
    """Targets (of one month, or all) with attainment to date and pace in the working days of
    the team's calendar (the company's and team-less reps': Monday to Friday)."""
    day = today or timezone.now().date()
    qs = Target.objects.select_related("set_by", "rep").order_by("month", "metric", "subject")
    if month:
        qs = qs.filter(month=plan_errors(parse_month)(month, "month"))
    if metric:
        qs = qs.filter(metric=_parse_enum(TargetMetric, metric, "metric").value)
    targets = list(qs)
    if not targets:
        return []
    first = min(t.month for t in targets)
    end = add_months(max(t.month for t in targets), 1)
    teams: Mapping[int, str] = dict(RepProfile.objects.values_list("user_id", "team"))
    cache: dict[TargetMetric, dict[tuple[date, int | None], float]] = {}
    rows = []
    for t in targets:
        m = TargetMetric(t.metric)
        if m not in cache:
            cache[m] = actuals(m, first, end)
        values = cache[m]
        actual = sum(
            v for (mon, owner), v in values.items() if mon == t.month and _counts(t, owner, teams)
        )
        weekdays, holidays = _calendar(t.team)
        p: Pace = pace(
            target=float(t.value),
            actual=actual,
            month=t.month,
            today=day,
            weekdays=weekdays,
            holidays=holidays,
        )
        rows.append(
            TargetRow(
                id=t.pk,
                month=month_label(t.month),
                metric=t.metric,
                scope=t.scope,
                subject=_subject_label(t),
                value=float(t.value),
                actual=actual,
                attainment=p.attainment,
                projected=p.projected,
                projected_attainment=p.projected_attainment,
                worked_days=p.worked_days,
                working_days=p.working_days,
                set_by=t.set_by.get_username() if t.set_by else None,
                set_at=t.set_at,
            )
        )
    return rows


def _counts(target: Target, owner: int | None, teams: Mapping[int, str]) -> bool:
    if target.scope == TargetScope.COMPANY:
        return True
    if target.scope == TargetScope.REP:
        return owner is not None and owner == target.rep_id
    return owner is not None and teams.get(owner) == target.team


def _subject_label(target: Target) -> str:
    if target.scope == TargetScope.REP and target.rep is not None:
        return f"rep:{target.rep.get_username()}"
    return target.subject
