"""Web pages under load: p50/p95 per page with 20 concurrent signed-in sessions.

Run it from the repository root with the project's virtualenv:

    PYTHONPATH=$PWD /work/main/.venv/bin/python bench/web.py               # medium demo, 20 sessions
    PYTHONPATH=$PWD /work/main/.venv/bin/python bench/web.py --sessions 5 --rounds 5   # a quick look

What it does:

1. Builds once an installation in bench/out/web-home (gitignored): `onefunnel init` and
   `onefunnel demo --size medium` (reused on later runs; --fresh builds it again).
2. Gives one demo rep a queue of --queue (1,000) open handoffs, by reopening decided demo
   handoffs in place (the bench's copy only), so the queue's first page and its next page are
   measured on a long queue; and a board of --deals (5,000) deals (demo deals given to them,
   copied as needed), so the board's first page and its next page are measured on a big board.
   Each session's timeline pages are those of the contact with the most touches among the
   contacts of its handoffs (the busiest account's for the account page), and its deal page
   one of its own deals.
3. Serves it (`onefunnel serve`, loopback, --workers), signs in --sessions users on the app's
   login page (the reps, the long-queue rep among them, and a marketer and a leader), and has
   every session fetch each page of its role --rounds times, all sessions at once (threads).
   One warm-up round is not counted. Every request has a timeout; the run is bounded by
   sessions x rounds x pages.
4. Prints p50 / p95 / max per page and the requests that failed: per page, each cause (an
   HTTP status other than 2xx/3xx, or the client's exception: a timeout, a reset connection)
   with its count, also kept in bench/out/web.json; the server's log (a 500's traceback) is
   in bench/out/web-server.log. `/api/health` (no
   database, no template) is measured beside the pages as the floor: what the machine and the
   server take for any request at that concurrency.

With --write-every S one more session, the long-queue rep, logs a call on its deal every S
seconds on average while the others read (its time is the row "POST /deals/{deal}/activity"):
every write changes the data, so each cached report is computed again by its next reader, as
on a working day. Without it the sessions only read. With --stale S the server may answer a
page with a result computed up to S seconds before while its update is computed in the
background (ONEFUNNEL_REPORT_STALE_SECONDS); the column "early" counts the answers that were.

With --think S each session pauses a random time (exponential, mean S seconds) before every
page, as people do between clicks; without it the sessions fetch back to back, which measures
what the server does when saturated rather than what 20 people see.

The target (issue 11): every page's p95 <= 300 ms. Report panels are measured too (they load
after the dashboard, each on its own request) but they run the reports, so their time is the
reports', not the pages'.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "bench" / "out" / "web-home"
BIN = Path(sys.executable).with_name("onefunnel")
SELLER_PAGES = [
    "/api/health",
    "/queue",
    "/queue/rows?offset=25",
    "/search?q=ann",
    "/",
    "/panels/status",
    "/contacts/{contact}",
    "/contacts/{contact}/entries?before={before}",
    "/accounts/{account}",
    "/deals/{deal}",
    "/board",
    "/board?page=2",
]
READER_PAGES = ["/api/health", "/", "/panels/status", "/search?q=ann", "/queue", "/api/docs",
                "/contacts/{contact}", "/accounts/{account}", "/deals/{deal}", "/board"]  # fmt: skip
PANELS = ["/panels/report/leaks", "/panels/report/spend", "/panels/report/quality",
          "/panels/report/follow-up"]  # fmt: skip
#: The customers, plan and leadership pages and their panels (``--workspaces``).
WORKSPACE_PANELS = ["/customers", "/plan", "/leadership",
                    *(f"/panels/workspace/{slug}" for slug in (
                        "customers", "renewals", "account-deals", "expansion", "retention-month",
                        "retention-cohort", "plan-steps", "targets", "forecast",
                        "forecast-owners", "plan-actual", "company-targets",
                        "retention-period"))]  # fmt: skip
#: Marketing's pages (``--marketing``): the campaign with the most spend entries.
MARKETING = ["/campaigns", "/campaigns/{campaign}", "/marketing", "/marketing/funnel-channel",
             "/marketing/funnel-campaign", "/marketing/funnel-cohort", "/marketing/attribution",
             "/marketing/returned",
             "/records?report=scorecard&measure=handoffs&by=channel&group=paid_search"]  # fmt: skip


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env["ONEFUNNEL_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT)
    return env


def build(home: Path, size: str, fresh: bool) -> None:
    """The installation with the demo company (kept between runs)."""
    if fresh and home.exists():
        for name in home.glob("onefunnel.sqlite3*"):
            name.unlink()
    home.mkdir(parents=True, exist_ok=True)
    if (home / "onefunnel.sqlite3").exists() and not fresh:
        return
    env = _env(home)
    subprocess.run([str(BIN), "init", "--admin-username", "rev", "--admin-password",
                    "ops-team-2026"], cwd=home, env=env, check=True, capture_output=True)  # fmt: skip
    started = time.perf_counter()
    subprocess.run([str(BIN), "demo", "--size", size], cwd=home, env=env, check=True)
    print(f"demo loaded in {time.perf_counter() - started:.0f} s")


def prepare(
    home: Path, queue: int, deals: int
) -> tuple[list[str], list[str], str, str, dict[str, dict[str, str]]]:
    """Logins (the demo password is set as `onefunnel demo` does) and the long queue."""
    os.environ.update(_env(home))
    os.environ["DJANGO_SETTINGS_MODULE"] = "onefunnel.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from onefunnel.models import Handoff
    from onefunnel.services.users import ensure_demo_logins

    logins = ensure_demo_logins()
    assert logins is not None, "no demo loaded"
    users = get_user_model()._default_manager
    sellers = list(
        users.filter(groups__name__in=["sales", "team_lead"]).distinct().order_by("pk")
        .values_list("username", flat=True)
    )  # fmt: skip
    readers = [logins.usernames["marketing"], logins.usernames["leadership"]]
    long_queue = sellers[-1]
    owner = users.get(username=long_queue)
    have = Handoff.objects.filter(owner=owner, status="pending").count()
    if have < queue:
        now = timezone.now()
        ids = list(
            Handoff.objects.exclude(status="pending").order_by("pk")
            .values_list("pk", flat=True)[: queue - have]
        )  # fmt: skip
        Handoff.objects.filter(pk__in=ids).update(
            status="pending", owner=owner, team_queue=None, decided_at=None,
            first_response_at=None, sla_due_at=now + timedelta(days=30), reason=None,
        )  # fmt: skip
    mine = Handoff.objects.filter(owner=owner, status="pending").count()
    board = _big_board(owner, deals)
    print(f"{long_queue} has {mine} open handoffs and {board} deals; {len(sellers)} sellers, "
          f"readers {readers}")  # fmt: skip
    ids = {name: _records_of(users.get(username=name)) for name in [*sellers, *readers]}
    return sellers, readers, long_queue, logins.password, ids


def _big_board(owner: Any, deals: int) -> int:
    """Give ``owner`` ``deals`` deals, copying demo deals (the other reps keep theirs)."""
    from onefunnel.models import Deal

    have = Deal.objects.filter(owner=owner).count()
    if have < deals:
        model = list(Deal.objects.order_by("pk")[:1000])
        fields = [f.attname for f in Deal._meta.concrete_fields if f.attname != "id"]
        copies = []
        for n in range(deals - have):
            source = model[n % len(model)]
            copy = Deal(**{name: getattr(source, name) for name in fields})
            copy.owner_id, copy.order_id, copy.name = owner.pk, None, f"{source.name} ({n})"
            copies.append(copy)
        Deal.objects.bulk_create(copies, batch_size=1000)
    return int(Deal.objects.filter(owner=owner).count())


def _records_of(user: Any) -> dict[str, str]:
    """The contact, account and deal a session looks at (see the module docstring)."""
    from django.db.models import Count

    from onefunnel.models import Contact, Deal, Handoff, Touchpoint

    contacts = Handoff.objects.filter(owner=user).values("contact_id")
    busiest = (
        Touchpoint.objects.filter(contact_id__in=contacts[:200])
        .values("contact_id").annotate(n=Count("id")).order_by("-n").first()
    )  # fmt: skip
    contact_id = busiest["contact_id"] if busiest else Contact.objects.order_by("pk").first().pk
    top_account = (
        Touchpoint.objects.filter(contact__account__isnull=False)
        .values("contact__account_id").annotate(n=Count("id")).order_by("-n").first()
    )  # fmt: skip
    deal = (
        Deal.objects.filter(owner=user).order_by("pk").first()
        or Deal.objects.order_by("pk").first()
    )
    before = Touchpoint.objects.filter(contact_id=contact_id).order_by("-occurred_at")
    at = before.values_list("occurred_at", flat=True)[25:26].first()
    from onefunnel.models import Spend

    campaign = Spend.objects.values("campaign_id").annotate(n=Count("id")).order_by("-n").first()
    return {
        "campaign": str(campaign["campaign_id"]) if campaign else "1",
        "contact": str(contact_id),
        "account": str(top_account["contact__account_id"]) if top_account else "1",
        "deal": str(deal.pk if deal else 1),
        "before": (at.isoformat() if at else "2026-01-01T00:00:00+00:00").replace("+", "%2B"),
    }


def sign_in(base: str, username: str, password: str) -> httpx.Client:
    """A client with a session from the app's login page."""
    # A connection idle for the server's keep-alive timeout (uvicorn: 5 s) is closed by the
    # server; httpx keeps one for 5 s too, so a session that paused ~5 s could send its next
    # request just as the server closes it ("connection reset by peer": the two unexplained
    # failures of an earlier run). Browsers retry such a request; the bench drops connections
    # sooner instead.
    limits = httpx.Limits(keepalive_expiry=3.0)
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False, limits=limits)
    client.get("/login")
    token = client.cookies.get("csrftoken") or ""
    answer = client.post("/login", data={"username": username, "password": password,
                                          "csrfmiddlewaretoken": token},
                         headers={"Referer": base + "/login"})  # fmt: skip
    assert answer.status_code == 302, f"sign-in of {username} failed ({answer.status_code})"
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--queue", type=int, default=1000)
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--home", type=Path, default=HOME)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--panels", action="store_true", help="also measure the report panels")
    parser.add_argument("--marketing", action="store_true", help="also measure marketing's pages")
    parser.add_argument(
        "--workspaces",
        action="store_true",
        help="also measure the customers, plan and leadership pages and their panels",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds a session pauses between pages, as a person reading (exponential; "
        "0: each session fetches back to back, a closed loop that measures saturation)",
    )
    parser.add_argument(
        "--write-every",
        type=float,
        default=0.0,
        help="while the sessions read, one more session logs a call on its deal every S seconds "
        "on average (exponential), as a team at work does: each write changes the data, so "
        "cached reports are computed again by their next reader (0: reads only)",
    )
    parser.add_argument(
        "--stale",
        type=int,
        default=None,
        help="the server's ONEFUNNEL_REPORT_STALE_SECONDS: a page may get a result computed up "
        "to S seconds before while its update is computed (default: the environment's, else 0)",
    )
    args = parser.parse_args()
    if args.stale is not None:
        os.environ["ONEFUNNEL_REPORT_STALE_SECONDS"] = str(args.stale)
    # Absolute: the server runs in the installation's directory, where a relative
    # ONEFUNNEL_HOME would name another (empty) installation inside it.
    args.home = args.home.resolve()
    build(args.home, args.size, args.fresh)
    sellers, readers, long_queue, password, ids = prepare(args.home, args.queue, args.deals)
    base = f"http://127.0.0.1:{args.port}"
    # The server's log (a 500's traceback) is kept beside the results.
    log = (ROOT / "bench" / "out" / "web-server.log").open("w")
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(args.port), "--workers", str(args.workers),
         "--no-processor"],
        cwd=args.home, env=_env(args.home), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240  # a busy shared machine starts slowly
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        people = [long_queue] + [u for u in sellers if u != long_queue]
        plan: list[tuple[str, list[str]]] = []  # who, and the page templates they fetch
        for i in range(args.sessions):
            if i % 5 == 4:
                plan.append((readers[(i // 5) % len(readers)], READER_PAGES))
            else:
                plan.append((people[i % len(people)], SELLER_PAGES))
        extra = (
            (PANELS if args.panels else [])
            + (MARKETING if args.marketing else [])
            + (WORKSPACE_PANELS if args.workspaces else [])
        )
        clients = [
            (sign_in(base, who, password), [(p, p.format(**ids[who])) for p in pages + extra])
            for who, pages in plan
        ]
        times: dict[str, list[float]] = defaultdict(list)
        # page → cause → count: the status (non-2xx/3xx) or the exception of each failure.
        failed: dict[str, Counter[str]] = defaultdict(Counter)
        # page → answers served with figures computed before the latest write (--stale).
        early: Counter[str] = Counter()
        lock = threading.Lock()

        def run(
            client: httpx.Client, pages: list[tuple[str, str]], rounds: int, record: bool
        ) -> None:
            pause = random.Random(id(client))  # each session its own seeded stream
            for _ in range(rounds):
                for page, path in pages:
                    if args.think > 0:
                        time.sleep(pause.expovariate(1 / args.think))
                    started = time.perf_counter()
                    cause = None
                    was_early = False
                    try:
                        response = client.get(path)
                        status = response.status_code
                        was_early = "x-onefunnel-data-as-of" in response.headers
                        if not 200 <= status < 400:
                            cause = f"HTTP {status}"
                    except httpx.HTTPError as exc:
                        cause = f"{type(exc).__name__}: {str(exc)[:80]}"
                    took = (time.perf_counter() - started) * 1000
                    if record:
                        with lock:
                            times[page].append(took)
                            early[page] += was_early
                            if cause is not None:
                                failed[page][cause] += 1

        done = threading.Event()
        writes = 0

        def write(client: httpx.Client, deal: str) -> None:
            """Log a call on ``deal`` now and then until the readers are done."""
            nonlocal writes
            pause = random.Random(7)
            page = "POST /deals/{deal}/activity"
            while not done.wait(pause.expovariate(1 / args.write_every)):
                started = time.perf_counter()
                cause = None
                try:
                    answer = client.post(
                        f"/deals/{deal}/activity",
                        data={"kind": "call", "outcome": "connected", "notes": "bench call",
                              "csrfmiddlewaretoken": client.cookies.get("csrftoken") or ""},
                        headers={"Referer": f"{base}/deals/{deal}"},
                    )  # fmt: skip
                    if not 200 <= answer.status_code < 400:
                        cause = f"HTTP {answer.status_code}"
                except httpx.HTTPError as exc:
                    cause = f"{type(exc).__name__}: {str(exc)[:80]}"
                with lock:
                    writes += 1
                    times[page].append((time.perf_counter() - started) * 1000)
                    if cause is not None:
                        failed[page][cause] += 1

        for record, rounds in ((False, 1), (True, args.rounds)):
            threads = [threading.Thread(target=run, args=(c, p, rounds, record))
                       for c, p in clients]  # fmt: skip
            done.clear()
            writer = None
            if record and args.write_every > 0:
                writer_client = sign_in(base, long_queue, password)
                writer = threading.Thread(
                    target=write, args=(writer_client, ids[long_queue]["deal"])
                )
            started = time.perf_counter()
            for t in threads:
                t.start()
            if writer is not None:
                writer.start()
            for t in threads:
                t.join()
            done.set()
            if writer is not None:
                writer.join()
            wall = time.perf_counter() - started
        total = sum(len(v) for v in times.values())
        print(f"\n{args.sessions} sessions x {args.rounds} rounds, {args.workers} worker(s), "
              f"think {args.think:g} s: "
              f"{total} requests in {wall:.1f} s ({total / wall:.0f}/s)"
              + (f", {writes} of them writes" if writes else "")
              + (f"; served early up to {args.stale} s" if args.stale else ""))  # fmt: skip
        print(f"{'page':<44}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'failed':>8}"
              f"{'early':>7}")  # fmt: skip
        rows = []
        for page, values in times.items():
            values.sort()
            p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
            causes = dict(failed[page])
            rows.append({"page": page, "n": len(values), "p50": statistics.median(values),
                         "p95": p95, "max": values[-1], "failed": sum(causes.values()),
                         "causes": causes, "early": early[page]})  # fmt: skip
            print(f"{page:<44}{len(values):>6}{statistics.median(values):>9.0f}{p95:>9.0f}"
                  f"{values[-1]:>9.0f}{sum(causes.values()):>8}{early[page]:>7}")  # fmt: skip
        if any(failed.values()):
            print("\nfailures by page and cause:")
            for page, causes in failed.items():
                for cause, count in causes.most_common():
                    print(f"  {page:<44}{count:>5}  {cause}")
        else:
            print("\nno request failed")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        out = ROOT / "bench" / "out" / "web.json"
        out.write_text(json.dumps(rows, indent=1))
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


if __name__ == "__main__":
    main()
