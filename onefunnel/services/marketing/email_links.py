"""The links in a sent email — unsubscribe, open pixel, tracked click — each carrying a token
signed with the installation's secret (``django.core.signing``), so nobody can forge one for
another send or point a click at another address: a tampered token is refused."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

_UNSUBSCRIBE = "onefunnel.email.unsubscribe"
_OPEN = "onefunnel.email.open"
_CLICK = "onefunnel.email.click"

MAX_URL = 2000


class BadLinkError(ValueError):
    """A token whose signature does not hold (tampered, or from another installation)."""


def _base() -> str:
    return str(settings.ONEFUNNEL_PUBLIC_URL).rstrip("/")


def unsubscribe_url(send_id: int) -> str:
    """The one-click unsubscribe link of a send (GET shows a confirm page, POST unsubscribes)."""
    return f"{_base()}/email/unsubscribe/{signing.dumps(send_id, salt=_UNSUBSCRIBE)}"


def open_url(send_id: int) -> str:
    """The 1x1 pixel of a send."""
    return f"{_base()}/email/open/{signing.dumps(send_id, salt=_OPEN)}"


def click_url(send_id: int, target: str) -> str:
    """A link that records the click of ``target`` in this send, then redirects to it."""
    return f"{_base()}/email/click/{signing.dumps([send_id, target], salt=_CLICK)}"


def _load(token: str, salt: str) -> object:
    try:
        return signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise BadLinkError("token: not a valid link") from None


def read_unsubscribe(token: str) -> int:
    """The send id of an unsubscribe token (BadLinkError if tampered)."""
    value = _load(token, _UNSUBSCRIBE)
    if not isinstance(value, int):
        raise BadLinkError("token: not a valid link")
    return value


def read_open(token: str) -> int:
    """The send id of a pixel token (BadLinkError if tampered)."""
    value = _load(token, _OPEN)
    if not isinstance(value, int):
        raise BadLinkError("token: not a valid link")
    return value


@dataclass(frozen=True, slots=True)
class Click:
    """A verified click: which send, and where to."""

    send_id: int
    target: str


def read_click(token: str) -> Click:
    """The send and target of a click token (BadLinkError if tampered or not http(s))."""
    value = _load(token, _CLICK)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
        or not value[1].startswith(("https://", "http://"))
    ):
        raise BadLinkError("token: not a valid link")
    return Click(value[0], value[1])


_HREF = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_BARE_URL = re.compile(r"https?://[^\s<>\"')\]]+")


def track_html(body: str, send_id: int, *, keep: str) -> str:
    """Every http(s) ``href`` of an HTML part sent through a tracked click link (except
    ``keep``, the unsubscribe link)."""

    def swap(match: re.Match[str]) -> str:
        target = html.unescape(match.group(3))
        if target == keep or len(target) > MAX_URL:
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{html.escape(click_url(send_id, target))}{quote}"

    return _HREF.sub(swap, body)


def track_text(body: str, send_id: int, *, keep: str) -> str:
    """Every bare http(s) URL of a plain-text part sent through a tracked click link."""

    def swap(match: re.Match[str]) -> str:
        target = match.group(0)
        if target == keep or len(target) > MAX_URL:
            return target
        return click_url(send_id, target)

    return _BARE_URL.sub(swap, body)
