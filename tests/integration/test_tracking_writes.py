"""The fast write path of tracking: set-based stage moves, shared transactions, group commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onefunnel.domain.stages import Cause, Stage, StageReason
from onefunnel.domain.touches import TouchKind
from onefunnel.domain.tracking import TrackingEvent, parse_batch, plan_stage_moves
from onefunnel.models import Contact, Handoff, InboundBatch, StageChange, Touchpoint
from onefunnel.services.keys import create_key
from onefunnel.services.stages import apply_stage_change
from onefunnel.services.tracking import ingest_batches, move_contacts
from onefunnel.services.tracking_inbound import (
    Processed,
    Received,
    accept,
    drain,
    process_inbound,
)
from onefunnel.services.tracking_writer import GroupCommitWriter

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WRITER = "onefunnel.services.tracking_writer"
_REASONS = {Stage.NURTURE: StageReason.NOT_NOW, Stage.DISQUALIFIED: StageReason.BAD_FIT}


def _events(*messages: dict[str, Any]) -> tuple[TrackingEvent, ...]:
    parsed = parse_batch({"batch": list(messages)}, received_at=NOW)
    return parsed.events


def _visit(mid: str, anon: str = "anon-1", minutes: int = 30, **kw: Any) -> dict[str, Any]:
    at = (NOW - timedelta(minutes=minutes)).isoformat()
    return {"type": "page", "messageId": mid, "anonymousId": anon, "timestamp": at, **kw}


def _track(mid: str, user: str, event: str, minutes: int) -> dict[str, Any]:
    at = (NOW - timedelta(minutes=minutes)).isoformat()
    return {"type": "track", "messageId": mid, "userId": user, "event": event, "timestamp": at}


def _contact_with_history(start: Stage | None, last_at: datetime | None) -> Contact:
    contact = Contact.objects.create(created_at=NOW, stage=start.value if start else None)
    if start is not None and last_at is not None:
        StageChange.objects.create(
            contact=contact,
            to_stage=start.value,
            at=last_at,
            recorded_at=NOW,
            cause=Cause.USER.value,
            reason=_REASONS[start].value if start in _REASONS else None,
        )
    return contact


def _history(contact: Contact) -> list[tuple[Any, ...]]:
    return list(
        StageChange.objects.filter(contact=contact)
        .order_by("id")
        .values_list("from_stage", "to_stage", "at", "cause", "cause_id", "reason", "note", "actor")
    )


# Moves into intent go through apply_stage_change itself (it opens a handoff), so the kinds that
# lead there are left out: the property is about the set-based rows.
_KINDS = [k for k in TouchKind if k is not TouchKind.HAND_RAISE]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.sampled_from([None, *Stage]),
    last=st.one_of(st.none(), st.integers(0, 600)),
    raw=st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(0, 600)), max_size=8),
    known=st.booleans(),
)
def test_set_based_moves_write_what_apply_stage_change_writes(
    start: Stage | None, last: int | None, raw: list[tuple[TouchKind, int]], known: bool
) -> None:
    last_at = None if last is None else NOW + timedelta(minutes=last)
    touches = [(k, NOW + timedelta(minutes=m), f"t{i}") for i, (k, m) in enumerate(raw)]
    moves = plan_stage_moves(start, touches, known=known)
    one_by_one = _contact_with_history(start, last_at)
    set_based = _contact_with_history(start, last_at)

    for move in moves:
        apply_stage_change(
            one_by_one, move.to_stage, cause=Cause.TOUCH, cause_id=move.cause, at=move.at
        )
    causes = move_contacts({set_based.pk: (start, moves)} if moves else {})

    assert causes == [m.cause for m in moves]
    assert _history(set_based) == _history(one_by_one)
    one_by_one.refresh_from_db()
    set_based.refresh_from_db()
    assert set_based.stage == one_by_one.stage


def test_a_hand_raise_still_opens_a_handoff_and_other_contacts_move_set_based() -> None:
    results = ingest_batches(
        [
            _events(_track("t1", "u-1", "Signed Up", 20), _track("t2", "u-2", "Signed Up", 20)),
            _events(_track("t3", "u-1", "Demo Requested", 10)),
        ]
    )
    assert [(r.accepted, r.stage_moves) for r in results] == [(2, 2), (1, 1)]
    raiser = Touchpoint.objects.get(message_id="t3").contact
    assert raiser is not None
    assert Contact.objects.get(pk=raiser.pk).stage == Stage.INTENT.value
    assert Handoff.objects.filter(contact=raiser).count() == 1
    other = Touchpoint.objects.get(message_id="t2").contact
    assert other is not None
    assert Contact.objects.get(pk=other.pk).stage == Stage.AWARENESS.value
    assert not Handoff.objects.filter(contact=other).exists()


def test_batches_sharing_a_transaction_get_their_own_counts() -> None:
    first = _events(_visit("a"), _visit("b"), _track("t1", "u-1", "Signed Up", 5))
    bad_identify = {"type": "identify", "messageId": "i", "userId": "u", "traits": {"email": 5}}
    second = _events(_visit("b"), _visit("c"), bad_identify)
    results = ingest_batches([first, second, first])
    assert [(r.accepted, r.duplicates, r.stage_moves) for r in results] == [
        (3, 0, 1),
        (1, 1, 0),
        (0, 3, 0),
    ]
    assert [e.loc for e in results[1].rejected] == ["batch[2].traits.email"]
    assert results[0].rejected == results[2].rejected == ()
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["a", "b", "c", "t1"]


def _wait(event: threading.Event) -> None:
    event.wait()


def _received(*messages: dict[str, Any]) -> Received:
    body = orjson.dumps({"batch": list(messages)})
    return Received(body, False, None, NOW, len(messages))


@pytest.fixture
def paused_writer(settings: Any) -> Iterator[tuple[GroupCommitWriter, threading.Event]]:
    """A writer whose thread waits on an event, so that what is submitted meanwhile forms one
    turn when the event is set. The test expands the inbox itself (no processor thread)."""
    settings.ONEFUNNEL_TRACKING_PROCESSOR = False
    writer = GroupCommitWriter()
    resume = threading.Event()
    writer.submit("", None)  # starts the thread
    writer._jobs.put(lambda: _wait(resume))  # holds the thread between turns
    yield writer, resume
    resume.set()
    writer.close_connection()


def test_group_commit_answers_each_batch_after_one_shared_commit(
    paused_writer: tuple[GroupCommitWriter, threading.Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, resume = paused_writer
    key = create_key("tracking:write").secret
    turns: list[int] = []

    def counting(batches: Sequence[Received]) -> None:
        turns.append(len(batches))
        accept(batches)

    monkeypatch.setattr(f"{WRITER}.accept", counting)
    futures = [writer.submit(key, _received(_visit(f"m{i}"), _visit("shared"))) for i in range(4)]
    refused = writer.submit("of_wrong", _received(_visit("never")))
    resume.set()
    assert [f.result(timeout=60) for f in futures] == [True] * 4
    assert turns == [4]
    assert refused.result(timeout=60) is False
    assert InboundBatch.objects.count() == 4
    assert process_inbound() == Processed(batches=4, accepted=5, duplicates=3, failed=0)
    assert Touchpoint.objects.count() == 5
    assert not Touchpoint.objects.filter(message_id="never").exists()
    assert not InboundBatch.objects.exists()


def test_a_failing_batch_costs_only_its_own_answer(
    paused_writer: tuple[GroupCommitWriter, threading.Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, resume = paused_writer
    key = create_key("tracking:write").secret

    def poisoned(batches: Sequence[Received]) -> None:
        # written, then rolled back by the error, as when a statement of the batch fails
        with transaction.atomic():
            accept(batches)
            if any(b"poison" in batch.body for batch in batches):
                raise RuntimeError("cannot store this batch")

    monkeypatch.setattr(f"{WRITER}.accept", poisoned)
    good = writer.submit(key, _received(_visit("ok-1")))
    bad = writer.submit(key, _received(_visit("poison")))
    also_good = writer.submit(key, _received(_visit("ok-2")))
    resume.set()
    assert good.result(timeout=60) is True
    assert also_good.result(timeout=60) is True
    with pytest.raises(RuntimeError, match="cannot store"):
        bad.result(timeout=60)
    drain()
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["ok-1", "ok-2"]


def test_stored_rows_keep_every_column_as_sent() -> None:
    # The insert is engine-specific (arrays on PostgreSQL, VALUES elsewhere): what comes back
    # must be what was sent — text beyond ASCII, quotes, an integer past 64 bits (JSON via the
    # standard library), nested lists, nulls, and rows with and without contact and campaign.
    odd = {"title": 'Café "Ünïcode" \\ ✓', "big": 2**70, "nested": [1, [2, None]], "none": None}
    sent = _events(
        _visit("m-odd", properties=odd),
        _visit(
            "m-utm",
            anon="anon-2",
            context={"campaign": {"name": "spring", "source": "google", "medium": "cpc"}},
        ),
        _track("m-user", "user-9", "Signed In", 5),
    )
    (result,) = ingest_batches([sent], received_at=NOW)
    assert result.accepted == 3
    stored = {t.message_id: t for t in Touchpoint.objects.select_related("campaign")}
    assert stored["m-odd"].properties["properties"] == odd
    assert (stored["m-odd"].contact_id, stored["m-odd"].campaign_id) == (None, None)
    assert stored["m-odd"].anonymous_id == "anon-1"
    utm = stored["m-utm"]
    assert utm.campaign is not None
    assert utm.campaign.utm_campaign == "spring"
    assert (utm.channel, utm.utm_source, utm.utm_medium, utm.utm_term) == (
        "paid_search",
        "google",
        "cpc",
        "",
    )
    assert stored["m-user"].contact_id is not None
    assert stored["m-user"].occurred_at == NOW - timedelta(minutes=5)
    assert {t.received_at for t in stored.values()} == {NOW}
    # Sent again: nothing new, each message counted as a duplicate.
    (again,) = ingest_batches([sent], received_at=NOW)
    assert (again.accepted, again.duplicates, Touchpoint.objects.count()) == (0, 3, 3)
