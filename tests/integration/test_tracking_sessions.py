"""Profile messages are not touches; a session's events are attributed to its first source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings

from onefunnel.domain.tracking import parse_batch
from onefunnel.models import Contact, ProfileMessage, StageChange, Touchpoint
from onefunnel.services.tracking import IngestResult, ingest

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ADS = {"campaign": {"name": "spring-ads", "source": "google", "medium": "cpc"}}
MAIL = {"campaign": {"name": "april-news", "source": "newsletter", "medium": "email"}}


def _ingest(*messages: dict[str, Any]) -> IngestResult:
    parsed = parse_batch({"batch": list(messages)}, received_at=NOW)
    assert not parsed.errors
    return ingest(parsed.events, received_at=NOW)


def _page(mid: str, minutes_ago: float, anon: str = "b-1", **kw: Any) -> dict[str, Any]:
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    return {"type": "page", "messageId": mid, "anonymousId": anon, "timestamp": at, **kw}


def _labels(*mids: str) -> list[tuple[str, str, str]]:
    rows = dict(
        (m, (c, k or "", u))
        for m, c, k, u in Touchpoint.objects.filter(message_id__in=mids).values_list(
            "message_id", "channel", "campaign__utm_campaign", "utm_campaign"
        )
    )
    return [rows[m] for m in mids]


def test_profile_messages_update_the_profile_and_are_not_touches() -> None:
    login = {"type": "identify", "userId": "u-1", "anonymousId": "b-1",
             "traits": {"email": "ada@acme.io", "title": "CTO"}}  # fmt: skip
    result = _ingest(
        _page("p1", 50, context=ADS),
        {**login, "messageId": "i1", "timestamp": (NOW - timedelta(minutes=40)).isoformat()},
        {
            "type": "group",
            "messageId": "g1",
            "userId": "u-1",
            "groupId": "org-1",
            "traits": {"name": "Acme", "website": "acme.io"},
        },
        {"type": "alias", "messageId": "a1", "userId": "u-1", "previousId": "b-9"},
    )
    assert result.accepted == 4
    contact = Contact.objects.get(email="ada@acme.io")
    assert (contact.title, contact.account.name if contact.account else None) == ("CTO", "Acme")
    assert list(Touchpoint.objects.values_list("message_id", flat=True)) == ["p1"]
    assert set(ProfileMessage.objects.values_list("message_id", "type")) == {
        ("i1", "identify"), ("g1", "group"), ("a1", "alias"),
    }  # fmt: skip
    # the login a day later ends no journey with a "direct" touch and moves nothing
    moves = StageChange.objects.count()
    later = {**login, "messageId": "i2", "timestamp": (NOW - timedelta(minutes=1)).isoformat()}
    assert _ingest(later).accepted == 1
    assert Touchpoint.objects.count() == 1
    assert StageChange.objects.count() == moves


def test_a_resent_profile_message_is_applied_once() -> None:
    first = {"type": "identify", "messageId": "i1", "userId": "u-1", "traits": {"title": "CTO"}}
    _ingest(first)
    contact = Contact.objects.get(aliases__anonymous_id="user:u-1")
    Contact.objects.filter(pk=contact.pk).update(title="CEO")  # changed since, elsewhere
    again = _ingest(first)
    assert (again.accepted, again.duplicates) == (0, 1)
    contact.refresh_from_db()
    assert contact.title == "CEO"


def test_events_after_the_landing_page_inherit_its_source_across_batches() -> None:
    _ingest(_page("p1", 50, context=ADS), _page("p2", 45))
    _ingest(_page("p3", 30))  # a later batch, 15 minutes on: same session
    _ingest(_page("p4", 5))  # 25 minutes on: still the same session
    assert _labels("p1", "p2", "p3", "p4") == [
        ("paid_search", "spring-ads", "spring-ads"),
        ("paid_search", "spring-ads", ""),
        ("paid_search", "spring-ads", ""),
        ("paid_search", "spring-ads", ""),
    ]


def test_a_gap_or_a_new_campaign_starts_a_new_session() -> None:
    _ingest(_page("p1", 200, context=ADS), _page("p2", 100), _page("p3", 90, context=MAIL))
    _ingest(_page("p4", 85), _page("q1", 84, anon="b-2"))
    assert _labels("p1", "p2", "p3", "p4", "q1") == [
        ("paid_search", "spring-ads", "spring-ads"),
        ("direct", "", ""),  # over 30 minutes later: a new, direct session
        ("email", "april-news", "april-news"),  # a new campaign: a new session
        ("email", "april-news", ""),
        ("direct", "", ""),  # another visitor
    ]


def test_an_outside_referrer_is_a_source_and_a_server_message_keeps_its_own() -> None:
    google = {"page": {"referrer": "https://www.google.com/", "url": "https://acme.io/"}}
    inside = {"page": {"referrer": "https://acme.io/", "url": "https://acme.io/pricing"}}
    _ingest(
        _page("p1", 20, context=google),
        _page("p2", 19, context=inside),
        {
            "type": "track",
            "messageId": "t1",
            "userId": "u-5",
            "event": "Order Completed",
            "timestamp": (NOW - timedelta(minutes=18)).isoformat(),
        },
    )
    assert [c for c, _, _ in _labels("p1", "p2", "t1")] == [
        "organic_search",
        "organic_search",
        "direct",
    ]


@override_settings(ONEFUNNEL_SESSION_MINUTES=5)
def test_the_session_gap_is_configurable() -> None:
    _ingest(_page("p1", 20, context=ADS), _page("p2", 10))
    assert _labels("p2") == [("direct", "", "")]


def test_the_record_and_the_profile_say_what_each_touch_was() -> None:
    from onefunnel.services.crm_records import list_touchpoints
    from onefunnel.services.profiles import contact_profile

    page = {"page": {"title": "Pricing", "path": "/pricing"}}
    _ingest(
        _page("p1", 20, anon="b-7", context=page),
        {
            "type": "identify",
            "messageId": "i1",
            "anonymousId": "b-7",
            "traits": {"email": "eve@acme.io"},
        },
        {
            "type": "track",
            "messageId": "t1",
            "anonymousId": "b-7",
            "event": "Form Submitted",
            "properties": {"form_name": "Contact sales"},
        },
    )
    records = {r.message_id: r.description for r in list_touchpoints().items}
    assert records == {
        "p1": "viewed page 'Pricing' (/pricing)",
        "t1": "submitted form 'Contact sales' (event 'Form Submitted')",
    }
    lines = contact_profile("eve@acme.io").touches
    assert [line.description for line in lines] == [records["p1"], records["t1"]]
