"""UTM links: the tagged URL a campaign's ads, emails and posts point to.

A touch lands on a campaign when the first message of its session carries the campaign's UTM key
(``utm_campaign``); its channel comes from ``utm_source`` / ``utm_medium`` by the tracking's own
rules (``domain.tracking.channel_for_event``). So a link is right when its key is the campaign's
and its source and medium map to the campaign's channel; `SUGGESTED` gives, per channel, a
source and medium the default rules map to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from onefunnel.domain.touches import Channel

#: A (source, medium) per channel that the default rules (`channel_for_utm`) map to it.
SUGGESTED: dict[Channel, tuple[str, str]] = {
    Channel.PAID_SEARCH: ("google", "cpc"),
    Channel.PAID_SOCIAL: ("linkedin", "paid_social"),
    Channel.SOCIAL: ("linkedin", "social"),
    Channel.EMAIL: ("newsletter", "email"),
    Channel.DISPLAY: ("display", "display"),
    Channel.ORGANIC_SEARCH: ("google", "organic"),
    Channel.REFERRAL: ("referral", "referral"),
    Channel.EVENTS: ("event", "event"),
    Channel.WEBINAR: ("webinar", "webinar"),
    Channel.CONTENT: ("content", "content"),
    Channel.PARTNER: ("partner", "partner"),
}
_UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_URL = 2000


class UtmLinkError(ValueError):
    """A link cannot be built; the message starts with the field (``url: …``)."""


@dataclass(frozen=True, slots=True)
class UtmLink:
    """A tagged URL and the tags it carries."""

    url: str
    source: str
    medium: str
    campaign: str
    content: str = ""
    term: str = ""


def build_link(
    url: str, *, source: str, medium: str, campaign: str, content: str = "", term: str = ""
) -> UtmLink:
    """The URL with its UTM tags set (existing UTM parameters are replaced, others kept).

    Only http(s) URLs with a host are accepted: a link is something a person clicks.
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UtmLinkError("url: an http(s) address with a host, e.g. https://example.com/page")
    tags = {"utm_source": source.strip(), "utm_medium": medium.strip(),
            "utm_campaign": campaign.strip(), "utm_term": term.strip(),
            "utm_content": content.strip()}  # fmt: skip
    for key in ("utm_source", "utm_medium", "utm_campaign"):
        if not tags[key]:
            raise UtmLinkError(f"{key.removeprefix('utm_')}: required")
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _UTM_KEYS]
    query = urlencode([*kept, *((k, v) for k, v in tags.items() if v)])
    built = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))
    if len(built) > MAX_URL:
        raise UtmLinkError(f"url: the tagged link is longer than {MAX_URL} characters")
    return UtmLink(built, tags["utm_source"], tags["utm_medium"], tags["utm_campaign"],
                   tags["utm_content"], tags["utm_term"])  # fmt: skip
