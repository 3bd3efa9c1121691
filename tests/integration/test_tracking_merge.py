"""Identify links an anonymous id owned by one contact to another: merge, or keep apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from onefunnel.domain.stages import Cause, Stage
from onefunnel.domain.tracking import parse_batch
from onefunnel.models import Contact, ContactAlias, ContactMerge, StageChange, Touchpoint
from onefunnel.services.stages import apply_stage_change
from onefunnel.services.tracking import ingest

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _ingest(*messages: dict[str, Any]) -> None:
    parsed = parse_batch({"batch": list(messages)}, received_at=NOW)
    assert not parsed.errors
    ingest(parsed.events, received_at=NOW)


def _at(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def _identify(mid: str, minutes: int, **fields: Any) -> dict[str, Any]:
    return {"type": "identify", "messageId": mid, "timestamp": _at(minutes), **fields}


def _page(mid: str, anon: str, minutes: int) -> dict[str, Any]:
    return {"type": "page", "messageId": mid, "anonymousId": anon, "timestamp": _at(minutes)}


def _history(contact_id: int) -> list[tuple[Any, ...]]:
    return list(
        StageChange.objects.filter(contact_id=contact_id)
        .order_by("id")
        .values_list("from_stage", "to_stage", "at", "cause", "cause_id")
    )


def _anonymous_contact(anon: str) -> Contact:
    """A contact known only by an anonymous id (identified with traits but no email or user
    id), with two page views, moved to consideration by a user."""
    _ingest(_identify("a-id", 100, anonymousId=anon, traits={"firstName": "Ada", "plan": "pro"}))
    _ingest(_page("a-p1", anon, 90), _page("a-p2", anon, 80))
    contact = Contact.objects.get(aliases__anonymous_id=anon)
    apply_stage_change(
        contact, Stage.CONSIDERATION, cause=Cause.USER, at=NOW - timedelta(minutes=70)
    )
    return contact


def test_a_contact_known_only_by_an_anonymous_id_is_merged_into_the_identified_one() -> None:
    anonymous = _anonymous_contact("browser-1")
    _ingest(
        _identify("b-id", 60, userId="u-b", anonymousId="phone-1", traits={"email": "b@acme.io"})
    )
    known = Contact.objects.get(email="b@acme.io")
    before = _history(anonymous.pk)
    # a profile message is not a touch: it moves no stage
    assert Contact.objects.get(pk=known.pk).stage is None

    _ingest(_identify("link", 10, userId="u-b", anonymousId="browser-1"))

    moved = set(Touchpoint.objects.filter(contact=known).values_list("message_id", flat=True))
    assert {"a-p1", "a-p2"} == moved
    assert not Touchpoint.objects.filter(contact=anonymous).exists()
    assert set(
        ContactAlias.objects.filter(contact=known).values_list("anonymous_id", flat=True)
    ) == {
        "browser-1",
        "phone-1",
        "user:u-b",
    }
    merge = ContactMerge.objects.get()
    assert (merge.merged_id, merge.into_id, merge.cause_id) == (anonymous.pk, known.pk, "link")
    assert (merge.touches, merge.aliases) == (2, 1)
    # history is append-only: the merged contact keeps its own and leaves the funnel as a
    # duplicate (counted once), the kept one gains a move to the further-along stage
    after = _history(anonymous.pk)
    assert after[:-1] == before
    assert after[-1][:2] == ("consideration", "disqualified")
    assert after[-1][3:] == ("rule", f"merge:{anonymous.pk}")
    assert StageChange.objects.filter(contact=anonymous).latest("id").reason == "duplicate"
    anonymous.refresh_from_db()
    assert anonymous.stage == "disqualified"
    known.refresh_from_db()
    assert (known.stage, known.first_name, known.properties.get("plan")) == (
        "consideration",
        "Ada",
        "pro",
    )
    last = _history(known.pk)[-1]
    assert last[:2] == (None, "consideration")
    assert last[3:] == ("rule", f"merge:{anonymous.pk}")

    # a later anonymous visit from that browser lands on the kept contact; a resend is a no-op
    _ingest(
        _page("a-p3", "browser-1", 5), _identify("link", 10, userId="u-b", anonymousId="browser-1")
    )
    assert Touchpoint.objects.get(message_id="a-p3").contact_id == known.pk
    assert ContactMerge.objects.count() == 1


def test_the_kept_contact_never_moves_back() -> None:
    anonymous = _anonymous_contact("browser-2")
    _ingest(
        _identify("c-id", 60, userId="u-c", traits={"email": "c@acme.io"}),
        {"type": "track", "messageId": "c-demo", "userId": "u-c", "event": "Demo Requested", "timestamp": _at(50)},
    )  # fmt: skip
    known = Contact.objects.get(email="c@acme.io")
    assert known.stage == "intent"
    _ingest(_identify("link-2", 10, userId="u-c", anonymousId="browser-2"))
    known.refresh_from_db()
    assert known.stage == "intent"
    assert ContactMerge.objects.get().merged_id == anonymous.pk
    assert not StageChange.objects.filter(contact=known, cause_id__startswith="merge:").exists()


def test_someone_else_on_the_same_browser_is_kept_apart() -> None:
    _ingest(
        _identify("d-id", 100, userId="u-d", anonymousId="shared", traits={"email": "d@acme.io"})
    )
    _ingest(_page("d-p1", "shared", 90))
    first = Contact.objects.get(email="d@acme.io")
    _ingest(
        _identify("e-id", 10, userId="u-e", anonymousId="shared", traits={"email": "e@acme.io"})
    )
    second = Contact.objects.get(email="e@acme.io")
    assert Touchpoint.objects.get(message_id="d-p1").contact_id == first.pk
    assert ContactAlias.objects.get(anonymous_id="shared").contact_id == first.pk
    assert second.pk != first.pk
    assert not ContactMerge.objects.exists()
