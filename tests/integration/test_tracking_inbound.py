"""The tracking inbox: acknowledged batches expand into the touchpoints a direct ingest stores."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from onefunnel.domain.tracking import EventType, TrackingEvent
from onefunnel.models import InboundBatch, Touchpoint
from onefunnel.services import tracking_inbound
from onefunnel.services.tracking import ingest_batches
from onefunnel.services.tracking_inbound import (
    FileInbox,
    Processed,
    Received,
    accept,
    drain,
    messages_of,
    pending,
    process_inbound,
)

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ZERO = timedelta(0)


def _page(mid: str, anon: str = "anon-1", **kw: Any) -> dict[str, Any]:
    return {"type": "page", "messageId": mid, "anonymousId": anon, **kw}


def _batch(
    *messages: dict[str, Any], at: datetime = NOW, zipped: bool = False, skew: timedelta = ZERO
) -> Received:
    body = orjson.dumps({"batch": list(messages), "sentAt": (at + skew).isoformat()})
    return Received(gzip.compress(body) if zipped else body, zipped, None, at, len(messages))


def test_a_stored_batch_expands_with_its_own_receipt_time_and_corrected_clock() -> None:
    early, late = NOW - timedelta(minutes=5), NOW
    # the client's clock is an hour fast: sentAt and timestamp agree on a 2-second delay
    skewed = (early + timedelta(hours=1) - timedelta(seconds=2)).isoformat()
    accept(
        [
            _batch(_page("a", timestamp=skewed), at=early, zipped=True, skew=timedelta(hours=1)),
            _batch(_page("b"), _page("a"), at=late),
        ]
    )
    single = orjson.dumps({"userId": "u-1", "event": "Demo Requested", "messageId": "c"})
    accept([Received(single, False, EventType.TRACK, late, 1)])
    assert pending() == 4
    assert process_inbound() == Processed(batches=3, accepted=3, duplicates=1, failed=0)
    stored = {
        mid: (occurred, received)
        for mid, occurred, received in Touchpoint.objects.values_list(
            "message_id", "occurred_at", "received_at"
        )
    }
    assert stored["a"] == (early - timedelta(seconds=2), early)
    assert stored["b"][1] == late
    assert Touchpoint.objects.get(message_id="c").kind == "hand_raise"
    assert (pending(), InboundBatch.objects.exists()) == (0, False)


def test_the_messages_parsed_again_are_those_acknowledged() -> None:
    received = _batch(_page("a"), {"type": "nope"}, _page("b"), zipped=True)
    assert [e.message_id for e in messages_of(received)] == ["a", "b"]


def test_a_batch_that_cannot_be_stored_is_set_aside_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def poisoned(batches: Sequence[Sequence[TrackingEvent]], **kw: Any) -> Any:
        if any(e.message_id == "poison" for batch in batches for e in batch):
            raise RuntimeError("cannot store this batch")
        return ingest_batches(batches, **kw)

    monkeypatch.setattr(tracking_inbound, "ingest_batches", poisoned)
    accept([_batch(_page("ok-1")), _batch(_page("poison")), _batch(_page("ok-2"))])
    assert process_inbound() == Processed(batches=2, accepted=2, duplicates=0, failed=1)
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["ok-1", "ok-2"]
    kept = InboundBatch.objects.get()
    assert "cannot store this batch" in kept.failed
    # set aside: not retried, not counted as waiting
    assert (drain(), pending()) == (0, 0)


def test_turns_take_the_oldest_batches_up_to_the_size_asked() -> None:
    accept([_batch(_page(f"m{i}", anon=f"a{i}")) for i in range(5)])
    assert process_inbound(max_events=2).batches == 2
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["m0", "m1"]
    assert drain() == 3
    assert Touchpoint.objects.count() == 5


def test_an_inbox_in_its_own_sqlite_file_keeps_batches_until_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = FileInbox(tmp_path / "db.sqlite3-inbox.sqlite3")
    monkeypatch.setattr(tracking_inbound, "inbox", lambda: box)
    early = NOW - timedelta(minutes=5)
    accept([_batch(_page("f1"), at=early, zipped=True), _batch(_page("f2"), _page("f1"))])
    ((_, stored), _) = box.oldest(10, 10_000)
    assert (stored.received_at, stored.gzipped, stored.events) == (early, True, 1)
    assert pending() == 3
    assert process_inbound() == Processed(batches=2, accepted=2, duplicates=1, failed=0)
    assert Touchpoint.objects.get(message_id="f1").received_at == early
    assert (pending(), box.oldest(10, 10_000)) == (0, [])
    # a batch expanded again (a crash between the two commits) stores nothing twice
    accept([_batch(_page("f2"))])
    assert process_inbound() == Processed(batches=1, accepted=0, duplicates=1, failed=0)
    assert Touchpoint.objects.count() == 2


def test_a_failed_batch_in_the_file_inbox_is_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = FileInbox(tmp_path / "inbox.sqlite3")
    monkeypatch.setattr(tracking_inbound, "inbox", lambda: box)
    accept([Received(b"{not json", False, None, NOW, 1), _batch(_page("g1"))])
    assert process_inbound() == Processed(batches=1, accepted=1, duplicates=0, failed=1)
    assert pending() == 0
    with sqlite3.connect(box.path) as db:
        ((failed,),) = db.execute("SELECT failed FROM inbound_batch").fetchall()
    assert failed.startswith("cannot parse the stored body")
