"""The client's address behind proxies (onefunnel.client_address): X-Forwarded-For is believed
only from a trusted proxy, and then only its right-most untrusted address."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from onefunnel.client_address import client_ip

LB = "10.0.0.2"


def _ip(peer: str, forwarded: str | None = None) -> str:
    extra = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **extra))


def test_with_no_trusted_proxy_the_peer_is_the_client_whatever_the_headers(settings: Any) -> None:
    settings.ONEFUNNEL_TRUSTED_PROXIES = []
    assert _ip("198.51.100.4") == "198.51.100.4"
    assert _ip("198.51.100.4", "203.0.113.9") == "198.51.100.4"
    assert _ip(LB, "203.0.113.9") == LB


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(settings: Any) -> None:
    settings.ONEFUNNEL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert _ip("198.51.100.4", "203.0.113.9") == "198.51.100.4"
    assert _ip("198.51.100.4", "10.0.0.7") == "198.51.100.4"


def test_from_a_trusted_proxy_the_client_address_is_used(settings: Any) -> None:
    settings.ONEFUNNEL_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.10"]
    assert _ip(LB, "203.0.113.9") == "203.0.113.9"
    assert _ip("192.0.2.10", "203.0.113.9") == "203.0.113.9"
    # The client wrote the left part itself: only the address our proxy appended counts.
    assert _ip(LB, "1.2.3.4, 203.0.113.9") == "203.0.113.9"
    assert _ip(LB, "not-an-ip, 203.0.113.9") == "203.0.113.9"
    # Two of our proxies in a row (a CDN edge inside 10/8, then the load balancer).
    assert _ip(LB, "203.0.113.9, 10.1.2.3") == "203.0.113.9"
    # IPv6 clients, with and without a port.
    assert _ip(LB, "2001:db8::1") == "2001:db8::1"
    assert _ip(LB, "[2001:db8::1]:4711") == "2001:db8::1"
    # No header, or nothing usable in it: the proxy itself.
    assert _ip(LB) == LB
    assert _ip(LB, "garbage") == LB


def test_a_comma_separated_setting_and_a_bad_entry(settings: Any) -> None:
    settings.ONEFUNNEL_TRUSTED_PROXIES = "10.0.0.2, 10.0.0.3"
    assert _ip("10.0.0.3", "203.0.113.9") == "203.0.113.9"
    settings.ONEFUNNEL_TRUSTED_PROXIES = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured, match="ONEFUNNEL_TRUSTED_PROXIES"):
        _ip(LB, "203.0.113.9")
