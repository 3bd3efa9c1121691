"""Tracking from web pages, through the ASGI application: every path the Segment (analytics.js)
and RudderStack (JS SDK v3) browser SDKs use, with the bodies and headers they send; CORS
preflights; the origins of browser keys (refused and counted); rate limits per address and
per key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from django.core.cache import cache

from onefunnel.api.tracking_browser import known_origins
from onefunnel.models import ApiKey, Campaign, Touchpoint
from onefunnel.services.keys import TRACKING_WRITE, create_key, list_keys
from onefunnel.services.tracking_inbound import drain, pending
from onefunnel.services.tracking_writer import writer
from tests.integration.test_tracking_asgi import _call

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "https://www.example.com"
OTHER = "https://evil.example.net"
CAMPAIGN = {"name": "spring-launch", "source": "google", "medium": "cpc"}


@pytest.fixture(autouse=True)
def _fresh(settings: Any) -> Iterator[None]:
    # The writer thread keeps its own connection (PostgreSQL refuses to drop the test database
    # while it is open); the rate counters and the origins read for preflights are per process.
    settings.ONEFUNNEL_TRACKING_PROCESSOR = False
    cache.clear()
    known_origins.forget()
    yield
    known_origins.forget()
    writer.close_connection()


@pytest.fixture
def key() -> str:
    """A browser key for SITE."""
    return create_key(TRACKING_WRITE, "website", [SITE + "/"]).secret


def _basic(secret: str) -> tuple[bytes, bytes]:
    return (b"authorization", b"Basic " + base64.b64encode(secret.encode() + b":"))


def _headers(origin: str | None, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    found = [(b"origin", origin.encode())] if origin is not None else []
    return [*found, *extra]


def _segment(kind: str, message_id: str, key: str, **fields: Any) -> dict[str, Any]:
    """A message as analytics.js 1.x builds it (normalize.js: writeKey and sentAt in the body)."""
    return {
        "type": kind,
        "messageId": f"ajs-next-{message_id}",
        "anonymousId": "anon-seg",
        "timestamp": "2026-12-04T20:00:00.000Z",
        "sentAt": "2026-12-04T20:00:00.100Z",
        "writeKey": key,
        "context": {
            "campaign": CAMPAIGN,
            "page": {"path": "/", "url": f"{SITE}/?utm_campaign=spring-launch", "title": "Home"},
            "library": {"name": "analytics.js", "version": "npm:next-1.84.3"},
        },
        "integrations": {},
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
        **fields,
    }


def _rudder(kind: str, message_id: str, **fields: Any) -> dict[str, Any]:
    """A message as RudderStack's JS SDK v3 builds it (no key in the body)."""
    return {
        "type": kind,
        "messageId": f"rs-{message_id}",
        "anonymousId": "anon-rs",
        "userId": "",
        "channel": "web",
        "originalTimestamp": "2026-12-04T20:00:00.000Z",
        "sentAt": "2026-12-04T20:00:00.050Z",
        "context": {
            "campaign": CAMPAIGN,
            "page": {"path": "/", "url": f"{SITE}/", "title": "Home"},
            "library": {"name": "RudderLabs JavaScript SDK", "version": "3.34.1"},
        },
        "integrations": {"All": True},
        **fields,
    }


SEGMENT_CALLS = [
    ("t", "track", {"event": "Pricing Clicked", "properties": {"plan": "team"}}),
    ("p", "page", {"name": "Home", "properties": {"path": "/", "url": SITE + "/"}}),
    ("i", "identify", {"userId": "u-1", "traits": {"email": "ada@example.com"}}),
    ("g", "group", {"userId": "u-1", "groupId": "acme", "traits": {"name": "Acme"}}),
    ("a", "alias", {"userId": "u-2", "previousId": "u-1"}),
    ("s", "screen", {"name": "Home"}),
]


@pytest.mark.parametrize(("path", "kind", "fields"), SEGMENT_CALLS)
def test_each_analytics_js_path_is_taken_with_a_text_plain_body(
    key: str, path: str, kind: str, fields: dict[str, Any]
) -> None:
    body = orjson.dumps(_segment(kind, path, key, **fields))
    status, headers, content = _call(
        "POST",
        f"/v1/{path}",
        body,
        headers=_headers(SITE, (b"content-type", b"text/plain"), _basic(key)),
    )
    assert (status, orjson.loads(content)["accepted"]) == (200, 1)
    assert headers["access-control-allow-origin"] == SITE
    assert headers["vary"] == "Origin"
    assert pending() == 1
    drain()
    assert pending() == 0


def test_an_analytics_js_batch_to_v1_b_with_the_key_only_in_the_body(key: str) -> None:
    # analytics.js's batching dispatcher: {batch, writeKey, sentAt}; without the Basic header
    # the key in the body counts, as always.
    messages = [_segment("page", "b-1", key), _segment("track", "b-2", key, event="Clicked")]
    body = orjson.dumps({"batch": messages, "writeKey": key, "sentAt": "2026-12-04T20:00:01Z"})
    status, headers, content = _call(
        "POST", "/v1/b", body, headers=_headers(SITE, (b"content-type", b"text/plain"))
    )
    assert (status, orjson.loads(content)["accepted"]) == (200, 2)
    assert headers["access-control-allow-origin"] == SITE
    drain()
    touches = Touchpoint.objects.filter(message_id__startswith="ajs-next-b-")
    assert touches.count() == 2
    assert {t.utm_campaign for t in touches} == {"spring-launch"}


@pytest.mark.parametrize("kind", ["track", "page", "identify", "group", "alias"])
def test_each_rudderstack_path_is_taken_with_its_headers(key: str, kind: str) -> None:
    fields = {
        "track": {"event": "Pricing Clicked"},
        "page": {"name": "Home", "properties": {"path": "/"}},
        "identify": {"userId": "u-9", "context": {"traits": {"email": "rs@example.com"}}},
        "group": {"groupId": "acme"},
        "alias": {"userId": "u-9", "previousId": "anon-rs"},
    }[kind]
    body = orjson.dumps(_rudder(kind, kind, **fields))
    extra = [
        (b"content-type", b"application/json;charset=UTF-8"),
        (b"anonymousid", base64.b64encode(b"anon-rs")),
        (b"sentat", b"2026-12-04T20:00:00.050Z"),
        _basic(key),
    ]
    status, headers, content = _call("POST", f"/v1/{kind}", body, headers=_headers(SITE, *extra))
    assert (status, orjson.loads(content)["accepted"]) == (200, 1), content
    assert headers["access-control-allow-origin"] == SITE


def test_a_rudderstack_beacon_batch_carries_the_key_in_the_query(key: str) -> None:
    # BeaconQueue: navigator.sendBeacon(/beacon/v1/batch?writeKey=…, Blob text/plain) with
    # {batch, sentAt}: no header, no key in the body.
    body = orjson.dumps(
        {
            "batch": [_rudder("page", "beacon-1"), _rudder("track", "beacon-2", event="Left")],
            "sentAt": "2026-12-04T20:00:00.050Z",
        }
    )
    status, _, content = _call(
        "POST",
        "/beacon/v1/batch",
        body,
        headers=_headers(SITE, (b"content-type", b"text/plain;charset=UTF-8")),
        query=b"writeKey=" + key.encode(),
    )
    assert (status, orjson.loads(content)["accepted"]) == (200, 2)
    status, _, _ = _call("POST", "/beacon/v1/track", body, headers=_headers(SITE))
    assert status == 404  # only batches come by beacon
    status, _, _ = _call("POST", "/beacon/v1/batch", body, headers=_headers(SITE))
    assert status == 401  # no key anywhere
    drain()
    assert set(Touchpoint.objects.values_list("message_id", flat=True)) == {
        "rs-beacon-1",
        "rs-beacon-2",
    }


def test_the_sdk_metrics_path_is_taken_and_dropped(key: str) -> None:
    body = b'{"series": [{"type": "Counter", "metric": "analytics_js.invoke", "value": 1}]}'
    status, headers, _ = _call("POST", "/v1/m", body, headers=_headers(SITE))
    assert status == 200
    assert headers["access-control-allow-origin"] == SITE
    assert pending() == 0


def test_a_preflight_is_answered_for_an_origin_on_a_live_key(key: str) -> None:
    preflight = [
        (b"access-control-request-method", b"POST"),
        (b"access-control-request-headers", b"authorization,content-type"),
    ]
    status, headers, content = _call("OPTIONS", "/v1/t", headers=_headers(SITE, *preflight))
    assert (status, content) == (204, b"")
    assert headers["access-control-allow-origin"] == SITE
    assert "POST" in headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "anonymousid", "sentat", "x-retry-count"} <= allowed
    assert int(headers["access-control-max-age"]) > 0
    # Without an Origin it is no browser's preflight: no CORS headers.
    status, headers, _ = _call("OPTIONS", "/v1/batch")
    assert (status, headers["allow"]) == (204, "POST, OPTIONS")
    assert "access-control-allow-origin" not in headers


def test_a_preflight_from_another_origin_is_refused_and_logged(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, headers, content = _call("OPTIONS", "/v1/batch", headers=_headers(OTHER))
    assert (status, orjson.loads(content)["code"]) == (403, "forbidden_origin")
    assert "access-control-allow-origin" not in headers
    assert any(OTHER in r.getMessage() for r in caplog.records if r.name == "onefunnel.tracking")


def test_a_revoked_key_no_longer_opens_preflights(key: str) -> None:
    assert _call("OPTIONS", "/v1/t", headers=_headers(SITE))[0] == 204
    ApiKey.objects.update(revoked_at="2026-12-04T00:00:00Z")
    known_origins.forget()
    assert _call("OPTIONS", "/v1/t", headers=_headers(SITE))[0] == 403


def test_a_request_from_an_origin_not_on_the_key_is_refused_counted_and_writes_nothing(
    key: str,
) -> None:
    create_key(TRACKING_WRITE, "partner", [OTHER])  # OTHER passes preflights, not with `key`
    body = orjson.dumps(_segment("track", "x", key, event="Clicked"))
    for _ in range(2):
        status, headers, content = _call(
            "POST", "/v1/t", body, headers=_headers(OTHER, _basic(key))
        )
        assert (status, orjson.loads(content)["code"]) == (403, "forbidden_origin")
        assert "access-control-allow-origin" not in headers
    assert pending() == 0
    website = next(k for k in list_keys() if k.name == "website")
    assert (website.refused_count, website.last_refused_origin) == (2, OTHER)
    assert website.last_refused_at is not None


def test_a_server_key_never_answers_a_browser_and_a_browser_key_needs_an_origin(
    key: str,
) -> None:
    server = create_key(TRACKING_WRITE, "back end").secret
    body = orjson.dumps(_segment("track", "s", server, event="Clicked"))
    status, _, content = _call("POST", "/v1/t", body, headers=_headers(SITE, _basic(server)))
    assert (status, orjson.loads(content)["code"]) == (403, "forbidden_origin")
    # ... while the same request without an Origin (a server) is taken
    assert _call("POST", "/v1/t", body, headers=_headers(None, _basic(server)))[0] == 200
    # A browser key from no page at all (curl): refused.
    body = orjson.dumps(_segment("track", "b", key, event="Clicked"))
    status, _, content = _call("POST", "/v1/t", body, headers=_headers(None, _basic(key)))
    assert (status, orjson.loads(content)["code"]) == (403, "forbidden_origin")
    assert pending() == 1


def test_an_origin_refusal_comes_before_body_errors(key: str) -> None:
    status, _, content = _call(
        "POST", "/v1/batch", b"{not json", headers=_headers(OTHER, _basic(key))
    )
    assert (status, orjson.loads(content)["code"]) == (403, "forbidden_origin")


def test_browser_requests_are_rate_limited_per_address(key: str, settings: Any) -> None:
    settings.ONEFUNNEL_TRACKING_RATE_PER_IP = "3/m"
    body = orjson.dumps(_segment("page", "r", key))
    answers = [_call("POST", "/v1/p", body, headers=_headers(SITE, _basic(key))) for _ in range(4)]
    assert [a[0] for a in answers] == [200, 200, 200, 429]
    _status, headers, content = answers[-1]
    assert orjson.loads(content)["code"] == "rate_limited"
    assert 1 <= int(headers["retry-after"]) <= 60
    # The page can read the 429 and its Retry-After.
    assert headers["access-control-allow-origin"] == SITE
    assert "Retry-After" in headers["access-control-expose-headers"]
    # Preflights count too; a server (no Origin) is not limited here.
    assert _call("OPTIONS", "/v1/p", headers=_headers(SITE))[0] == 429
    server = create_key(TRACKING_WRITE).secret
    plain = orjson.dumps(_segment("page", "srv", server))
    assert _call("POST", "/v1/p", plain, headers=[_basic(server)])[0] == 200


def test_browser_requests_are_rate_limited_per_key(key: str, settings: Any) -> None:
    settings.ONEFUNNEL_TRACKING_RATE_PER_KEY = "2/m"
    body = orjson.dumps(_segment("page", "k", key))
    statuses = []
    for n in range(3):
        # from three addresses: only the key's limit applies
        headers = _headers(SITE, _basic(key))
        statuses.append(_call("POST", "/v1/p", body, headers=headers, client=f"10.0.0.{n}"))
    assert [s[0] for s in statuses] == [200, 200, 429]
    assert int(statuses[-1][1]["retry-after"]) >= 1


def test_the_touches_arrive_attributed_to_the_campaign(key: str) -> None:
    Campaign.objects.create(
        name="Spring launch", utm_campaign="spring-launch", channel="paid_search"
    )
    body = orjson.dumps(_segment("track", "c", key, event="Pricing Clicked"))
    assert _call("POST", "/v1/t", body, headers=_headers(SITE, _basic(key)))[0] == 200
    drain()
    touch = Touchpoint.objects.get(message_id="ajs-next-c")
    assert touch.campaign is not None
    assert touch.campaign.utm_campaign == "spring-launch"


def test_the_django_view_answers_the_same_as_asgi(key: str) -> None:
    # The test client and WSGI servers reach the endpoints through Django's URLs.
    from django.test import Client

    client = Client()
    response = client.options("/v1/t", HTTP_ORIGIN=SITE)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == SITE
    assert client.options("/v1/t", HTTP_ORIGIN=OTHER).status_code == 403
    body = orjson.dumps({"batch": [_rudder("page", "dj-1")], "sentAt": "2026-12-04T20:00:01Z"})
    response = client.post(
        f"/beacon/v1/batch?writeKey={key}", body, content_type="text/plain", HTTP_ORIGIN=SITE
    )
    assert (response.status_code, response["Access-Control-Allow-Origin"]) == (200, SITE)
    drain()
    assert Touchpoint.objects.filter(message_id="rs-dj-1").exists()


def test_the_limits_count_in_a_shared_cache_too(key: str, settings: Any, tmp_path: Any) -> None:
    # A cache other processes share (here files; Redis in production) is asked off the event
    # loop; the counts are the same.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    settings.ONEFUNNEL_TRACKING_RATE_PER_IP = "2/m"
    body = orjson.dumps(_segment("page", "f", key))
    statuses = [_call("POST", "/v1/p", body, headers=_headers(SITE, _basic(key)))[0] for _ in "abc"]
    assert statuses == [200, 200, 429]
    assert any((tmp_path / "cache").iterdir())
