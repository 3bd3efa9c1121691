"""Web origins of browser write keys: the canonical form, and who may send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onefunnel.domain.origins import (
    OriginError,
    normalise_origin,
    normalise_origins,
    origin_allowed,
    request_origin,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("https://www.example.com", "https://www.example.com"),
        ("https://WWW.Example.COM/", "https://www.example.com"),
        ("HTTPS://www.example.com:443", "https://www.example.com"),
        ("http://www.example.com:80/", "http://www.example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://www.example.com:8443", "https://www.example.com:8443"),
        ("  https://shop.example.com  ", "https://shop.example.com"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origins_are_compared_in_their_canonical_form(text: str, canonical: str) -> None:
    assert normalise_origin(text) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "www.example.com",  # no scheme
        "ftp://example.com",
        "https://",
        "https://www.example.com/pricing",  # a URL, not an origin
        "https://www.example.com/?a=1",
        "https://www.example.com/#top",
        "https://user@www.example.com",
        "https://*.example.com",
        "https://www.example.com:99999",
        "https://exa mple.com",
        "null",
        "https://" + "a" * 300 + ".com",
    ],
)
def test_anything_but_an_origin_is_refused(text: str) -> None:
    with pytest.raises(OriginError):
        normalise_origin(text)


def test_several_origins_keep_their_order_without_repeats() -> None:
    assert normalise_origins(
        ["https://b.example.com", "https://A.example.com/", "https://b.example.com:443"]
    ) == ("https://b.example.com", "https://a.example.com")


def test_a_server_key_answers_no_browser_and_a_browser_key_only_its_origins() -> None:
    site = ("https://www.example.com",)
    assert origin_allowed(None, ())  # a server, with a server key
    assert not origin_allowed("https://www.example.com", ())  # a page, with a server key
    assert origin_allowed("https://www.example.com", site)
    assert not origin_allowed("https://evil.example.net", site)
    assert not origin_allowed(None, site)  # a browser key from no page (curl)
    assert not origin_allowed("null", site)


def test_a_request_origin_that_is_no_origin_matches_nothing() -> None:
    assert request_origin(None) is None
    assert request_origin("https://WWW.example.com") == "https://www.example.com"
    assert request_origin("null") == "null"
    assert request_origin("x" * 500) == "x" * 200


_hosts = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True)


@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
    host=_hosts,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    slash=st.booleans(),
)
def test_the_canonical_form_is_stable_and_case_blind(
    scheme: str, host: str, port: int | None, slash: bool
) -> None:
    text = f"{scheme}://{host.upper()}{'' if port is None else f':{port}'}{'/' if slash else ''}"
    canonical = normalise_origin(text)
    assert normalise_origin(canonical) == canonical
    assert canonical == canonical.lower()
    assert canonical.startswith(scheme.lower() + "://" + host)
    assert origin_allowed(request_origin(text), (canonical,))
