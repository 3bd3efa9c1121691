"""Fixtures for the report tests: hand-checked journeys written to the database, and the engines
every report runs on — the configured Django database and Spark over a Parquet export."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest


def at(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM' (or a bare date, meaning 09:00)."""
    if len(text) == 10:
        text += " 09:00"
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Touch:
    when: str
    channel: str
    campaign: str | None = None


@dataclass(frozen=True)
class Move:
    when: str
    stage: str
    reason: str | None = None


@dataclass(frozen=True)
class HandedOff:
    """A handoff; ``deal`` names a deal of the same journey; ``previous`` an earlier handoff."""

    key: str
    when: str
    owner: str | None
    due: str
    status: str
    response: str | None = None
    reason: str | None = None
    previous: str | None = None
    deal: str | None = None


@dataclass(frozen=True)
class Won:
    key: str
    amount: str
    opened: str
    closed: str | None
    status: str = "won"
    kind: str = "new_business"


@dataclass(frozen=True)
class Journey:
    """One contact's story. Contacts sharing ``account`` belong to the same account."""

    account: str
    events: Sequence[Touch | Move | HandedOff | Won]
    employees: int | None = None
    owner: str | None = None
    created: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Written:
    """Ids of what a journeys_for call wrote, by the names the journeys used."""

    contacts: dict[str, int]
    accounts: dict[str, int]
    handoffs: dict[str, int]
    deals: dict[str, int]


def write_journeys(
    journeys: Mapping[str, Journey],
    *,
    campaigns: Mapping[str, str] = {},
    spend: Sequence[tuple[str, str, str]] = (),
) -> Written:
    """Write journeys with the models; every stage move is checked against the funnel's rules.

    ``campaigns`` maps UTM keys to channels; ``spend`` is (campaign key, day, amount) rows.
    """
    from django.contrib.auth import get_user_model

    from onefunnel.domain.stages import Cause, Stage, StageReason, check_transition
    from onefunnel.models import (
        Account,
        Campaign,
        Contact,
        Deal,
        Handoff,
        PipelineStage,
        Spend,
        StageChange,
        Touchpoint,
    )

    users: dict[str, Any] = {}

    def user(name: str | None) -> Any:
        if name is None:
            return None
        if name not in users:
            users[name] = get_user_model().objects.create(username=name)
        return users[name]

    camp = {
        key: Campaign.objects.create(name=key.title(), utm_campaign=key, channel=channel)
        for key, channel in campaigns.items()
    }
    for key, day, amount in spend:
        Spend.objects.create(
            campaign=camp[key], day=date.fromisoformat(day), amount=Decimal(amount)
        )
    pipeline = PipelineStage.objects.order_by("sequence").first() or PipelineStage.objects.create(
        name="Qualify", sequence=1, probability=10
    )
    written = Written({}, {}, {}, {})
    for name, journey in journeys.items():
        account_id = written.accounts.get(journey.account)
        if account_id is None:
            account = Account.objects.create(
                name=journey.account,
                domain=f"{journey.account.lower()}.example",
                employee_count=journey.employees,
                created_at=at("2025-01-01"),
            )
            account_id = written.accounts[journey.account] = account.pk
        first_touch = next((e for e in journey.events if isinstance(e, Touch)), None)
        created = journey.created or (first_touch.when if first_touch else "2025-01-01")
        contact = Contact.objects.create(
            email=f"{name}@{journey.account.lower()}.example",
            account_id=account_id,
            owner=user(journey.owner),
            created_at=at(created),
        )
        written.contacts[name] = contact.pk
        for i, event in enumerate(journey.events):
            match event:
                case Touch():
                    Touchpoint.objects.create(
                        message_id=f"{name}-{i}",
                        contact=contact,
                        account_id=account_id,
                        kind="page_view",
                        team="marketing",
                        channel=event.channel,
                        campaign=camp[event.campaign] if event.campaign else None,
                        occurred_at=at(event.when),
                        received_at=at(event.when),
                    )
                case Move():
                    # Written as rows, not through the stage service: entering intent there
                    # opens a handoff by itself, and the journeys spell out their handoffs.
                    target = Stage(event.stage)
                    current = Stage(contact.stage) if contact.stage else None
                    reason = StageReason(event.reason) if event.reason else None
                    cause = Cause.USER if reason else Cause.RULE
                    check_transition(current, target, reason=reason, cause=cause)
                    StageChange.objects.create(
                        contact=contact,
                        from_stage=contact.stage,
                        to_stage=target.value,
                        at=at(event.when),
                        recorded_at=at(event.when),
                        cause=cause.value,
                        reason=event.reason,
                    )
                    contact.stage = target.value
                    contact.save(update_fields=["stage"])
                case Won():
                    deal = Deal.objects.create(
                        name=event.key,
                        kind=event.kind,
                        account_id=account_id,
                        contact=contact,
                        pipeline_stage=pipeline,
                        status=event.status,
                        amount=Decimal(event.amount),
                        created_at=at(event.opened),
                        closed_at=at(event.closed) if event.closed else None,
                    )
                    written.deals[event.key] = deal.pk
                case HandedOff():
                    handoff = Handoff.objects.create(
                        contact=contact,
                        account_id=account_id,
                        trigger="hand_raise",
                        owner=user(event.owner),
                        created_at=at(event.when),
                        sla_due_at=at(event.due),
                        first_response_at=at(event.response) if event.response else None,
                        status=event.status,
                        reason=event.reason,
                        previous_id=written.handoffs.get(event.previous or ""),
                        deal_id=written.deals.get(event.deal or ""),
                    )
                    written.handoffs[event.key] = handoff.pk
    return written


@pytest.fixture
def journeys_for(db: None) -> Callable[..., Written]:
    """``journeys_for({"ann": Journey(...), ...}, campaigns=..., spend=...)`` writes journeys."""
    return write_journeys


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole test session (skipped without pyspark or Java)."""
    pytest.importorskip("pyspark")
    from onefunnel.analytics.engines import spark_session

    session = spark_session()
    session.sparkContext.setLogLevel("ERROR")
    # The journeys here are a few rows: compiling each query's generated Java code and
    # re-planning it adaptively cost more than running it (the Spark tests took 163 s with
    # both, 101 s without, back to back on a busy 2-core box). Results depend on neither.
    session.conf.set("spark.sql.codegen.wholeStage", "false")
    session.conf.set("spark.sql.adaptive.enabled", "false")
    yield session
    session.stop()


ENGINES = ["db", "spark"]


def engine_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The engine to test: the configured database, or Spark over a fresh export of it."""
    from onefunnel.analytics.engines import DjangoEngine, SparkEngine
    from onefunnel.services.export import export_parquet

    if kind == "db":
        return DjangoEngine()
    session = request.getfixturevalue("spark")
    export_parquet(tmp_path / "export")
    return SparkEngine(tmp_path / "export", session)
