"""Tracking ingestion throughput: Segment batches over HTTP vs a raw bulk insert of the same rows.

What it does, per database (SQLite always; PostgreSQL too when ``DATABASE_URL`` points at a
server whose user may create databases):

1. a fresh installation in a temporary home (``onefunnel init``), a write key
   (``onefunnel keys create``) and ``onefunnel serve --workers W`` on a loopback port;
2. ``--senders`` processes, each a tiny asyncio client holding ``--connections`` keep-alive
   connections, post pre-built, pre-gzipped 100-message ``/v1/batch`` bodies (80 % anonymous
   page views, a third of them with UTM tags; 19 % track calls from a pool of known users; 1 %
   identify calls that merge an anonymous history) for ``--seconds``; a 429/503 is retried after
   its ``Retry-After``, as the SDKs do. The senders are cheap on purpose (their CPU time is
   reported) so that they do not take the CPU the server needs;
3. the server acknowledges a batch once it is committed to the tracking inbox and expands it
   into touchpoints afterwards, in the processor process ``serve`` starts beside its web
   workers (:mod:`onefunnel.services.tracking_inbound`): so the bench
   reports the *accepted* rate (acknowledged messages per second of sending) and, separately,
   the *materialised* rate (touchpoints stored per second from the start of sending until the
   inbox is empty) and the *lag* (how long after the last acknowledgement the last touchpoint
   appeared). It waits for the inbox to drain (at most ``--drain-seconds``) and only then
   checks zero loss: every message acknowledged is one touchpoint in the database (or, for
   an identify, one applied profile message: profile messages are not touches);
4. reads back the touchpoint rows the HTTP run stored and inserts exactly those rows straight
   through the database driver (100-row multi-row INSERTs, no HTTP, no parsing, no identity
   work, no foreign-key checks since the raw database has no contacts) into fresh databases,
   twice: one transaction per 100 rows (each batch durable on its own, as a 200 requires) and
   10,000 rows per transaction (a bulk load; COPY on PostgreSQL): the practical limits of the
   storage engine on this machine for those rows.

It prints a table: accepted and materialised events/s, lag, p50/p99 batch latency (time to the
acknowledgement), retries, loss, the server's and the senders' CPU time, raw insert rate and
the ratios to both, with the load average of the machine.

Run (from the repository root, with the virtualenv)::

    /work/venv/bin/python bench/ingest.py                       # SQLite only
    url=$(PG_DURABLE=1 bash scripts/pg.sh start /tmp/pg-bench 55432)   # fsync on, as in production
    DATABASE_URL=$url /work/venv/bin/python bench/ingest.py      # SQLite and PostgreSQL
    bash scripts/pg.sh stop /tmp/pg-bench

Options: ``--seconds 15 --senders 2 --connections 8 --workers 2 --engines sqlite,postgresql
--drain-seconds 600``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import http.client
import multiprocessing
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
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
        rows = self.query(sql)
        return int(rows[0][0]) if rows else 0

    def inbox(self, where: str) -> int:
        """Messages in the tracking inbox: a table on PostgreSQL, a file beside SQLite's."""
        if self.engine != "sqlite":
            return self.count(
                f"SELECT COALESCE(SUM(events), 0) FROM onefunnel_inboundbatch {where}"
            )
        path = self.home / "onefunnel.sqlite3-inbox.sqlite3"
        if not path.exists():
            return 0
        with sqlite3.connect(path) as conn:
            sql = f"SELECT COALESCE(SUM(events), 0) FROM inbound_batch {where}"
            return int(conn.execute(sql).fetchone()[0])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.engine == "sqlite":
            with sqlite3.connect(self.home / "onefunnel.sqlite3") as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return conn.execute(sql).fetchall()


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
    """``count`` gzipped batch bodies of BATCH messages with unique message ids."""
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    start = datetime.now(UTC)
    bodies = []
    for b in range(count):
        # Messages of later batches happened later, as on a live site (times only ~2 s apart).
        now = start + timedelta(milliseconds=5 * b)
        events = [_event(rng, run, b * BATCH + i, now) for i in range(BATCH)]
        raw = orjson.dumps({"batch": events, "sentAt": now.isoformat()})
        bodies.append(gzip.compress(raw, compresslevel=6, mtime=0))
    return bodies


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    failures: int = 0
    sent_events: int = 0
    cpu_seconds: float = 0.0

    def add(self, other: Load) -> None:
        self.latencies += other.latencies
        self.retries += other.retries
        self.failures += other.failures
        self.sent_events += other.sent_events
        self.cpu_seconds += other.cpu_seconds


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _connection(
    port: int, auth: str, bodies: Sequence[bytes], deadline: float, load: Load
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Encoding: gzip\r\nAuthorization: {auth}\r\nContent-Length: "
    ).encode()
    for body in bodies:
        if time.monotonic() >= deadline:
            break
        while True:
            start = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status, headers, _ = await _read_response(reader)
            elapsed = time.perf_counter() - start
            if status in (429, 503):
                load.retries += 1
                await asyncio.sleep(float(headers.get("retry-after") or 1))
                continue
            if status == 200:
                load.latencies.append(elapsed)
                load.sent_events += BATCH
            else:
                load.failures += 1
            break
    writer.close()


def _sender(
    port: int, auth: str, shares: list[Sequence[bytes]], deadline: float, results: Any
) -> None:
    """One sender process: one connection per share, all on one asyncio loop."""
    load = Load()

    async def run() -> None:
        await asyncio.gather(*(_connection(port, auth, b, deadline, load) for b in shares))

    asyncio.run(run())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    load.cpu_seconds = usage.ru_utime + usage.ru_stime
    results.put(load)


def send(
    port: int, auth: str, bodies: Sequence[bytes], seconds: float, senders: int, connections: int
) -> Load:
    """Post ``bodies`` from ``senders`` processes × ``connections`` for at most ``seconds``."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    lanes = senders * connections
    deadline = time.monotonic() + seconds
    processes = [
        context.Process(
            target=_sender,
            args=(
                port,
                auth,
                [bodies[p * connections + c :: lanes] for c in range(connections)],
                deadline,
                results,
            ),
        )
        for p in range(senders)
    ]
    for process in processes:
        process.start()
    load = Load()
    for _ in processes:
        load.add(results.get())
    for process in processes:
        process.join()
    return load


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


def _process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        pending.extend(int(c) for c in children)
    return total


ROW_COLUMNS = (
    "message_id, contact_id, anonymous_id, account_id, kind, team, channel, campaign_id, "
    "utm_source, utm_medium, utm_campaign, utm_term, utm_content, properties, occurred_at, "
    "received_at"
)


# Messages stored: touchpoints, and the profile messages (identify) applied.
STORED = (
    "SELECT (SELECT COUNT(*) FROM onefunnel_touchpoint)"
    " + (SELECT COUNT(*) FROM onefunnel_profilemessage)"
)


def http_run(
    engine: str, args: argparse.Namespace, bodies: list[bytes]
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """The HTTP run's figures, and the touchpoint rows it stored (for the raw baseline)."""
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
        warm = args.workers * 4
        try:
            wait_ready(port, proc)
            # warm-up: a few batches per worker so imports and connections are paid for
            warmed = send(port, auth, bodies[:warm], 60, 1, args.workers)
            drained_by(inst, time.monotonic() + 120)
            stored_before = inst.count(STORED)
            cpu_before = _process_tree_cpu(proc.pid)
            start = time.perf_counter()
            load = send(port, auth, bodies[warm:], args.seconds, args.senders, args.connections)
            wall = time.perf_counter() - start
            server_cpu = _process_tree_cpu(proc.pid) - cpu_before
            loadavg = os.getloadavg()
            stored_at_end = inst.count(STORED)
            drained = drained_by(inst, time.monotonic() + args.drain_seconds)
            until_drained = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        stored = inst.count(STORED)
        set_aside = inst.inbox("")
        expected = load.sent_events + warmed.sent_events
        rows = inst.query(
            f"SELECT {ROW_COLUMNS.replace('properties', 'CAST(properties AS TEXT)')} "
            "FROM onefunnel_touchpoint ORDER BY id"
        )
        lat = sorted(load.latencies)
        return {
            "engine": engine,
            # Every prepared batch sent before the time was up: the server could take more.
            "ran_out": load.sent_events >= BATCH * (len(bodies) - warm),
            "events": load.sent_events,
            "seconds": wall,
            "rate": load.sent_events / wall,
            "stored_during": (stored_at_end - stored_before) / wall,
            "materialised": (stored - stored_before) / until_drained,
            "lag": until_drained - wall if drained else float("nan"),
            "waiting": set_aside,
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else float("nan"),
            "retries": load.retries,
            "failures": load.failures,
            "lost": expected - stored,
            "server_cpu": server_cpu,
            "sender_cpu": load.cpu_seconds,
            "loadavg": loadavg[0],
        }, rows


def drained_by(inst: Install, deadline: float) -> bool:
    """Wait until the inbox holds no message waiting to be expanded; False at the deadline."""
    while inst.inbox("WHERE failed = ''"):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.25)
    return True


def raw_run(engine: str, rows: list[tuple[Any, ...]], per_transaction: int) -> float:
    """Rows/s of a driver-level insert of ``rows`` into a fresh database of the same schema,
    ``per_transaction`` rows committed at a time: 100-row multi-row INSERTs (on PostgreSQL,
    COPY for a bulk load of more than 100 rows a transaction)."""
    usable = len(rows) - len(rows) % BATCH
    with installation(engine) as inst:
        inst.run("init")
        one = "(" + ", ".join(["%s"] * 16) + ")"
        if engine == "sqlite":
            conn = sqlite3.connect(inst.home / "onefunnel.sqlite3", isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # The server's page cache (onefunnel/settings.py): with SQLite's 2 MiB default the
            # raw insert rereads index pages from the file and runs at about half the speed.
            conn.execute("PRAGMA cache_size=-65536")
            sql = (
                f"INSERT INTO onefunnel_touchpoint ({ROW_COLUMNS}) VALUES "
                + ", ".join([one.replace("%s", "?")] * BATCH)
                + " ON CONFLICT (message_id) DO NOTHING"
            )
            start = time.perf_counter()
            for t in range(0, usable, per_transaction):
                conn.execute("BEGIN IMMEDIATE")
                for b in range(t, min(t + per_transaction, usable), BATCH):
                    conn.execute(sql, [v for row in rows[b : b + BATCH] for v in row])
                conn.execute("COMMIT")
            elapsed = time.perf_counter() - start
            conn.close()
        else:
            import psycopg

            sql = (
                f"INSERT INTO onefunnel_touchpoint ({ROW_COLUMNS}) VALUES "
                + ", ".join([one] * BATCH)
                + " ON CONFLICT (message_id) DO NOTHING"
            )
            with psycopg.connect(inst.env["DATABASE_URL"]) as pg:
                # The rows point at contacts, accounts and campaigns this database lacks: skip
                # the foreign-key triggers (needs a superuser), as a raw SQLite connection does.
                pg.execute("SET session_replication_role = replica")
                start = time.perf_counter()
                for t in range(0, usable, per_transaction):
                    end = min(t + per_transaction, usable)
                    with pg.transaction():
                        if per_transaction > BATCH:
                            # A bulk load on PostgreSQL is COPY: its fastest way in.
                            copy = f"COPY onefunnel_touchpoint ({ROW_COLUMNS}) FROM STDIN"
                            with pg.cursor().copy(copy) as stream:
                                for row in rows[t:end]:
                                    stream.write_row(row)
                            continue
                        for b in range(t, end, BATCH):
                            pg.execute(sql, [v for row in rows[b : b + BATCH] for v in row])
                elapsed = time.perf_counter() - start
        return usable / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--senders", type=int, default=2, help="sender processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per sender")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="")
    parser.add_argument(
        "--drain-seconds", type=float, default=600, help="wait this long for the inbox to drain"
    )
    parser.add_argument(
        "--max-rate", type=float, default=60_000, help="batches are built for this many events/s"
    )
    args = parser.parse_args()
    engines = args.engines.split(",") if args.engines else ["sqlite"]
    if not args.engines and os.environ.get("DATABASE_URL"):
        engines.append("postgresql")
    bodies = build_bodies(int(args.seconds * args.max_rate / BATCH) + 8 * args.workers)
    results = []
    for engine in engines:
        result, rows = http_run(engine, args, bodies)
        # The practical limits: each sender's batch committed on its own, as a 200 requires,
        # and one bulk load in 10,000-row transactions.
        result["raw_rate"] = raw_run(engine, rows, BATCH)
        result["bulk_rate"] = raw_run(engine, rows, 10_000)
        results.append(result)
    print(
        f"{BATCH}-event gzip batches, {args.senders} sender processes x {args.connections} "
        f"connections, {args.workers} server workers, {os.cpu_count()} CPUs"
    )
    print(
        f"{'engine':<11} {'events':>9} {'accepted/s':>10} {'stored/s':>8} {'mat./s':>8} "
        f"{'lag s':>6} {'p50 ms':>7} {'p99 ms':>7} {'retries':>7} {'failed':>6} {'lost':>5} {'left':>5} "
        f"{'srv cpu/s':>9} {'load1':>5} {'raw rows/s':>10} {'acc/raw':>7} {'mat/raw':>7} "
        f"{'bulk rows/s':>11} {'acc/bulk':>8} {'mat/bulk':>8}"
    )
    for r in results:
        print(
            f"{r['engine']:<11} {r['events']:>9,} {r['rate']:>10,.0f} {r['stored_during']:>8,.0f} "
            f"{r['materialised']:>8,.0f} {r['lag']:>6.1f} {r['p50_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['retries']:>7} {r['failures']:>6} {r['lost']:>5} {r['waiting']:>5} "
            f"{r['server_cpu'] / r['seconds']:>9.2f} {r['loadavg']:>5.1f} "
            f"{r['raw_rate']:>10,.0f} {r['rate'] / r['raw_rate']:>7.2f} "
            f"{r['materialised'] / r['raw_rate']:>7.2f} {r['bulk_rate']:>11,.0f} "
            f"{r['rate'] / r['bulk_rate']:>8.2f} {r['materialised'] / r['bulk_rate']:>8.2f}"
        )
    for r in results:
        if r["ran_out"]:
            print(
                f"{r['engine']}: the senders sent every prepared batch before the time was up, so "
                "its accepted/s is a lower bound: run again with a higher --max-rate"
            )
    print(
        "accepted/s: messages acknowledged (committed to the inbox) per second of sending; "
        "stored/s: touchpoints stored per second while sending; mat./s: touchpoints per second "
        "from the start until the inbox drained; lag: seconds from the last acknowledgement to "
        "the last touchpoint; lost: acknowledged but not a touchpoint after the drain; left: "
        "of those, still in the inbox (set aside as failed, or the drain timed out); srv cpu/s: server CPU seconds per wall second during sending; load1: the "
        "machine's 1-minute load average at the end of sending; raw rows/s: the same touchpoint "
        "rows inserted by the driver, 100 per transaction (one commit per batch, as a 200 needs); "
        "bulk rows/s: the same in 10,000-row transactions (COPY on PostgreSQL)"
    )


if __name__ == "__main__":
    main()
