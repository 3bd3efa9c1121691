"""The inbox processor outside the web workers: the loop ``serve`` runs in its own process, and
``onefunnel worker --tracking``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import orjson
import pytest
from typer.testing import CliRunner

from onefunnel.cli import app, commands, intent  # noqa: F401 (registers the commands)
from onefunnel.models import Touchpoint
from onefunnel.services.tracking_inbound import Received, accept, pending
from onefunnel.services.tracking_writer import serve_inbox

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _accept(*mids: str) -> None:
    messages = [{"type": "page", "messageId": m, "anonymousId": "anon-p"} for m in mids]
    body = orjson.dumps({"batch": messages})
    accept([Received(body, False, None, NOW, len(messages))])


def test_the_processor_loop_expands_every_batch_and_stops_when_told() -> None:
    _accept("p-1", "p-2")
    _accept("p-3")
    stop = threading.Event()
    # alive() is asked before each turn: the loop ends once the inbox is empty
    assert serve_inbox(stop, alive=lambda: pending() > 0) == 2
    assert sorted(Touchpoint.objects.values_list("message_id", flat=True)) == ["p-1", "p-2", "p-3"]
    _accept("p-4")
    stop.set()
    assert serve_inbox(stop) == 0
    assert pending() == 1


def test_worker_tracking_once_drains_the_inbox() -> None:
    _accept("w-1", "w-2")
    result = CliRunner().invoke(app, ["worker", "--once", "--tracking"])
    assert result.exit_code == 0, result.output
    assert "tracking batches expanded 1" in result.output
    assert (pending(), Touchpoint.objects.count()) == (0, 2)


def test_serve_help_documents_where_the_inbox_is_expanded() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--no-processor" in result.output
