"""ASGI entry point: ``uvicorn onefunnel.asgi:application``.

Tracking requests (``/v1/…``, and RudderStack's beacon batches at ``/beacon/v1/batch``) are
answered here directly by :func:`onefunnel.api.tracking.answer`, without Django's request handling. They need none of it — no middleware, sessions, CSRF, users,
URL resolution or request signals; the write key is checked by the tracking writer, which
keeps its own database connection — and Django's ASGI handler costs, per request, a new thread
for synchronous code and hops into it for the request signals: at a few hundred batches a
second, more CPU than parsing the batch itself (``bench/ingest.py``). Every other path goes
through the full Django stack.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onefunnel.settings")
_django = get_asgi_application()

# Imported after the Django set-up above: the tracking API reads settings and models.
from onefunnel.api.tracking import Answer, answer, max_body  # noqa: E402
from onefunnel.client_address import client_address  # noqa: E402

TRACKING_PREFIX = "/v1/"
BEACON_PREFIX = "/beacon/v1/"
log = logging.getLogger("onefunnel.tracking")


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The request body, or None as soon as it grows past ``limit`` bytes (not read further)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Any, result: Answer) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(result.body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in result.headers.items()),
    ]
    await send({"type": "http.response.start", "status": result.status, "headers": headers})
    await send({"type": "http.response.body", "body": result.body})


async def tracking(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """One request to a Segment endpoint, read and answered without Django's handler."""
    headers = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }
    body = await _read_body(receive, max_body())
    path = str(scope["path"])
    beacon = path.startswith(BEACON_PREFIX)
    kind = path[len(BEACON_PREFIX if beacon else TRACKING_PREFIX) :]
    if beacon and kind != "batch":
        kind = f"beacon/{kind}"  # only batches come by beacon: anything else is a 404
    peer = scope.get("client") or ("", 0)
    client = client_address(str(peer[0]), headers.get("x-forwarded-for", ""))
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    try:
        result = await answer(str(scope["method"]), kind, headers, body, client=client, query=query)
    except Exception:
        # A bug, not the sender's fault: a 500 it will retry (messages are deduplicated).
        log.exception("tracking request to %s failed", scope["path"])
        result = Answer(500, b'{"code": "internal_error", "message": "internal error"}')
    await _send(send, result)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Route ``/v1/`` and ``/beacon/v1/`` requests to :func:`tracking`, everything else to
    Django."""
    path = str(scope.get("path", ""))
    if scope["type"] == "http" and path.startswith((TRACKING_PREFIX, BEACON_PREFIX)):
        await tracking(scope, receive, send)
        return
    await _django(scope, receive, send)
