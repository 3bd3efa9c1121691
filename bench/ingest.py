"""Tracking ingestion throughput: Segment batches over HTTP vs a raw bulk insert of the same rows.

What it does, per database (SQLite always; PostgreSQL too when ``DATABASE_URL`` points at a
server whose user may create databases):

1. a fresh installation in a temporary home (``onefunnel init``), a write key
   (``onefunnel keys create``) and ``onefunnel serve --workers W`` on a loopback port;
2. ``--senders`` threads, each with its own keep-alive connection, post pre-built 100-message
   ``/v1/batch`` bodies (80 % anonymous page views, a third of them with UTM tags; 19 % track calls
   from a pool of known users; 1 % identify calls that merge an anonymous history) for
   ``--seconds``; a 429/503 is retried after its ``Retry-After``, as the SDKs do;
3. checks zero loss: every message sent is one touchpoint in the database;
4. inserts the same number of touchpoint rows straight through the database driver (100-row
   multi-row INSERTs, one transaction each, no HTTP, no parsing, no identity work) into a second
   fresh database: the practical limit of the storage engine on this machine.

It prints a table: events/s over HTTP, p50/p99 batch latency, retries, loss, raw insert rate,
and the ratio.

Run (from the repository root, with the virtualenv)::

    /work/venv/bin/python bench/ingest.py                       # SQLite only
    url=$(bash scripts/pg.sh start /tmp/pg-bench 55432)
    DATABASE_URL=$url /work/venv/bin/python bench/ingest.py      # SQLite and PostgreSQL
    bash scripts/pg.sh stop /tmp/pg-bench

Options: ``--seconds 20 --senders 8 --workers 2 --engines sqlite,postgresql``.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ONEFUNNEL = str(Path(sys.executable).with_name("onefunnel"))
BATCH = 100


@dataclass
class Install:
    home: Path
    env: dict[str, str]
    engine: str

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [ONEFUNNEL, *args], env=self.env, cwd=self.home, capture_output=True, text=True
        )
        if done.returncode:
            raise SystemExit(f"onefunnel {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def count(self, sql: str) -> int:
        if self.engine == "sqlite":
            with sqlite3.connect(self.home / "onefunnel.sqlite3") as conn:
                return int(conn.execute(sql).fetchone()[0])
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0


@contextmanager
def installation(engine: str) -> Iterator[Install]:
    with tempfile.TemporaryDirectory(prefix=f"bench-ingest-{engine}-") as home:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["ONEFUNNEL_HOME"] = home
        if engine == "sqlite":
            yield Install(Path(home), env, engine)
            return
        import psycopg
        from psycopg import sql

        admin = os.environ["DATABASE_URL"]
        name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        env["DATABASE_URL"] = admin.rsplit("/", 1)[0] + "/" + name
        try:
            yield Install(Path(home), env, engine)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _event(rng: random.Random, run: str, n: int, at: datetime) -> dict[str, Any]:
    base: dict[str, Any] = {
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": (at - timedelta(milliseconds=rng.randint(0, 2000))).isoformat(),
        "context": {"library": {"name": "bench", "version": "1"}},
    }
    roll = rng.random()
    if roll < 0.80:
        anon = f"{run}-anon-{rng.randrange(50_000)}"
        page = {"path": rng.choice(["/", "/blog/a", "/pricing", "/docs"]), "url": "https://x.io/"}
        base |= {"type": "page", "anonymousId": anon, "name": "Home"}
        base["context"]["page"] = page
        if rng.random() < 0.33:
            base["context"]["campaign"] = {
                "name": f"camp-{rng.randrange(40)}",
                "source": rng.choice(["google", "linkedin", "newsletter"]),
                "medium": rng.choice(["cpc", "email", "social"]),
            }
    elif roll < 0.99:
        user = f"user-{rng.randrange(2_000)}"
        event = rng.choice(["Pricing Viewed", "Webinar Registered", "Feature Used", "Signed In"])
        base |= {"type": "track", "userId": user, "event": event, "properties": {"plan": "pro"}}
    else:
        user = f"user-{rng.randrange(2_000)}"
        base |= {
            "type": "identify",
            "userId": user,
            "anonymousId": f"{run}-anon-{rng.randrange(50_000)}",
            "traits": {"email": f"{user}@bench.example", "firstName": "B"},
        }
    return base


def build_bodies(count: int, seed: int = 1) -> list[bytes]:
    """``count`` batch bodies of BATCH messages with unique message ids."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    start = datetime.now(UTC)
    bodies = []
    for b in range(count):
        # Messages of later batches happened later, as on a live site (times only ~2 s apart).
        now = start + timedelta(milliseconds=5 * b)
        events = [_event(rng, run, b * BATCH + i, now) for i in range(BATCH)]
        bodies.append(orjson.dumps({"batch": events, "sentAt": now.isoformat()}))
    return bodies


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    failures: int = 0
    sent_events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def sender(port: int, auth: str, bodies: list[bytes], deadline: float, load: Load) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": auth}
    for body in bodies:
        if time.monotonic() >= deadline:
            break
        while True:
            start = time.perf_counter()
            conn.request("POST", "/v1/batch", body, headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            if response.status in (429, 503):
                with load.lock:
                    load.retries += 1
                time.sleep(float(response.getheader("Retry-After") or 1))
                continue
            with load.lock:
                if response.status == 200:
                    load.latencies.append(elapsed)
                    load.sent_events += BATCH
                else:
                    load.failures += 1
            break
    conn.close()


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_run(engine: str, args: argparse.Namespace, bodies: list[bytes]) -> dict[str, Any]:
    with installation(engine) as inst:
        inst.run("init")
        key = inst.run("keys", "create", "--scope", "tracking:write", "--format", "json")
        secret = orjson.loads(key)["key"]
        auth = "Basic " + base64.b64encode(f"{secret}:".encode()).decode()
        port = free_port()
        proc = subprocess.Popen(
            [ONEFUNNEL, "serve", "--port", str(port), "--workers", str(args.workers)],
            env=inst.env | {"ONEFUNNEL_LOG_LEVEL": "WARNING"},
            cwd=inst.home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(port, proc)
            # warm-up: one batch per worker-ish so imports and connections are paid for
            sender(port, auth, bodies[: args.workers * 2], time.monotonic() + 30, Load())
            load = Load()
            shares = [bodies[args.workers * 2 + i :: args.senders] for i in range(args.senders)]
            deadline = time.monotonic() + args.seconds
            threads = [
                threading.Thread(target=sender, args=(port, auth, share, deadline, load))
                for share in shares
            ]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        stored = inst.count("SELECT COUNT(*) FROM onefunnel_touchpoint")
        expected = load.sent_events + args.workers * 2 * BATCH
        lat = sorted(load.latencies)
        return {
            "engine": engine,
            "events": load.sent_events,
            "seconds": wall,
            "rate": load.sent_events / wall,
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else float("nan"),
            "retries": load.retries,
            "failures": load.failures,
            "lost": expected - stored,
        }


def raw_rows(count: int) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    run = uuid.uuid4().hex[:8]
    props = orjson.dumps({"type": "page", "page": {"path": "/pricing"}}).decode()
    return [
        (f"raw-{run}-{i}", None, f"anon-{i % 50_000}", None, "page_view", "marketing", "direct",
         None, "google", "cpc", "", "", "", props, now, now)
        for i in range(count)
    ]  # fmt: skip


RAW_COLUMNS = (
    "message_id, contact_id, anonymous_id, account_id, kind, team, channel, campaign_id, "
    "utm_source, utm_medium, utm_campaign, utm_term, utm_content, properties, occurred_at, "
    "received_at"
)


def raw_run(engine: str, count: int) -> float:
    """Rows/s of a driver-level multi-row INSERT, 100 rows per transaction, into the same schema."""
    rows = raw_rows(count)
    with installation(engine) as inst:
        inst.run("init")
        one = "(" + ", ".join(["%s"] * 16) + ")"
        if engine == "sqlite":
            conn = sqlite3.connect(inst.home / "onefunnel.sqlite3", isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            sql = (
                f"INSERT INTO onefunnel_touchpoint ({RAW_COLUMNS}) VALUES "
                + ", ".join([one.replace("%s", "?")] * BATCH)
                + " ON CONFLICT (message_id) DO NOTHING"
            )
            start = time.perf_counter()
            for b in range(0, count, BATCH):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(sql, [v for row in rows[b : b + BATCH] for v in row])
                conn.execute("COMMIT")
            elapsed = time.perf_counter() - start
            conn.close()
        else:
            import psycopg

            sql = (
                f"INSERT INTO onefunnel_touchpoint ({RAW_COLUMNS}) VALUES "
                + ", ".join([one] * BATCH)
                + " ON CONFLICT (message_id) DO NOTHING"
            )
            with psycopg.connect(inst.env["DATABASE_URL"]) as pg:
                start = time.perf_counter()
                for b in range(0, count, BATCH):
                    with pg.transaction():
                        pg.execute(sql, [v for row in rows[b : b + BATCH] for v in row])
                elapsed = time.perf_counter() - start
        return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="")
    parser.add_argument("--raw-rows", type=int, default=200_000)
    args = parser.parse_args()
    engines = args.engines.split(",") if args.engines else ["sqlite"]
    if not args.engines and os.environ.get("DATABASE_URL"):
        engines.append("postgresql")
    bodies = build_bodies(int(args.seconds * 60_000 / BATCH) + 200)
    results = []
    for engine in engines:
        result = http_run(engine, args, bodies)
        result["raw_rate"] = raw_run(engine, args.raw_rows)
        results.append(result)
    header = (
        f"{'engine':<11} {'events':>9} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'retries':>7} {'failed':>6} {'lost':>5} {'raw rows/s':>10} {'http/raw':>8}"
    )
    print(f"{BATCH}-event batches, {args.senders} senders, {args.workers} server workers")
    print(header)
    for r in results:
        print(
            f"{r['engine']:<11} {r['events']:>9,} {r['rate']:>9,.0f} {r['p50_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['retries']:>7} {r['failures']:>6} {r['lost']:>5} "
            f"{r['raw_rate']:>10,.0f} {r['rate'] / r['raw_rate']:>8.2f}"
        )


if __name__ == "__main__":
    main()
