"""What the tracking endpoints add for web browsers: CORS and rate limits.

A page on ``https://www.example.com`` that sends to onefunnel makes cross-origin requests, and
both browser SDKs send the write key in an ``Authorization`` header, so the browser first asks
with a CORS *preflight* (``OPTIONS``). A preflight carries no key: it is answered (``204`` with
``Access-Control-Allow-Origin``) when its origin is on some live browser key's list, and refused
(``403``, logged) otherwise. The request that follows is checked against its own key's list by
the tracking writer (:class:`onefunnel.services.tracking_writer.OriginRefusedError`).

The origins of the live keys are read on the tracking writer's thread and kept for
``ORIGINS_TTL`` seconds, so a preflight costs no database round trip of its own; a key created
or revoked shows in preflights within that time (the request itself is always checked against
the key as stored).

Rate limits apply to browser requests (those with an ``Origin``, preflights included): per
client address (``ONEFUNNEL_TRACKING_RATE_PER_IP``, default ``1200/m``: a preflight and its
request count twice) and per write key (``ONEFUNNEL_TRACKING_RATE_PER_KEY``, default
``12000/m``: one key serves every visitor of a site). They count in Django's cache (``RATELIMIT_USE_CACHE``, see ``settings.CACHES``) with
django-ratelimit; over a limit the answer is ``429`` with ``Retry-After``. Server-side SDKs (no
``Origin``) are bounded by the inbox backlog instead, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from urllib.parse import parse_qs

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest
from django_ratelimit.core import get_usage  # type: ignore[import-untyped]

from onefunnel.services.keys import browser_origins
from onefunnel.services.tracking_writer import writer

log = logging.getLogger("onefunnel.tracking")

ORIGINS_TTL = 5.0
DEFAULT_RATE_PER_IP = "1200/m"
DEFAULT_RATE_PER_KEY = "12000/m"
PREFLIGHT_MAX_AGE = 600
#: Every request header the current Segment (analytics-next) and RudderStack (v3) browser SDKs
#: send beyond the CORS-safelisted ones.
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Retry-Count",
    "AnonymousId",
    "SentAt",
    "Rsa-Recovered",
    "Rsa-Retry-Attempt",
    "Rsa-Since-Last-Attempt",
    "Rsa-Since-First-Attempt",
    "Rsa-Retry-Reason",
)


class _Origins:
    """The origins of the live browser keys, read at most every ``ORIGINS_TTL`` seconds."""

    def __init__(self) -> None:
        self._origins: frozenset[str] = frozenset()
        self._read_at = -ORIGINS_TTL
        self._reading: Future[frozenset[str]] | None = None

    async def get(self) -> frozenset[str]:
        now = time.monotonic()
        if now - self._read_at >= ORIGINS_TTL:
            # One read at a time: the requests arriving meanwhile wait for the same answer.
            if self._reading is None or self._reading.done():
                self._reading = writer.call(browser_origins)
            reading = self._reading
            self._origins = await asyncio.wrap_future(reading)
            self._read_at = now
        return self._origins

    def forget(self) -> None:
        """Read the keys again at the next request (tests, after creating a key)."""
        self._read_at = -ORIGINS_TTL


known_origins = _Origins()


def cors_headers(origin: str) -> dict[str, str]:
    """The headers that let a page of ``origin`` read an answer (its status, Retry-After)."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def preflight_headers(origin: str) -> dict[str, str]:
    """The answer to an allowed preflight: ``POST`` with the SDKs' headers, cached 10 minutes."""
    return {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
    }


def _rate(name: str, default: str) -> str | None:
    value = getattr(settings, name, default)
    return str(value) if value else None


def _request(client: str) -> HttpRequest:
    # django-ratelimit reads only the client address (and the method, for ALL: not at all).
    request = HttpRequest()
    request.method = "POST"
    request.META["REMOTE_ADDR"] = client or "0.0.0.0"
    return request


def _count(group: str, key: str, rate: str, request: HttpRequest) -> int | None:
    usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


async def _over(group: str, key: str, rate: str | None, request: HttpRequest) -> int | None:
    if rate is None:
        return None
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    if isinstance(cache, LocMemCache):
        return _count(group, key, rate, request)  # in memory: no need to leave the event loop
    # A cache over the network (Redis, Memcached) blocks: not on the event loop.
    return await asyncio.to_thread(_count, group, key, rate, request)


async def ip_rate_limited(client: str) -> int | None:
    """Count a browser request against its client address (IPv6 by /64, as django-ratelimit
    masks it); the seconds to wait when over ``ONEFUNNEL_TRACKING_RATE_PER_IP``, else None."""
    rate = _rate("ONEFUNNEL_TRACKING_RATE_PER_IP", DEFAULT_RATE_PER_IP)
    return await _over("onefunnel.tracking.ip", "ip", rate, _request(client))


async def key_rate_limited(write_key: str) -> int | None:
    """Count a browser request against its write key (hashed in the cache key, never stored);
    the seconds to wait when over ``ONEFUNNEL_TRACKING_RATE_PER_KEY``, else None."""
    rate = _rate("ONEFUNNEL_TRACKING_RATE_PER_KEY", DEFAULT_RATE_PER_KEY)
    request = _request("")
    request.META["HTTP_X_ONEFUNNEL_WRITE_KEY"] = write_key
    return await _over("onefunnel.tracking.key", "header:x-onefunnel-write-key", rate, request)


def log_refused_preflight(origin: str, client: str) -> None:
    """A preflight from an origin on no live key's list: one warning line."""
    log.warning("tracking: refused CORS preflight from origin %s (client %s)", origin, client)


def query_write_key(query: str | bytes) -> str | None:
    """``writeKey`` from a query string (RudderStack's beacon batches carry it there)."""
    text = query.decode("latin-1") if isinstance(query, bytes) else query
    values = parse_qs(text).get("writeKey")
    return values[0] if values else None
