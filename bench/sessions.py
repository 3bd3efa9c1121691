"""What sessions and profile messages change: attribution credit per channel, before and after.

A simulated site instrumented the way analytics.js instruments one: each visit's landing page
carries the visit's source (UTM tags in ``context.campaign`` and the outside referrer); the pages
and events after it carry the site's own URL as referrer and no tags; a signed-up visitor is
identified at every login (the start of each later visit); some request a demo. The messages go
through ``POST /v1/batch`` of a live ``onefunnel serve`` (SQLite, fresh home) running one
source tree, and once the inbox is drained the stored touchpoints of each contact who requested
a demo — up to that request — are its journey. Every model's credit per channel is printed for
each tree, beside the *true* source mix of the converting visitors' visits (what the site's
traffic really was).

Run (from the repository root)::

    git archive <base-commit> | tar -x -C /tmp/before      # the code before the change
    /work/main/.venv/bin/python bench/sessions.py --tree before=/tmp/before --tree after=.

Options: ``--visitors 1500 --seed 7 --models first,last,last_non_direct,linear,position,markov``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from onefunnel.domain.attribution import run_models  # noqa: E402
from onefunnel.domain.attribution.journeys import GroupedJourneys  # noqa: E402

SITE = "https://acme.example"
# source → (share of visits, context.campaign or None, outside referrer or "")
SOURCES: dict[str, tuple[float, dict[str, str] | None, str]] = {
    "paid_search": (0.28, {"name": "search-brand", "source": "google", "medium": "cpc"}, "https://www.google.com/"),
    "email": (0.14, {"name": "newsletter-apr", "source": "newsletter", "medium": "email"}, ""),
    "paid_social": (0.10, {"name": "linkedin-abm", "source": "linkedin", "medium": "paid_social"}, "https://www.linkedin.com/"),
    "organic_search": (0.22, None, "https://www.google.com/"),
    "referral": (0.06, None, "https://partner-blog.example/post"),
    "direct": (0.20, None, ""),
}  # fmt: skip
PAGES = ["/", "/product", "/pricing", "/blog/roi", "/customers", "/docs", "/integrations"]
EVENTS = ["Video Played", "Pricing Viewed", "Content Downloaded", "Plan Compared"]


def _pick_source(rng: random.Random) -> str:
    return rng.choices(list(SOURCES), weights=[s[0] for s in SOURCES.values()])[0]


def simulate(
    visitors: int, seed: int, start: datetime
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The site's messages in time order, and the true source of each converting visitor's
    visits (for comparison)."""
    rng = random.Random(seed)
    messages: list[tuple[datetime, dict[str, Any]]] = []
    true_mix: Counter[str] = Counter()
    for v in range(visitors):
        anon = f"anon-{seed}-{v}"
        user = f"user-{seed}-{v}"
        signed_up = False
        converted = False
        at = start + timedelta(minutes=rng.uniform(0, 20 * 24 * 60))
        visit_sources: list[str] = []
        for _visit in range(rng.choice([1, 1, 2, 2, 3, 4])):
            source = _pick_source(rng)
            visit_sources.append(source)
            _, campaign, referrer = SOURCES[source]
            landing = rng.choice(PAGES)
            ids = {"anonymousId": anon, **({"userId": user} if signed_up else {})}

            def message(
                kind: str,
                when: datetime,
                page: dict[str, str],
                *,
                tagged: dict[str, str] | None = campaign,
                ids: dict[str, str] = ids,
                **extra: Any,
            ) -> None:
                context: dict[str, Any] = {"page": page}
                if tagged is not None:  # analytics.js reads UTM tags from the page's URL
                    context["campaign"] = tagged
                body = {"type": kind, "messageId": str(uuid.UUID(int=rng.getrandbits(128))),
                        "timestamp": when.isoformat(), "context": context, **ids, **extra}  # fmt: skip
                messages.append((when, body))

            page = {"path": landing, "url": SITE + landing, "referrer": referrer,
                    "title": landing.strip("/").title() or "Home"}  # fmt: skip
            if signed_up:  # a login at the start of every later visit: identify
                message("identify", at, page, traits={"email": f"v{v}@corp{v % 97}.example"})
            message("page", at, page)
            at += timedelta(seconds=rng.uniform(5, 90))
            if rng.random() < 0.4:
                message("track", at, page, event=rng.choice(EVENTS))
            previous = landing
            landing_tags = campaign  # events on the landing page carry its URL's tags
            for _ in range(rng.choice([0, 1, 2, 3, 4, 6])):
                landing_tags = None
                at += timedelta(minutes=rng.uniform(0.5, 8))
                path = rng.choice(PAGES)
                page = {"path": path, "url": SITE + path, "referrer": SITE + previous,
                        "title": path.strip("/").title() or "Home"}  # fmt: skip
                message("page", at, page, tagged=None)
                if rng.random() < 0.3:
                    at += timedelta(seconds=rng.uniform(5, 60))
                    message("track", at, page, tagged=None, event=rng.choice(EVENTS))
                previous = path
            if not signed_up and rng.random() < 0.35:
                at += timedelta(seconds=30)
                signed_up = True
                ids = {"anonymousId": anon, "userId": user}
                message(
                    "identify", at, page, tagged=landing_tags, ids=ids,
                    traits={"email": f"v{v}@corp{v % 97}.example"},
                )  # fmt: skip
            if signed_up and not converted and rng.random() < 0.3:
                at += timedelta(minutes=rng.uniform(0.5, 5))
                message("track", at, page, tagged=landing_tags, ids=ids, event="Demo Requested")
                converted = True
                true_mix.update(visit_sources)
            at += timedelta(hours=rng.uniform(2, 72))
            if converted:
                break
    messages.sort(key=lambda m: m[0])
    return [m for _, m in messages], true_mix


def _run(tree: Path, home: Path, *args: str) -> str:
    env = {**os.environ, "ONEFUNNEL_HOME": str(home), "PYTHONPATH": str(tree)}
    env.pop("DATABASE_URL", None)
    exe = Path(sys.executable).with_name("onefunnel")
    done = subprocess.run(
        [str(exe), *args], cwd=home, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def ingest(tree: Path, messages: list[dict[str, Any]]) -> tuple[Path, float]:
    """Send the messages through /v1/batch of a server running ``tree``; the database file."""
    home = Path(tempfile.mkdtemp(prefix="onefunnel-sessions-"))
    _run(tree, home, "init")
    key = json.loads(
        _run(tree, home, "keys", "create", "--scope", "tracking:write", "--format", "json")
    )["key"]
    port = 18000 + random.randrange(2000)
    env = {**os.environ, "ONEFUNNEL_HOME": str(home), "PYTHONPATH": str(tree)}
    env.pop("DATABASE_URL", None)
    exe = Path(sys.executable).with_name("onefunnel")
    server = subprocess.Popen([str(exe), "serve", "--port", str(port)], cwd=home, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        began = time.perf_counter()
        with httpx.Client(timeout=60) as client:
            for i in range(0, len(messages), 100):
                answer = client.post(
                    f"{base}/v1/batch", json={"batch": messages[i : i + 100]}, headers=auth
                )
                if answer.status_code != 200 or answer.json()["rejected"]:
                    raise SystemExit(f"batch refused: {answer.text[:300]}")
        inbox = home / "onefunnel.sqlite3-inbox.sqlite3"
        while True:
            with sqlite3.connect(inbox) as db:
                if db.execute("SELECT COUNT(*) FROM inbound_batch").fetchone()[0] == 0:
                    break
            time.sleep(0.5)
        return home / "onefunnel.sqlite3", time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(timeout=30)


def journeys(database: Path) -> tuple[list[list[str]], int]:
    """Each converting contact's touch channels up to its demo request; touches stored."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT contact_id, channel, kind FROM onefunnel_touchpoint "
            "WHERE contact_id IS NOT NULL ORDER BY contact_id, occurred_at, id"
        ).fetchall()
        stored = db.execute("SELECT COUNT(*) FROM onefunnel_touchpoint").fetchone()[0]
    paths: dict[int, list[str]] = defaultdict(list)
    done: set[int] = set()
    for contact, channel, kind in rows:
        if contact in done:
            continue
        paths[contact].append(channel)
        if kind == "hand_raise":
            done.add(contact)
    return [paths[c] for c in sorted(done)], stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH of a source tree")
    parser.add_argument("--visitors", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", default="first,last,last_non_direct,linear,position,markov")
    args = parser.parse_args()
    messages, true_mix = simulate(args.visitors, args.seed, datetime.now(UTC) - timedelta(days=30))
    kinds = Counter(m["type"] for m in messages)
    print(f"simulated site: {args.visitors} visitors, {len(messages)} messages {dict(kinds)}")
    total_visits = sum(true_mix.values())
    results: dict[str, dict[str, dict[str, float]]] = {}
    for spec in args.tree:
        name, _, path = spec.partition("=")
        database, seconds = ingest(Path(path).resolve(), messages)
        paths, stored = journeys(database)
        grouped = GroupedJourneys.from_paths(paths, [1.0] * len(paths))
        credit: dict[str, dict[str, float]] = defaultdict(dict)
        for row in run_models(grouped, args.models):
            credit[row.model.value][row.channel] = row.conversions
        results[name] = credit
        direct = sum(1 for p in paths for c in p if c == "direct")
        touches = sum(len(p) for p in paths)
        print(f"{name}: {stored} touchpoints stored in {seconds:.1f} s; {len(paths)} conversions; "
              f"journey touches {touches}, of which direct {direct} ({direct / touches:.0%})")  # fmt: skip
    channels = sorted({c for r in results.values() for m in r.values() for c in m} | set(SOURCES))
    names = list(results)
    print()
    print("credit per channel (conversions); 'visits' = true source mix of the converters' visits")
    header = (
        f"{'model':<16}{'channel':<16}" + "".join(f"{n:>10}" for n in names) + f"{'visits':>10}"
    )
    print(header)
    print("-" * len(header))
    n_conv = len(journeys(database)[0])
    for model in args.models.split(","):
        for channel in channels:
            share = true_mix.get(channel, 0) / total_visits * n_conv if total_visits else 0.0
            cells = "".join(f"{results[n].get(model, {}).get(channel, 0.0):>10.1f}" for n in names)
            print(f"{model:<16}{channel:<16}{cells}{share:>10.1f}")
        print()


if __name__ == "__main__":
    main()
