"""Outbound webhooks delivered to a real HTTP receiver on loopback, verified with the
``standardwebhooks`` package; failures retried with backoff and logged."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import (  # type: ignore[import-untyped,unused-ignore]
    Webhook,
    WebhookVerificationError,
)

from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, WebhookDelivery
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch
from onefunnel.services.webhooks import (
    MAX_ATTEMPTS,
    add_endpoint,
    deliver_due,
    delivery_log,
    retry_delay,
    sign,
)
from onefunnel.services.worker import run_once

pytestmark = pytest.mark.django_db


class Receiver:
    """A loopback HTTP server that records requests and answers with scripted status codes."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def _hand_raise(contact: Contact) -> None:
    record_touch(
        TouchInput(
            message_id=f"hr-{contact.pk}",
            kind=TouchKind.HAND_RAISE,
            occurred_at=timezone.now(),
            contact_id=contact.pk,
        )
    )


def test_a_created_handoff_is_delivered_signed_and_verifiable(
    receiver: Receiver, make_contact: Callable[..., Contact]
) -> None:
    set_rep("ana", create_user=True)
    endpoint = add_endpoint(receiver.url, events=["handoff.created"])
    assert endpoint.secret is not None
    contact = make_contact()
    _hand_raise(contact)
    results = run_once().delivered
    assert results == 1
    ((headers, body),) = receiver.requests
    payload = Webhook(endpoint.secret).verify(body, headers)
    assert payload["type"] == "handoff.created"
    assert payload["data"]["contact_id"] == contact.pk
    assert payload["data"]["owner"] == "ana"
    assert headers["webhook-id"].startswith("msg_")
    # A tampered body fails verification: the signature covers it.
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(body.replace(b"ana", b"eve"), headers)
    log = delivery_log()
    assert log[0].status == "delivered"
    assert log[0].attempts == 1
    assert log[0].status_code == 204
    assert run_once().delivered == 0  # delivered once, never again


def test_failures_are_retried_with_backoff_then_given_up(
    receiver: Receiver, make_contact: Callable[..., Contact]
) -> None:
    endpoint = add_endpoint(receiver.url)
    assert endpoint.secret is not None
    receiver.statuses = [500, 503]
    _hand_raise(make_contact())
    now = timezone.now()
    (first,) = deliver_due(now=now)
    assert first.status == "pending"
    assert first.status_code == 500
    row = WebhookDelivery.objects.get()
    assert row.next_attempt_at == now + timedelta(seconds=30)
    assert deliver_due(now=now + timedelta(seconds=29)) == []  # not due yet
    (second,) = deliver_due(now=now + timedelta(seconds=30))
    assert second.status_code == 503
    row.refresh_from_db()
    assert row.next_attempt_at == now + timedelta(seconds=30) + timedelta(minutes=2)
    (third,) = deliver_due(now=now + timedelta(minutes=3))
    assert third.status == "delivered"
    ids = {headers["webhook-id"] for headers, _ in receiver.requests}
    assert len(ids) == 1  # the same message id on every retry
    headers, body = receiver.requests[-1]
    Webhook(endpoint.secret).verify(body, headers)


def test_an_unreachable_endpoint_fails_after_the_last_attempt(
    make_contact: Callable[..., Contact],
) -> None:
    with Receiver() as closed:
        url = closed.url
    add_endpoint(url)
    _hand_raise(make_contact())
    moment = timezone.now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (result,) = deliver_due(now=moment)
        assert result.status_code is None
        assert "Error" in result.error
        if attempt < MAX_ATTEMPTS:
            assert result.status == "pending"
            moment += retry_delay(attempt)
    assert result.status == "failed"
    assert WebhookDelivery.objects.get().attempts == MAX_ATTEMPTS
    assert deliver_due(now=moment + timedelta(days=30)) == []


def test_signature_matches_the_specs_example() -> None:
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_bad_endpoints_are_refused(db: None) -> None:
    from onefunnel.services.errors import InputError

    with pytest.raises(InputError, match="url"):
        add_endpoint("ftp://example.com/x")
    with pytest.raises(InputError, match=r"events: unknown event 'deal\.won'"):
        add_endpoint("http://127.0.0.1:1/x", events=["deal.won"])
    with pytest.raises(InputError, match="secret"):
        add_endpoint("http://127.0.0.1:1/x", secret="not-a-secret")
