"""``/v1/`` requests are answered by the tracking API straight from ASGI (no Django handler, no
middleware); every other path goes through the full stack."""

from __future__ import annotations

import asyncio
import base64
import gzip
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest

from onefunnel import asgi
from onefunnel.asgi import application
from onefunnel.models import Touchpoint
from onefunnel.services.keys import TRACKING_WRITE, create_key
from onefunnel.services.tracking_inbound import drain, pending
from onefunnel.services.tracking_writer import writer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _release_the_writer_connection(settings: Any) -> Iterator[None]:
    # The endpoint checks the key in the writer thread, which keeps its own connection;
    # PostgreSQL refuses to drop the test database while it is open.
    settings.ONEFUNNEL_TRACKING_PROCESSOR = False
    yield
    writer.close_connection()


def _call(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    chunk: int = 0,
    query: bytes = b"",
    client: str = "127.0.0.1",
) -> tuple[int, dict[str, str], bytes]:
    """Call the ASGI application; ``chunk`` > 0 sends the body in pieces of that size."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": (client, 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] if chunk else [body]
    incoming = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, content


def test_a_tracking_request_skips_the_middleware_and_keeps_its_length() -> None:
    body = b'{"batch": [{"type": "page", "messageId": "m-1", "anonymousId": "a"}], "writeKey": "x"}'
    status, headers, content = _call("POST", "/v1/batch", body)
    assert status == 401
    assert b"unauthorized" in content
    assert headers["content-length"] == str(len(content))
    # what the full stack's middleware would add
    assert "x-frame-options" not in headers
    assert "cross-origin-opener-policy" not in headers


def test_other_paths_keep_the_full_middleware_stack() -> None:
    status, headers, _ = _call("GET", "/admin/login/")
    assert status == 200
    assert headers["x-frame-options"] == "DENY"
    assert "csrftoken" in headers.get("set-cookie", "")


def _auth(secret: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Basic " + base64.b64encode(secret.encode() + b":"))]


def _batch(*ids: str) -> bytes:
    messages = [{"type": "page", "messageId": i, "anonymousId": "a-1"} for i in ids]
    return orjson.dumps({"batch": messages})


def test_a_batch_is_committed_to_the_inbox_before_the_200() -> None:
    secret = create_key(TRACKING_WRITE).secret
    body = gzip.compress(_batch("m-1", "m-2"))
    status, headers, content = _call(
        "POST", "/v1/batch", body, headers=[*_auth(secret), (b"content-encoding", b"gzip")]
    )
    assert (status, orjson.loads(content)["accepted"]) == (200, 2)
    assert headers["content-type"] == "application/json"
    assert pending() == 2  # acknowledged: both messages wait in the inbox
    assert drain() == 1
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["m-1", "m-2"]


def test_a_body_streamed_past_the_limit_is_413_and_nothing_is_written(settings: Any) -> None:
    settings.ONEFUNNEL_TRACKING_MAX_BODY = 1_000
    secret = create_key(TRACKING_WRITE).secret
    big = _batch(*(f"m-{n}" for n in range(60)))
    assert len(big) > 1_000
    status, _, content = _call("POST", "/v1/batch", big, headers=_auth(secret), chunk=256)
    assert (status, orjson.loads(content)["code"]) == (413, "payload_too_large")
    assert drain() == 0
    assert not Touchpoint.objects.exists()


def test_unknown_endpoints_are_404_and_other_methods_405() -> None:
    status, _, content = _call("POST", "/v1/nope", b"{}")
    assert (status, orjson.loads(content)["code"]) == (404, "not_found")
    status, headers, _ = _call("GET", "/v1/batch")
    assert (status, headers["allow"]) == (405, "POST, OPTIONS")


def test_a_failure_inside_is_a_500_the_sender_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(asgi, "answer", broken)
    status, _, content = _call("POST", "/v1/batch", _batch("m-1"))
    assert (status, orjson.loads(content)["code"]) == (500, "internal_error")
