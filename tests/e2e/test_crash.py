"""Crashes: ``kill -9`` of the server and its tracking processor under load, and of an import
half-way, on SQLite and PostgreSQL. Nothing acknowledged is lost, nothing is stored twice.

The senders behave as the Segment SDKs do: a batch whose request failed or was not answered
``200`` is sent again, whole, until it is; and since an acknowledgement can be lost on the way
back, some acknowledged batches are sent again too. The server process group (uvicorn and the
processor process it supervises) is killed with SIGKILL in the middle of the load — no
shutdown handler runs — then started again. See docs/RELIABILITY.md for the numbers.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import ONEFUNNEL, Install
from tests.e2e.servers import free_port, wait_for

pytestmark = pytest.mark.slow

SENDERS = 4
BATCH = 50
PAUSE = 0.01  # between a sender's batches: a sustained load the processor can drain quickly
LOAD_SECONDS = 2.0  # of load per life of the server
KILL_AFTER = 1.0  # seconds into the load
LIVES = 3  # the server is killed in the first two and lives through the third
RESEND_ACKNOWLEDGED = 0.2  # share of acknowledged batches sent again (lost acknowledgements)


@dataclass
class Ledger:
    """What the senders sent and what the server acknowledged, by batch."""

    batches: dict[str, list[str]] = field(default_factory=dict)  # batch id -> message ids
    acknowledged: set[str] = field(default_factory=set)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self, batch_ids: set[str] | None = None) -> set[str]:
        ids = self.batches.keys() if batch_ids is None else batch_ids
        return {m for b in ids for m in self.batches[b]}


def _body(batch_id: str, sender: int, n: int) -> tuple[list[str], bytes]:
    """A batch of ``track`` and ``page`` messages (touches, whatever identify becomes)."""
    now = datetime.now(UTC).isoformat()
    ids = [f"{batch_id}-{i}" for i in range(BATCH)]
    messages: list[dict[str, Any]] = []
    for i, message_id in enumerate(ids):
        common = {"messageId": message_id, "anonymousId": f"a-{sender}-{(n + i) % 40}"}
        if i % 2:
            messages.append({**common, "type": "track", "event": "Viewed", "timestamp": now})
        else:
            messages.append(
                {**common, "type": "page", "name": "Pricing", "timestamp": now,
                 "context": {"campaign": {"name": "crash-test", "source": "g", "medium": "cpc"}}}
            )  # fmt: skip
    return ids, orjson.dumps({"batch": messages})


def _post(client: httpx.Client, base: str, auth: str, body: bytes) -> bool:
    """One attempt; True only for a 200 (anything else, or no answer, is sent again)."""
    try:
        response = client.post(
            f"{base}/v1/batch",
            content=body,
            headers={"Authorization": auth, "Content-Type": "application/json"},
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _sender(
    sender: int, life: int, base: str, auth: str, ledger: Ledger, stop: threading.Event
) -> None:
    """Send new batches until ``stop``; a batch not acknowledged is retried (after a pause),
    as an SDK does, and left unacknowledged if the load ends first."""
    with httpx.Client(timeout=10) as client:
        n = 0
        while not stop.is_set():
            batch_id = f"L{life}-S{sender}-B{n}"
            ids, body = _body(batch_id, sender, n)
            with ledger.lock:
                ledger.batches[batch_id] = ids
            while not stop.is_set():
                with ledger.lock:
                    ledger.attempts += 1
                if _post(client, base, auth, body):
                    with ledger.lock:
                        ledger.acknowledged.add(batch_id)
                    break
                time.sleep(0.1)
            n += 1
            time.sleep(PAUSE)


@dataclass
class Server:
    install: Install
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # A session of its own: the server, its workers and its processor are one process
        # group, killed together.
        self.proc = subprocess.Popen(
            [ONEFUNNEL, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.install.home,
            env=self.install.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: httpx.get(f"{self.base}/api/health").status_code == 200, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


def _inbox(install: Install) -> int:
    """Batches waiting in the tracking inbox (failed ones included)."""
    if install.engine != "sqlite":
        return int(install.query("SELECT COUNT(*) FROM onefunnel_inboundbatch")[0][0])
    path = install.home / "onefunnel.sqlite3-inbox.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=20) as db:
        return int(db.execute("SELECT COUNT(*) FROM inbound_batch").fetchone()[0])


@contextmanager
def _serving(install: Install) -> Iterator[Server]:
    server = Server(install, free_port())
    try:
        yield server
    finally:
        server.stop()


def _report(name: str, **numbers: object) -> None:
    """One line of measurements, on stdout (`pytest -s`) and appended to a file when asked."""
    line = json.dumps({"test": name, **numbers})
    print(line)
    if out := os.environ.get("ONEFUNNEL_RELIABILITY_LOG"):
        with open(out, "a") as handle:
            handle.write(line + "\n")


def test_kill_9_under_load_loses_and_duplicates_nothing(install: Install) -> None:
    install.run("init")
    key = json.loads(
        install.run("keys", "create", "--scope", "tracking:write", "--format", "json").stdout
    )["key"]
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    ledger = Ledger()
    rng = random.Random(13)
    kills = 0
    load_seconds = 0.0
    with _serving(install) as server:
        for life in range(LIVES):
            server.start()
            stop = threading.Event()
            senders = [
                threading.Thread(
                    target=_sender, args=(s, life, server.base, auth, ledger, stop), daemon=True
                )
                for s in range(SENDERS)
            ]
            started = time.monotonic()
            for t in senders:
                t.start()
            if life < LIVES - 1:
                time.sleep(KILL_AFTER)
                server.kill()  # mid-load: requests in flight, a processor turn under way
                kills += 1
                time.sleep(LOAD_SECONDS - KILL_AFTER)  # senders meet a dead server
            else:
                time.sleep(LOAD_SECONDS)
            stop.set()
            for t in senders:
                t.join(timeout=30)
            load_seconds += time.monotonic() - started

        # The server is up (third life). Resend, as an SDK does, every batch not acknowledged,
        # and some that were (their acknowledgement may have been lost on the way back).
        acknowledged_before = set(ledger.acknowledged)
        unacknowledged = set(ledger.batches) - acknowledged_before
        again = rng.sample(
            sorted(acknowledged_before), int(len(acknowledged_before) * RESEND_ACKNOWLEDGED)
        )
        with httpx.Client(timeout=10) as client:
            for batch_id in sorted(unacknowledged) + again:
                life, sender, n = batch_id.split("-")
                ids, body = _body(batch_id, int(sender[1:]), int(n[1:]))
                assert ids == ledger.batches[batch_id]
                for _attempt in range(50):
                    if _post(client, server.base, auth, body):
                        ledger.acknowledged.add(batch_id)
                        break
                    time.sleep(0.2)
        assert ledger.acknowledged == set(ledger.batches)  # every batch acknowledged at last

        drain_started = time.monotonic()
        wait_for(lambda: _inbox(install) == 0, server.proc, timeout=120)  # type: ignore[arg-type]
        drain_seconds = time.monotonic() - drain_started

    stored = install.query("SELECT message_id, COUNT(*) FROM onefunnel_touchpoint GROUP BY 1")
    counts = dict(stored)
    sent = ledger.messages()
    lost = sent - counts.keys()
    twice = {m for m, c in counts.items() if c != 1}
    acknowledged_first_time = ledger.messages(acknowledged_before)
    _report(
        "kill -9 under load",
        engine=install.engine,
        senders=SENDERS,
        batch=BATCH,
        kills=kills,
        load_seconds=round(load_seconds, 1),
        batches=len(ledger.batches),
        requests_during_load=ledger.attempts,
        messages=len(sent),
        acknowledged_during_load=len(acknowledged_first_time),
        acknowledged_per_second=round(len(acknowledged_first_time) / load_seconds),
        resent_unacknowledged_batches=len(unacknowledged),
        resent_acknowledged_batches=len(again),
        drain_seconds=round(drain_seconds, 1),
        touchpoints=sum(counts.values()),
        lost=len(lost),
        duplicated=len(twice),
    )
    assert kills == LIVES - 1
    assert unacknowledged, "the kills should have caught some batches in flight"
    assert acknowledged_first_time <= counts.keys()
    assert not lost
    assert not twice
    assert counts.keys() == sent  # and nothing that was never sent


IMPORT_ROWS = 40_000  # two chunks of the import's 25,000 rows


def _contacts_file(path: Path) -> Path:
    stages = ["", "awareness", "consideration", "intent", "nurture", "disqualified"]
    reasons = {"nurture": "not_now", "disqualified": "bad_fit"}
    rng = random.Random(5)
    with path.open("w") as handle:
        handle.write("email,first_name,last_name,company,domain,stage,reason,channel,created_at\n")
        for i in range(IMPORT_ROWS):
            stage = rng.choice(stages)
            handle.write(
                f"p{i}@c{i % 900}.example,First{i},Last{i},Company {i % 900},c{i % 900}.example,"
                f"{stage},{reasons.get(stage, '')},{rng.choice(['email', 'events', ''])},"
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}\n"
            )
    return path


def _count(install: Install) -> int:
    try:
        return int(install.query("SELECT COUNT(*) FROM onefunnel_contact")[0][0])
    except Exception:  # locked, or not created yet: look again
        return 0


_CONTACTS = (
    "SELECT c.email, c.first_name, c.last_name, c.stage, a.domain, "
    "(SELECT COUNT(*) FROM onefunnel_stagechange s WHERE s.contact_id = c.id) "
    "FROM onefunnel_contact c LEFT JOIN onefunnel_account a ON a.id = c.account_id "
    "ORDER BY c.email"
)


def test_an_import_killed_half_way_and_run_again_equals_a_clean_import(
    install: Install, tmp_path: Path
) -> None:
    csv_file = _contacts_file(tmp_path / "contacts.csv")
    args = ["import", "contacts", str(csv_file), "--from", "generic", "--format", "json"]
    install.run("init")
    kills = 0
    seen_at_kill: list[int] = []
    for _ in range(2):  # killed twice, at different points
        proc = subprocess.Popen(
            [ONEFUNNEL, *args],
            cwd=install.home,
            env=install.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the import and the reader process it may start
        )
        # The first run is killed while writing its second chunk (the import commits 25,000
        # rows at a time); the re-run a second into its work, while it reads the first again.
        deadline = time.monotonic() + (120 if kills == 0 else 1.0)
        while time.monotonic() < deadline and proc.poll() is None:
            if kills == 0 and _count(install) >= 25_000:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the import ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        seen_at_kill.append(_count(install))
    assert 0 < seen_at_kill[0] < IMPORT_ROWS
    started = time.monotonic()
    rerun = json.loads(install.run(*args).stdout)
    rerun_seconds = time.monotonic() - started
    assert not rerun["rejects"]
    crashed = install.query(_CONTACTS)

    # The clean import, into a new SQLite database (the same rows on either engine: the
    # columns compared are the record's, not an engine's).
    clean_home = tmp_path / "clean"
    clean_home.mkdir()
    env = {k: v for k, v in install.env.items() if k != "DATABASE_URL"}
    clean = Install(clean_home, env | {"ONEFUNNEL_HOME": str(clean_home)}, "sqlite")
    clean.run("init")
    clean.run(*args)
    expected = clean.query(_CONTACTS)
    _report(
        "import killed and re-run",
        engine=install.engine,
        rows=IMPORT_ROWS,
        kills=kills,
        contacts_at_each_kill=seen_at_kill,
        rerun_seconds=round(rerun_seconds, 1),
        contacts=len(crashed),
        differing_from_clean=len(set(crashed) ^ set(expected)),
    )
    assert len(crashed) == IMPORT_ROWS
    assert crashed == expected
