"""UTM links: tags set (replacing old ones, keeping other parameters), bad input named, and every
suggested source/medium maps to its channel under the tracking's default rules."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.touches import Utm
from onefunnel.domain.tracking import EventType, TouchRules, TrackingEvent, channel_for_event
from onefunnel.domain.utm_links import MAX_URL, SUGGESTED, UtmLinkError, build_link


def test_tags_are_set_and_other_parameters_kept() -> None:
    link = build_link("https://example.com/p?ref=x&utm_source=old#top", source="google",
                      medium="cpc", campaign="spring search")  # fmt: skip
    parts = urlsplit(link.url)
    assert parts.fragment == "top"
    assert parse_qsl(parts.query) == [("ref", "x"), ("utm_source", "google"),
                                      ("utm_medium", "cpc"), ("utm_campaign", "spring search")]  # fmt: skip


@pytest.mark.parametrize(
    ("url", "source", "medium", "field"),
    [
        ("javascript:alert(1)", "a", "b", "url"),
        ("example.com", "a", "b", "url"),
        ("https://example.com", "", "b", "source"),
        ("https://example.com", "a", " ", "medium"),
        ("https://example.com/" + "x" * MAX_URL, "a", "b", "url"),
    ],
)
def test_bad_input_names_the_field(url: str, source: str, medium: str, field: str) -> None:
    with pytest.raises(UtmLinkError, match=f"^{field}: "):
        build_link(url, source=source, medium=medium, campaign="c")


def test_each_suggestion_lands_in_its_channel() -> None:
    for channel, (source, medium) in SUGGESTED.items():
        event = TrackingEvent(EventType.PAGE, "m", None, "a", datetime.now(UTC),
                              utm=Utm(source=source, medium=medium, campaign="c"))  # fmt: skip
        assert channel_for_event(event, TouchRules()) is channel


@given(st.text(min_size=1, max_size=40).filter(str.strip))
def test_the_campaign_key_survives_the_round_trip(key: str) -> None:
    link = build_link("https://example.com", source="s", medium="m", campaign=key)
    assert dict(parse_qsl(urlsplit(link.url).query))["utm_campaign"] == key.strip()
