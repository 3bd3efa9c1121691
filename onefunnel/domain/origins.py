"""Web origins for browser write keys: what an origin is, and whether a request's may send.

A write key used from a web page is public by nature (anyone can read it in the page), so what
protects it is the list of origins it was created for: a browser sends the page's origin with
every cross-site request (``Origin: https://www.example.com``), and onefunnel answers a request
only when that origin is on the key's list. An origin is ``scheme://host[:port]``, compared in
its canonical form: lower case, no default port, no path.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

MAX_ORIGIN_LENGTH = 200
_DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginError(ValueError):
    """Text that is not a web origin."""


def normalise_origin(text: str) -> str:
    """The canonical form of an origin (``https://WWW.Example.com:443/`` →
    ``https://www.example.com``); raises :class:`OriginError` for anything else.

    A trailing ``/`` is forgiven (people paste URLs); a path, query, fragment, user name or
    wildcard is not, because a browser never sends one in ``Origin``.
    """
    raw = text.strip()
    if not raw or len(raw) > MAX_ORIGIN_LENGTH:
        raise OriginError(f"must be 1 to {MAX_ORIGIN_LENGTH} characters")
    if any(c.isspace() or c == "*" for c in raw):
        raise OriginError(f"{raw!r} is not an origin (no spaces or wildcards)")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise OriginError(f"{raw!r} is not an origin ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise OriginError(f"{raw!r}: the scheme must be http or https")
    if not parts.hostname:
        raise OriginError(f"{raw!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise OriginError(f"{raw!r}: an origin is scheme://host[:port], without a path")
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def normalise_origins(texts: Iterable[str]) -> tuple[str, ...]:
    """Several origins, canonical, without repeats, in the order given."""
    seen: dict[str, None] = {}
    for text in texts:
        seen.setdefault(normalise_origin(text), None)
    return tuple(seen)


def request_origin(header: str | None) -> str | None:
    """The canonical origin of a request's ``Origin`` header; None when it has none.

    A header that is not an origin (``null`` from a sandboxed frame or a ``file:`` page, or
    garbage) is returned as sent, so it matches no list and is reported as it came.
    """
    if header is None:
        return None
    try:
        return normalise_origin(header)
    except OriginError:
        return header.strip()[:MAX_ORIGIN_LENGTH]


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """Whether a request from ``origin`` may use a key with the ``allowed`` origins.

    A key without origins is a server key: it never answers a browser (a request with an
    ``Origin``). A key with origins is a browser key: it answers only those origins, and never
    a request without one — a browser always sends ``Origin`` on a cross-site ``POST``, so a
    request without it did not come from the pages the key was made for.
    """
    origins = tuple(allowed)
    if not origins:
        return origin is None
    return origin is not None and origin in origins
