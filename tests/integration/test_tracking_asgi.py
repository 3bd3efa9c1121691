"""``/v1/`` requests take the lean ASGI path (no middleware); every other path the full stack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from onefunnel.asgi import application
from onefunnel.services.tracking_writer import writer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _release_the_writer_connection(settings: Any) -> Iterator[None]:
    # The endpoint checks the key in the writer thread, which keeps its own connection;
    # PostgreSQL refuses to drop the test database while it is open.
    settings.ONEFUNNEL_TRACKING_PROCESSOR = False
    yield
    writer.close_connection()


def _call(method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "http.request", "body": body, "more_body": False}]

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
