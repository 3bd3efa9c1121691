"""Where a page spends its time: SQL queries (count and time) and a cProfile of one request.

Run it after ``bench/web.py`` has built its installation (it reads the same one)::

    PYTHONPATH=$PWD ONEFUNNEL_DEMO_PASSWORD=... python bench/web_profile.py
    PYTHONPATH=$PWD python bench/web_profile.py --top 25 --page /board --user some.rep

For each page of a seller (the long-queue rep of ``bench/web.py``), or with ``--set marketing``
marketing's pages and the report panels (as the demo's marketer), or ``--set workspaces`` the
customers, plan and leadership panels (as the demo's leader), it requests the page a few
times in-process (Django's test client, no server) and prints the median time, the number of
SQL queries and their total time; with ``--page`` it prints that page's slowest queries and
the functions that took the most cumulative time. One request at a time: this explains a page's
own cost, ``bench/web.py`` measures it under load.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOME = ROOT / "bench" / "out" / "web-home"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=HOME)
    parser.add_argument("--user", default=None, help="username (default: the long-queue rep)")
    parser.add_argument("--page", default=None, help="profile this page in detail")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--set", choices=("sales", "marketing", "workspaces"), default="sales")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="clear the report cache before every request (each request computes its reports)",
    )
    args = parser.parse_args()
    os.environ["ONEFUNNEL_HOME"] = str(args.home)
    os.environ["DJANGO_SETTINGS_MODULE"] = "onefunnel.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    sys.path.insert(0, str(ROOT / "bench"))
    from web import (  # type: ignore[import-not-found]
        MARKETING,
        PANELS,
        SELLER_PAGES,
        WORKSPACE_PANELS,
        _records_of,
    )

    from onefunnel.services.users import DEMO_LEADERSHIP

    users = get_user_model()._default_manager
    if args.user:
        user = users.get(username=args.user)
    elif args.set == "marketing":
        user = users.filter(groups__name="marketing").order_by("pk").first()
    elif args.set == "workspaces":
        user = users.get(username=DEMO_LEADERSHIP[0])
    else:
        sellers = users.filter(groups__name__in=["sales", "team_lead"]).distinct().order_by("pk")
        user = sellers.last()
    ids = _records_of(user)
    client = Client()
    client.force_login(user)
    chosen = {
        "sales": SELLER_PAGES,
        "marketing": MARKETING + PANELS,
        "workspaces": WORKSPACE_PANELS,
    }[args.set]
    pages = [args.page] if args.page else [p for p in chosen if p != "/api/health"]
    print(f"as {user.get_username()}: {ids}")
    # Wall time suffers from whatever else runs on the machine; CPU time much less.
    print(f"{'page':<44}{'ms p50':>8}{'cpu ms':>8}{'queries':>9}{'sql ms':>8}")
    for page in pages:
        path = page.format(**ids)
        took, cpu = [], []
        for _ in range(args.repeat):
            if args.no_cache:
                cache.clear()
            with CaptureQueriesContext(connection) as queries:
                started, used = time.perf_counter(), time.process_time()
                status = client.get(path).status_code
                took.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
            assert status == 200, (path, status)
        sql = sum(float(q["time"]) for q in queries.captured_queries) * 1000
        print(f"{page:<44}{statistics.median(took):>8.0f}{statistics.median(cpu):>8.0f}"
              f"{len(queries):>9}{sql:>8.0f}")  # fmt: skip
        if args.page:
            slow = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))
            for q in slow[:8]:
                print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:300]}")
            if connection.vendor == "sqlite":
                # Full scans of a table (not of a temporary b-tree) in any query of the page.
                with connection.cursor() as cursor:
                    for q in queries.captured_queries:
                        if not q["sql"].startswith("SELECT"):
                            continue
                        cursor.execute("EXPLAIN QUERY PLAN " + q["sql"])
                        scans = [r[3] for r in cursor.fetchall() if r[3].startswith("SCAN")]
                        if scans:
                            print(f"  scan: {scans} in {q['sql'][:160]}")
            if args.no_cache:
                cache.clear()
            profile = cProfile.Profile()
            profile.enable()
            client.get(path)
            profile.disable()
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(
                os.environ.get("PROFILE_SORT", "cumulative")
            ).print_stats(args.top)
            print(out.getvalue())


if __name__ == "__main__":
    main()
