"""Rate limits and the consent record behind a load balancer: with the balancer trusted
(``ONEFUNNEL_TRUSTED_PROXIES``) each visitor counts on its own; a visitor talking to us directly
cannot escape its limit by sending its own X-Forwarded-For."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from django.test import Client

from onefunnel.models import FormSubmission
from tests.integration.test_forms import PERSON, _fresh_rate_limits, make_form, marketer
from tests.integration.test_tracking_asgi import _call
from tests.integration.test_tracking_browser import SITE, _basic, _fresh, _headers, _segment, key

__all__ = ["_fresh", "_fresh_rate_limits", "key", "make_form", "marketer"]

LB = "10.0.0.2"


def _submit(client: Client, email: str, forwarded: str) -> int:
    return int(
        client.post(
            "/f/contact/submit",
            {**PERSON, "email": email},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code
    )


@pytest.mark.django_db
def test_form_limits_count_each_visitor_behind_a_trusted_proxy(
    make_form: Callable[..., Any], settings: Any
) -> None:
    settings.ONEFUNNEL_FORMS_RATE = "2/m"
    settings.ONEFUNNEL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    make_form()
    balancer = Client(REMOTE_ADDR=LB)
    first = [_submit(balancer, f"a{i}@example.com", "203.0.113.7") for i in range(3)]
    assert first == [200, 200, 429]
    assert _submit(balancer, "b@example.com", "198.51.100.9") == 200  # another visitor
    ips = sorted({s.ip for s in FormSubmission.objects.all()})
    assert ips == ["198.51.100.9", "203.0.113.7"]  # the consent record: the visitor's address


@pytest.mark.django_db
def test_a_spoofed_forwarded_header_does_not_escape_the_form_limit(
    make_form: Callable[..., Any], settings: Any
) -> None:
    settings.ONEFUNNEL_FORMS_RATE = "2/m"
    settings.ONEFUNNEL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    make_form()
    direct = Client(REMOTE_ADDR="198.51.100.4")
    codes = [_submit(direct, f"s{i}@example.com", f"203.0.113.{i}") for i in range(3)]
    assert codes == [200, 200, 429]
    assert {s.ip for s in FormSubmission.objects.all()} == {"198.51.100.4"}


@pytest.mark.django_db(transaction=True)
def test_tracking_limits_count_each_visitor_behind_a_trusted_proxy(key: str, settings: Any) -> None:
    settings.ONEFUNNEL_TRACKING_RATE_PER_IP = "2/m"
    settings.ONEFUNNEL_TRUSTED_PROXIES = ["10.0.0.0/8"]
    body = orjson.dumps(_segment("page", "p", key))

    def send(peer: str, forwarded: str) -> int:
        headers = _headers(SITE, _basic(key), (b"x-forwarded-for", forwarded.encode()))
        return _call("POST", "/v1/p", body, headers=headers, client=peer)[0]

    assert [send(LB, "203.0.113.7") for _ in range(3)] == [200, 200, 429]
    assert send(LB, "198.51.100.9") == 200
    # Directly, a made-up header changes nothing: the peer is counted.
    assert [send("198.51.100.4", f"203.0.113.{n}") for n in range(3)] == [200, 200, 429]
