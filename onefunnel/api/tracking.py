"""Segment-compatible tracking endpoints: ``POST /v1/batch``, ``/v1/track``, ``/v1/identify``, …

Not django-ninja: :func:`answer` answers in Segment's own shapes and status codes, because the
official Segment and RudderStack SDKs decide what to do from them. ``onefunnel.asgi`` calls it
straight from ASGI; :func:`endpoint` is the same as a Django view (test client, WSGI servers):

* ``200`` with a JSON body once the batch is committed to the tracking inbox (RudderStack and
  the legacy Python client treat any other 2xx as a failure) — by the process's group-commit
  writer (:mod:`onefunnel.services.tracking_writer`), which also checks the write key, so a
  request never opens a database connection of its own. The body counts the messages taken
  (``accepted``) and lists the refused ones (``rejected``); the touchpoints appear moments
  later, when the inbox processor has expanded the batch (and dropped messages already stored:
  see :mod:`onefunnel.services.tracking_inbound`);
* ``400`` for input no retry can fix, ``401`` for a missing or wrong write key, ``413`` for an
  oversized body — clients drop these and do not retry;
* ``429`` with ``Retry-After`` when too many batches are already waiting in this process or too
  many messages wait in the inbox (``ONEFUNNEL_TRACKING_MAX_BACKLOG``), ``503``
  with ``Retry-After`` when the database is busy — clients back off and resend, which is safe
  because messages are deduplicated on ``messageId``.

Errors are ``{"code": …, "message": …, "errors": [{"loc": …, "msg": …}]}``. The write key is the
HTTP Basic user (empty password), ``writeKey`` in the body, or ``writeKey`` in the query string
(RudderStack's beacon batches, ``/beacon/v1/batch?writeKey=…``).

Browsers: Segment's analytics.js sends to the one-letter paths (``/v1/t``, ``/v1/p``, ``/v1/i``,
``/v1/g``, ``/v1/a``, ``/v1/s``; batches to ``/v1/b``; its own metrics to ``/v1/m``, taken and
dropped), RudderStack's JS SDK to ``/v1/track`` and the like; both are answered here, the same
way. CORS preflights, the origins of browser keys (``403`` for an origin not on the key's list)
and the rate limits are :mod:`onefunnel.api.tracking_browser`'s. Bodies may be gzip-compressed;
compressed and decompressed sizes are both capped by ``ONEFUNNEL_TRACKING_MAX_BODY`` (bytes,
default 512 KiB, like Segment's 500 KB batch limit).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from onefunnel.api.tracking_browser import (
    cors_headers,
    ip_rate_limited,
    key_rate_limited,
    known_origins,
    log_refused_preflight,
    preflight_headers,
    query_write_key,
)
from onefunnel.client_address import client_ip
from onefunnel.domain.origins import request_origin
from onefunnel.domain.tracking import (
    BatchError,
    EventError,
    EventType,
    ParsedBatch,
    parse_body,
)
from onefunnel.services.tracking_inbound import Received
from onefunnel.services.tracking_writer import InboxFullError, OriginRefusedError, writer

#: The last part of each endpoint's path: ``/v1/batch``, ``/v1/track``, …
KINDS = ("batch", "import", "track", "identify", "page", "screen", "group", "alias")
#: Segment analytics.js's paths: the message type's first letter, ``b`` for batches.
SHORT_KINDS = {
    "t": "track",
    "p": "page",
    "i": "identify",
    "g": "group",
    "a": "alias",
    "s": "screen",
    "b": "batch",
}
#: analytics.js's own delivery metrics (``/v1/m``): taken and dropped, so they cause no errors.
SDK_METRICS = "m"
PATHS = (*KINDS, *SHORT_KINDS, SDK_METRICS)
DEFAULT_MAX_BODY = 512 * 1024
DEFAULT_MAX_PENDING = 32
_pending = 0


class _RefusedError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


@dataclass(frozen=True, slots=True)
class Answer:
    """A tracking response, whichever server sends it: status, JSON body, extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, orjson.dumps(payload), headers or {})


def _error(refused: _RefusedError) -> Answer:
    extra = dict(refused.extra)
    wait = extra.pop("wait", 1)
    headers = {"Retry-After": str(wait)} if refused.status in (429, 503) else None
    payload = {"code": refused.code, "message": refused.message, **extra}
    return _json(refused.status, payload, headers)


def _max_pending() -> int:
    return int(getattr(settings, "ONEFUNNEL_TRACKING_MAX_PENDING", 0) or DEFAULT_MAX_PENDING)


def max_body() -> int:
    """The largest body taken, compressed or not (``ONEFUNNEL_TRACKING_MAX_BODY``)."""
    return int(getattr(settings, "ONEFUNNEL_TRACKING_MAX_BODY", 0) or DEFAULT_MAX_BODY)


def _body(headers: Mapping[str, str], raw: bytes | None) -> tuple[bytes, bytes]:
    """The body as received and its decoded JSON bytes (``raw`` is None: it was too large)."""
    limit = max_body()
    too_big = _RefusedError(413, "payload_too_large", f"body: larger than {limit} bytes")
    declared = headers.get("content-length", "")
    if raw is None or (declared.isdigit() and int(declared) > limit) or len(raw) > limit:
        raise too_big
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return raw, raw
    if encoding != "gzip":
        raise _RefusedError(400, "invalid_request", f"Content-Encoding: unsupported {encoding!r}")
    # A size cap on the output, so a small "gzip bomb" cannot expand without bound.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise _RefusedError(400, "invalid_request", f"body: not valid gzip ({exc})") from None
    if len(data) > limit:
        raise too_big
    if not inflater.eof:
        raise _RefusedError(400, "invalid_request", "body: truncated gzip stream")
    return raw, data


def _basic_user(headers: Mapping[str, str]) -> str | None:
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _RefusedError(
            401, "unauthorized", "Authorization: malformed Basic credentials"
        ) from None
    return decoded.partition(":")[0]


def _parse(body: bytes, kind: EventType | None, received: datetime) -> ParsedBatch:
    try:
        return parse_body(body, kind, received_at=received)
    except orjson.JSONDecodeError as exc:
        raise _RefusedError(400, "invalid_json", f"body: not valid JSON ({exc})") from None
    except BatchError as exc:
        raise _RefusedError(400, "invalid_request", str(exc)) from None


def _errors(errors: tuple[EventError, ...]) -> list[dict[str, str]]:
    return [{"loc": e.loc, "msg": e.msg} for e in errors]


async def _write(key: str, batch: Received | None, origin: str | None) -> bool:
    return await asyncio.wrap_future(writer.submit(key, batch, origin))


async def _key_limit(key: str, origin: str | None) -> None:
    if origin is not None:
        wait = await key_rate_limited(key)
        if wait is not None:
            raise _RefusedError(
                429, "rate_limited", "too many requests with this write key; retry", wait=wait
            )


async def _handle(
    headers: Mapping[str, str],
    body: bytes | None,
    kind: EventType | None,
    origin: str | None,
    query: str,
) -> Answer:
    try:
        basic = _basic_user(headers)
        received = timezone.now()
        try:
            raw, data = _body(headers, body)
            parsed = _parse(data, kind, received)
        except _RefusedError:
            # A wrong key is reported before anything about the body, as it always was.
            if basic is not None:
                await _key_limit(basic, origin)
                if not await _write(basic, None, origin):
                    raise _RefusedError(
                        401, "unauthorized", "write key: unknown or revoked"
                    ) from None
            raise
        key = basic if basic is not None else (parsed.write_key or query_write_key(query) or "")
        await _key_limit(key, origin)
        batch = (
            Received(raw, raw is not data, kind, received, len(parsed.events))
            if parsed.events
            else None
        )
        if not await _write(key, batch, origin):
            which = "unknown or revoked" if basic is not None else "missing, unknown or revoked"
            raise _RefusedError(401, "unauthorized", f"write key: {which}")
        if not parsed.events:
            message = "; ".join(str(e) for e in parsed.errors[:5])
            raise _RefusedError(400, "invalid_request", message, errors=_errors(parsed.errors))
    except _RefusedError as refused:
        return _error(refused)
    except OriginRefusedError as exc:
        return _json(403, {"code": "forbidden_origin", "message": str(exc)})
    except InboxFullError:
        return _error(_RefusedError(429, "rate_limited", "too many messages waiting; retry"))
    except OperationalError as exc:
        busy = _RefusedError(503, "unavailable", f"database busy, retry ({str(exc)[:80]})")
        return _error(busy)
    return _json(
        200,
        {"success": True, "accepted": len(parsed.events), "rejected": _errors(parsed.errors)},
    )


async def answer(
    method: str,
    kind: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    client: str = "",
    query: str = "",
) -> Answer:
    """Answer one request to a Segment endpoint; ``kind`` is the path's last part (batch,
    track, identify, … or analytics.js's ``b``, ``t``, …), ``headers`` have lower-case names,
    ``body`` is None when it was larger than :func:`max_body`, ``client`` is the sender's
    address and ``query`` the query string.

    Waiting batches are counted per process; beyond ``ONEFUNNEL_TRACKING_MAX_PENDING`` the
    answer is 429 with ``Retry-After`` rather than an ever longer queue. Requests from web
    pages (with an ``Origin``) are rate-limited and answered with CORS headers
    (:mod:`onefunnel.api.tracking_browser`).
    """
    if kind not in PATHS:
        return _json(404, {"code": "not_found", "message": f"no tracking endpoint /v1/{kind}"})
    origin = request_origin(headers.get("origin"))
    if method == "OPTIONS":
        return await _preflight(origin, client)
    if method != "POST":
        allow = {"Allow": "POST, OPTIONS"}
        return _json(405, {"code": "method_not_allowed", "message": "use POST"}, allow)
    if origin is None:
        return await _post(kind, headers, body, None, query)
    wait = await ip_rate_limited(client)
    if wait is not None:
        message = "too many requests from this address; retry"
        result = _error(_RefusedError(429, "rate_limited", message, wait=wait))
    else:
        result = await _post(kind, headers, body, origin, query)
    refused = result.status == 403
    if not refused and (result.status == 200 or origin in await known_origins.get()):
        result.headers.update(cors_headers(origin))
    return result


async def _preflight(origin: str | None, client: str) -> Answer:
    if origin is None:
        # Not a browser's preflight: say what the endpoint takes, nothing about CORS.
        return Answer(204, b"", {"Allow": "POST, OPTIONS"})
    wait = await ip_rate_limited(client)
    if wait is not None:
        return _error(_RefusedError(429, "rate_limited", "too many requests; retry", wait=wait))
    if origin not in await known_origins.get():
        log_refused_preflight(origin, client)
        message = f"Origin: {origin} is not allowed for any write key"
        return _json(403, {"code": "forbidden_origin", "message": message})
    return Answer(204, b"", preflight_headers(origin))


async def _post(
    kind: str, headers: Mapping[str, str], body: bytes | None, origin: str | None, query: str
) -> Answer:
    global _pending
    if kind == SDK_METRICS:
        return _json(200, {"success": True})
    kind = SHORT_KINDS.get(kind, kind)
    event_type = None if kind in ("batch", "import") else EventType(kind)
    if _pending >= _max_pending():
        return _error(_RefusedError(429, "rate_limited", "too many batches waiting; retry"))
    _pending += 1
    try:
        return await _handle(headers, body, event_type, origin, query)
    finally:
        _pending -= 1


@csrf_exempt
async def endpoint(request: HttpRequest, kind: str = "batch") -> HttpResponse:
    """The Segment endpoints as a Django view (the test client, WSGI servers); under ASGI,
    ``onefunnel.asgi`` calls :func:`answer` directly."""
    try:
        body: bytes | None = request.body
    except RequestDataTooBig:
        body = None
    headers = {name.lower(): value for name, value in request.headers.items()}
    result = await answer(
        request.method or "",
        kind,
        headers,
        body,
        client=client_ip(request),
        query=str(request.META.get("QUERY_STRING") or ""),
    )
    response = HttpResponse(result.body, status=result.status, content_type="application/json")
    for name, value in result.headers.items():
        response[name] = value
    return response
