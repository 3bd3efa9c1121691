"""Tracking ingestion on the database: identity merge, dedup, campaigns, keys, and the HTTP shapes."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.test import Client

from onefunnel.api import tracking as tracking_api
from onefunnel.domain.tracking import parse_batch
from onefunnel.models import (
    Account,
    ApiKey,
    Campaign,
    Contact,
    ContactAlias,
    InboundBatch,
    ProfileMessage,
    StageChange,
    Touchpoint,
)
from onefunnel.services.keys import create_key, list_keys, revoke_key, verify_key
from onefunnel.services.tracking import IngestResult, ingest
from onefunnel.services.tracking_inbound import drain
from onefunnel.services.tracking_writer import writer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _release_the_writer_connection(settings: Any) -> Iterator[None]:
    # The HTTP endpoints store through the process's writer thread, which keeps its own
    # connection; PostgreSQL refuses to drop the test database while it is open. The tests
    # expand the inbox themselves (drain), rather than racing the processor thread.
    settings.ONEFUNNEL_TRACKING_PROCESSOR = False
    yield
    writer.close_connection()


def _nothing_written() -> bool:
    return not Touchpoint.objects.exists() and not InboundBatch.objects.exists()


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _ingest(*messages: dict[str, Any], at: datetime = NOW) -> IngestResult:
    parsed = parse_batch({"batch": list(messages)}, received_at=at)
    result = ingest(parsed.events, received_at=at)
    return IngestResult(
        result.accepted, result.duplicates, (*parsed.errors, *result.rejected), result.stage_moves
    )


def _t(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


def _visit(n: int, anon: str = "anon-1", **kw: Any) -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": f"p{n}",
        "anonymousId": anon,
        "timestamp": _t(60 - n),
        **kw,
    }


def test_identify_merges_the_anonymous_history() -> None:
    utm = {"campaign": {"name": "spring-launch", "source": "google", "medium": "cpc"}}
    first = _ingest(_visit(1, context=utm), _visit(2, context={"page": {"path": "/pricing"}}))
    assert (first.accepted, first.stage_moves) == (2, 0)
    assert Touchpoint.objects.filter(contact__isnull=True).count() == 2

    second = _ingest(
        {
            "type": "identify",
            "messageId": "i1",
            "userId": "u-1",
            "anonymousId": "anon-1",
            "timestamp": _t(30),
            "context": {"traits": {"email": "Ada@Acme.io", "firstName": "Ada"}},
        },
        {"type": "track", "messageId": "t1", "userId": "u-1", "event": "Demo Requested", "timestamp": _t(10)},
    )  # fmt: skip
    assert second.accepted == 2
    contact = Contact.objects.get(email="ada@acme.io")
    assert contact.first_name == "Ada"
    touches = Touchpoint.objects.filter(contact=contact).order_by("occurred_at")
    # the identify updated the profile and identity: it is not a touch
    assert [t.message_id for t in touches] == ["p1", "p2", "t1"]
    assert ProfileMessage.objects.get(message_id="i1").contact_id == contact.pk
    assert set(
        ContactAlias.objects.filter(contact=contact).values_list("anonymous_id", flat=True)
    ) == {
        "anon-1",
        "user:u-1",
    }
    history = list(
        StageChange.objects.filter(contact=contact).values_list("to_stage", "at", "cause_id")
    )
    p1, p2, t1 = (Touchpoint.objects.get(message_id=m) for m in ("p1", "p2", "t1"))
    # the anonymous pricing page counts once the visitor is known; the demo request is intent
    assert history == [
        ("awareness", p1.occurred_at, str(p1.pk)),
        ("consideration", p2.occurred_at, str(p2.pk)),
        ("intent", t1.occurred_at, str(t1.pk)),
    ]
    contact.refresh_from_db()
    assert contact.stage == "intent"
    campaign = Campaign.objects.get(utm_campaign="spring-launch")
    assert (campaign.planned, campaign.channel) == (False, "paid_search")
    assert p1.campaign_id == campaign.pk
    assert p1.channel == "paid_search"
    # p2 came a minute later in the same session without UTM tags: it keeps the tags as sent
    # (none) and is attributed to its session's source
    assert (p2.channel, p2.campaign_id, p2.utm_campaign) == ("paid_search", campaign.pk, "")

    # later anonymous visits from the same browser land on the contact directly
    later = _ingest(_visit(3))
    assert later.accepted == 1
    assert Touchpoint.objects.get(message_id="p3").contact_id == contact.pk


def test_resending_a_batch_stores_nothing_twice() -> None:
    batch = [_visit(n) for n in range(5)] + [
        {"type": "track", "messageId": "t", "userId": "u", "event": "Signed Up"}
    ]
    once = _ingest(*batch)
    counts = (Touchpoint.objects.count(), Contact.objects.count(), StageChange.objects.count())
    again = _ingest(*batch)
    assert (once.accepted, once.duplicates) == (6, 0)
    assert (again.accepted, again.duplicates) == (0, 6)
    assert counts == (
        Touchpoint.objects.count(),
        Contact.objects.count(),
        StageChange.objects.count(),
    )
    inside = _ingest(_visit(9), _visit(9))
    assert (inside.accepted, inside.duplicates) == (1, 1)


def test_group_links_the_contact_and_its_touches_to_the_account() -> None:
    _ingest(
        {"type": "track", "messageId": "t1", "userId": "u-7", "event": "Pricing Viewed"},
        {
            "type": "group",
            "messageId": "g1",
            "userId": "u-7",
            "groupId": "org-9",
            "traits": {"name": "Globex", "website": "https://www.globex.com/", "employees": 250, "plan": "team"},
        },
    )  # fmt: skip
    account = Account.objects.get(domain="globex.com")
    assert (account.name, account.employee_count) == ("Globex", 250)
    assert account.properties == {"plan": "team", "segment_group_id": "org-9"}
    contact = ContactAlias.objects.get(anonymous_id="user:u-7").contact
    assert contact.account_id == account.pk
    assert set(Touchpoint.objects.values_list("account_id", flat=True)) == {account.pk}
    # without a domain the group id finds the same account again
    _ingest({"type": "group", "messageId": "g2", "userId": "u-8", "groupId": "org-9", "traits": {"industry": "Retail"}})  # fmt: skip
    assert Account.objects.count() == 1
    assert Account.objects.get().industry == "Retail"


def test_email_identifies_across_user_ids() -> None:
    known = Contact.objects.create(email="grace@navy.mil", created_at=NOW)
    _ingest({"type": "track", "messageId": "t1", "userId": "u-2", "event": "X"})
    placeholder = ContactAlias.objects.get(anonymous_id="user:u-2").contact_id
    _ingest({"type": "identify", "messageId": "i1", "userId": "u-2", "traits": {"email": "GRACE@navy.mil"}})  # fmt: skip
    assert ContactAlias.objects.get(anonymous_id="user:u-2").contact_id == known.pk
    assert Contact.objects.filter(pk=placeholder).exists()  # it holds a touch: kept, not merged


def test_alias_gives_the_previous_id_to_the_user() -> None:
    _ingest(_visit(1, anon="device-1"))
    _ingest({"type": "alias", "messageId": "al", "previousId": "device-1", "userId": "u-3"})
    contact_id = ContactAlias.objects.get(anonymous_id="user:u-3").contact_id
    assert ContactAlias.objects.get(anonymous_id="device-1").contact_id == contact_id
    assert Touchpoint.objects.get(message_id="p1").contact_id == contact_id


def test_bad_messages_are_reported_and_nothing_of_them_is_written() -> None:
    result = _ingest(
        _visit(1),
        {"type": "identify", "messageId": "i", "userId": "u", "traits": {"email": "not-an-email"}},
        {"type": "group", "messageId": "g", "userId": "u", "groupId": "x", "traits": {"website": "nope"}},
        {"type": "track", "messageId": "t", "userId": "u"},
    )  # fmt: skip
    assert result.accepted == 1
    assert [e.loc for e in result.rejected] == [
        "batch[3].event",
        "batch[1].traits.email",
        "batch[2].traits.website",
    ]
    assert list(Touchpoint.objects.values_list("message_id", flat=True)) == ["p1"]
    assert not Account.objects.exists()
    assert not Contact.objects.exists()


def test_configured_event_kinds(settings: Any) -> None:
    settings.ONEFUNNEL_EVENT_KINDS = {"Trial Started": "hand_raise"}
    _ingest({"type": "track", "messageId": "t", "userId": "u", "event": "Trial Started"})
    assert Touchpoint.objects.get().kind == "hand_raise"
    assert Contact.objects.get().stage == "intent"


# --- keys -----------------------------------------------------------------------------------


def test_keys_are_stored_hashed_shown_once_and_revocable() -> None:
    created = create_key("tracking:write", "website")
    assert created.secret.startswith("of_")
    stored = ApiKey.objects.get()
    assert created.secret not in (stored.key_hash, stored.prefix)
    assert stored.prefix == created.secret[:10]
    assert verify_key(created.secret, "tracking:write") is not None
    assert ApiKey.objects.get().last_used_at is not None
    assert verify_key(created.secret + "x", "tracking:write") is None
    assert verify_key(created.secret, "api:read") is None
    revoke_key(created.info.id)
    assert verify_key(created.secret, "tracking:write") is None
    assert list_keys() == []
    assert [k.id for k in list_keys(include_revoked=True)] == [created.info.id]
    with pytest.raises(ValueError, match="scope: unknown scope"):
        create_key("everything")


# --- HTTP -------------------------------------------------------------------------------------


@pytest.fixture
def key() -> str:
    return create_key("tracking:write").secret


def _post(
    client: Client, path: str, body: bytes, key: str | None, **headers: str
) -> tuple[int, dict[str, Any], Any]:
    if key is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    response = client.post(path, body, content_type="application/json", headers=headers)
    return response.status_code, orjson.loads(response.content), response


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"x": node}
    return node


_DEEP = _nested(40)


def _body(*messages: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"batch": list(messages), **extra})


def test_batch_answers_200_with_counts(key: str) -> None:
    client = Client()
    status, payload, _ = _post(client, "/v1/batch", _body(_visit(1), {"type": "x"}), key)
    assert status == 200
    assert payload == {
        "success": True,
        "accepted": 1,
        "rejected": [{"loc": "batch[1].type", "msg": "must be one of track, identify, page, screen, group, alias"}],
    }  # fmt: skip
    # acknowledged means stored: in the inbox, before the processor has expanded it
    assert InboundBatch.objects.get().events == 1
    assert not Touchpoint.objects.exists()
    status, payload, _ = _post(client, "/v1/batch", _body(_visit(1)), key)
    assert (status, payload["accepted"]) == (200, 1)
    assert drain() == 2
    assert Touchpoint.objects.get().message_id == "p1"  # the resend stored nothing twice
    assert not InboundBatch.objects.exists()


def test_one_absurd_timestamp_costs_only_its_own_message(key: str) -> None:
    bad = {
        "type": "page",
        "messageId": "bad",
        "anonymousId": "a",
        "timestamp": "9999-12-31T23:59:59-05:00",
    }
    old = {
        "type": "page",
        "messageId": "old",
        "anonymousId": "a",
        "timestamp": "0001-01-01T00:00:00+01:00",
    }
    future = {**bad, "messageId": "future", "timestamp": "9999-12-31T23:59:59Z"}
    sent = {"type": "page", "messageId": "sent", "anonymousId": "a", "sentAt": bad["timestamp"]}
    body = _body(_visit(1), bad, old, future, sent, _visit(2))
    status, payload, _ = _post(Client(), "/v1/batch", body, key)
    assert status == 200
    assert payload["accepted"] == 2
    assert [r["loc"] for r in payload["rejected"]] == [
        "batch[1].timestamp",
        "batch[2].timestamp",
        "batch[3].timestamp",
        "batch[4].sentAt",
    ]
    assert all("out of range" in r["msg"] for r in payload["rejected"])
    drain()
    # refused, not clamped: no touch stored "now" for a broken clock's message
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["p1", "p2"]


def test_single_endpoints_gzip_and_body_write_key(key: str) -> None:
    client = Client()
    track = orjson.dumps(
        {"userId": "u", "event": "Demo Requested", "messageId": "m", "writeKey": key}
    )
    status, _, _ = _post(
        client, "/v1/track", gzip.compress(track), None, **{"Content-Encoding": "gzip"}
    )
    assert status == 200
    drain()
    assert Touchpoint.objects.get().kind == "hand_raise"


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, "invalid_json"),
        (b"[]", {}, 400, "invalid_request"),
        (b'{"batch": []}', {}, 400, "invalid_request"),
        (gzip.compress(_body(_visit(1)))[:-12], {"Content-Encoding": "gzip"}, 400, "invalid_request"),
        (b"plain", {"Content-Encoding": "gzip"}, 400, "invalid_request"),
        (_body(_visit(1)), {"Content-Encoding": "br"}, 400, "invalid_request"),
        (b"[" * 10_000 + b"]" * 10_000, {}, 400, "invalid_json"),
        (_body({"type": "page", "anonymousId": "a", "properties": _DEEP}), {}, 400, "invalid_request"),
    ],
)  # fmt: skip
def test_bad_bodies_are_400_and_write_nothing(
    key: str, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    got, payload, _ = _post(Client(), "/v1/batch", body, key, **headers)
    assert (got, payload["code"]) == (status, code)
    assert payload["message"]
    assert _nothing_written()


def test_wrong_or_missing_key_is_401(key: str) -> None:
    client = Client()
    for secret in ("of_wrong", None):
        status, payload, _ = _post(client, "/v1/batch", _body(_visit(1)), secret)
        assert (status, payload["code"]) == (401, "unauthorized")
    # a wrong key is reported before a bad body, a right key lets the body's fault through
    assert _post(client, "/v1/batch", b"{not json", "of_wrong")[0] == 401
    assert _post(client, "/v1/batch", b"{not json", key)[0] == 400
    assert _post(client, "/v1/batch", _body({"type": "x"}), "of_wrong")[0] == 401
    revoke_key(ApiKey.objects.get().pk)
    status, _, _ = _post(client, "/v1/batch", _body(_visit(1)), key)
    assert status == 401
    assert _nothing_written()


def test_oversized_bodies_are_413(key: str, settings: Any) -> None:
    settings.ONEFUNNEL_TRACKING_MAX_BODY = 2_000
    big = _body(*[_visit(n) for n in range(40)])
    status, payload, _ = _post(Client(), "/v1/batch", big, key)
    assert (status, payload["code"]) == (413, "payload_too_large")
    bomb = gzip.compress(orjson.dumps({"batch": [_visit(1, properties={"pad": "x" * 50_000})]}))
    assert len(bomb) < 2_000
    status, _, _ = _post(Client(), "/v1/batch", bomb, key, **{"Content-Encoding": "gzip"})
    assert status == 413
    assert _nothing_written()


def test_overload_is_429_with_retry_after(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracking_api, "_pending", tracking_api.DEFAULT_MAX_PENDING)
    status, payload, response = _post(Client(), "/v1/batch", _body(_visit(1)), key)
    assert (status, payload["code"], response["Retry-After"]) == (429, "rate_limited", "1")
    assert _nothing_written()


def test_a_full_inbox_is_429_until_the_processor_catches_up(key: str, settings: Any) -> None:
    settings.ONEFUNNEL_TRACKING_MAX_BACKLOG = 2
    client = Client()
    assert _post(client, "/v1/batch", _body(_visit(1), _visit(2)), key)[0] == 200
    status, payload, response = _post(client, "/v1/batch", _body(_visit(3)), key)
    assert (status, payload["code"], response["Retry-After"]) == (429, "rate_limited", "1")
    assert drain() == 1
    assert _post(client, "/v1/batch", _body(_visit(3)), key)[0] == 200
    drain()
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["p1", "p2", "p3"]


def test_only_post(key: str) -> None:
    response = Client().get("/v1/batch")
    assert response.status_code == 405


def test_a_nul_character_costs_only_its_own_message(key: str) -> None:
    # PostgreSQL cannot store U+0000 in text or JSON: unrefused, one such message failed the
    # whole batch when the processor stored it (every good message of the batch with it).
    nul = {"type": "track", "messageId": "nul", "userId": "u-1", "event": "Signed\u0000Up"}
    traits = {"type": "identify", "messageId": "t", "userId": "u-2", "traits": {"name": "\x00"}}
    status, payload, _ = _post(Client(), "/v1/batch", _body(_visit(1), nul, traits, _visit(2)), key)
    assert status == 200
    assert payload["accepted"] == 2
    assert [r["loc"] for r in payload["rejected"]] == ["batch[1]", "batch[2]"]
    drain()
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["p1", "p2"]
