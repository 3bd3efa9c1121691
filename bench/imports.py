"""Benchmark of the contacts import: a HubSpot-shaped export of 1,000,000 rows on a fresh SQLite.

Run from the repository root (with the project's virtualenv)::

    python bench/imports.py                       # 1,000,000 rows (and a 100,000-row run)
    python bench/imports.py --rows 200000 --small 20000
    python bench/imports.py --keep                # keep bench/out/ afterwards

It writes deterministic CSV files (seeded ``random``; about 0.5% bad rows: unreadable dates,
bad emails, unknown lifecycle stages) into ``bench/out/``, then for each size runs the real
command, ``onefunnel import contacts FILE --from hubspot``, in a child process with a fresh
``ONEFUNNEL_HOME`` (so a fresh SQLite file), and reads the child's wall time and peak RSS.
The import may read the file in a second process of its own: memory is sampled as the sum of
the RSS of the child and its children (pages they share are counted twice, so it errs high),
besides the largest single process (``ru_maxrss``). Running two sizes shows whether memory
stays flat as the file grows. A second run of the big file measures the idempotent re-import
(nothing created, nothing updated).

It prints one table. Timings depend on the machine and its load: quote them with the machine.
The target is under 2 minutes for 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
ONEFUNNEL = str(Path(sys.executable).with_name("onefunnel"))
HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Contact owner",
    "Lifecycle Stage", "Lead Status", "Create Date", "Company Name", "Job Title",
    "Country/Region", "Website URL", "Original Source", "Original Source Drill-Down 1",
    "Became a Subscriber Date", "Became a Lead Date", "Became a Marketing Qualified Lead Date",
    "Became a Sales Qualified Lead Date", "Became an Opportunity Date", "Became a Customer Date",
    "Became an Evangelist Date",
]  # fmt: skip
LIFECYCLE = [
    ("Subscriber", 0.30), ("Lead", 0.35), ("Marketing Qualified Lead", 0.15),
    ("Sales Qualified Lead", 0.05), ("Opportunity", 0.05), ("Customer", 0.08),
    ("Evangelist", 0.01), ("Other", 0.01),
]  # fmt: skip
ORDER = [name for name, _ in LIFECYCLE[:7]]
STATUS = ["", "New", "Open", "In Progress", "Attempted to Contact", "Connected", "Unqualified",
          "Bad Timing"]  # fmt: skip
SOURCES = ["Organic Search", "Paid Search", "Email Marketing", "Organic Social", "Referrals",
           "Direct Traffic", "Paid Social", "Offline Sources", "Other Campaigns"]  # fmt: skip
COUNTRIES = ["United States", "Germany", "United Kingdom", "France", "Brazil", "India", "JP", ""]
TITLES = ["VP Sales", "Marketing Manager", "CTO", "Engineer", "Head of Growth", ""]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
START = datetime(2022, 1, 1, 8, 0)


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write a HubSpot contacts export of ``rows`` rows, streaming (constant memory)."""
    rng = random.Random(seed)
    names, weights = zip(*LIFECYCLE, strict=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        writer.writerow(HEADER)
        for n in range(rows):
            stage = rng.choices(names, weights)[0]
            created = START + timedelta(minutes=rng.randrange(0, 1_000_000))
            became = [""] * 7
            if stage != "Other":
                at = created
                first = 0 if rng.random() < 0.5 else 1
                for i in range(first, ORDER.index(stage) + 1):
                    became[i] = (
                        at.strftime("%Y-%m-%d %H:%M")
                        if rng.random() < 0.7
                        else (
                            f"{at.month}/{at.day}/{at.year} {(at.hour % 12) or 12}:{at.minute:02d} "
                            f"{'AM' if at.hour < 12 else 'PM'}"
                        )
                    )
                    at += timedelta(hours=rng.randrange(1, 2000))
            company = rng.randrange(50_000)
            email = f"person{n}@company{company}.example"
            bad = rng.random()
            if bad < 0.002:
                email = f"person{n}-at-nowhere"
            elif bad < 0.004:
                became[1] = "31/02/2024"
            elif bad < 0.005:
                stage = "Prospect"
            writer.writerow([
                str(100000 + n), rng.choice(FIRST), rng.choice(LAST), email,
                f"+1 555 {rng.randrange(10000):04d}", "", stage,
                rng.choice(STATUS) if stage in ("Lead", "Subscriber") else "",
                created.strftime("%Y-%m-%d %H:%M"), f"Company {company}", rng.choice(TITLES),
                rng.choice(COUNTRIES), f"company{company}.example" if rng.random() < 0.5 else "",
                rng.choice(SOURCES), "", *became,
            ])  # fmt: skip


def run_import(path: Path, home: Path) -> tuple[float, float, float, dict[str, object]]:
    """Run the CLI import in a child process; its wall time, the CPU time of its processes (user
    and system, the reading process's included), the peak of their summed RSS (MiB, sampled
    every 0.2 s) and its JSON report."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env["ONEFUNNEL_HOME"] = str(home)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        cpu_before = _children_cpu()
        started = time.perf_counter()
        child = subprocess.Popen(
            [ONEFUNNEL, "import", "contacts", str(path), "--from", "hubspot", "--format", "json"],
            cwd=home, env=env, stdout=out, stderr=err, text=True,
        )  # fmt: skip
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, _tree_rss_mib(child.pid))
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"import failed:\n{err.read()}")
        return elapsed, cpu, peak, json.loads(out.read())


def _children_cpu() -> float:
    """User and system CPU seconds of the waited-for descendants so far: on a shared machine
    this moves far less with the load than the wall time does."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_rss_mib(pid: int) -> float:
    """RSS of a process and its direct children, in MiB (0 for those already gone)."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        return 0.0
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total / 2**20


def peak_rss_mib() -> float:
    """Peak RSS of the largest child so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="Smaller run to compare RSS")
    parser.add_argument("--keep", action="store_true", help="Keep bench/out/ afterwards")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    print(f"load average before: {_load()}", file=sys.stderr, flush=True)
    made: list[Path] = []
    results = []
    # Children's peak RSS only grows, so the small file goes first: its number is its own.
    for rows in (args.small, args.rows):
        path = OUT / f"hubspot_{rows}.csv"
        if not path.exists():
            generate(path, rows)
        made += [path, path.with_name(f"{path.stem}.rejects.csv")]
        home = Path(tempfile.mkdtemp(prefix="onefunnel-bench-", dir=OUT))
        try:
            elapsed, cpu, summed, report = run_import(path, home)
            results.append(
                ("import", rows, path.stat().st_size, elapsed, cpu, peak_rss_mib(), summed,
                 report)
            )  # fmt: skip
            print(f"done: import of {rows:,} rows in {elapsed:.1f} s", file=sys.stderr, flush=True)
            if rows == args.rows:
                again, cpu2, summed2, report2 = run_import(path, home)
                print(f"done: re-import in {again:.1f} s", file=sys.stderr, flush=True)
                results.append(
                    ("re-import", rows, path.stat().st_size, again, cpu2, peak_rss_mib(),
                     summed2, report2)
                )  # fmt: skip
        finally:
            shutil.rmtree(home, ignore_errors=True)
    print(f"{'run':<10} {'rows':>10} {'MiB':>7} {'seconds':>8} {'rows/s':>9} {'CPU s':>6}"
          f" {'peak RSS MiB':>13}"
          f" {'summed RSS':>11} {'created':>9} {'updated':>8} {'unchanged':>9} {'skipped':>8}"
          f" {'stage changes':>14}")  # fmt: skip
    for run, rows, size, elapsed, cpu, rss, summed, rep in results:
        print(
            f"{run:<10} {rows:>10,} {size / 2**20:>7.0f} {elapsed:>8.1f} {rows / elapsed:>9,.0f}"
            f" {cpu:>6.0f} {rss:>13.0f} {summed:>11.0f} {rep['created']:>9,} {rep['updated']:>8,}"
            f" {rep['unchanged']:>9,} {rep['skipped']:>8,} {rep['stage_changes']:>14,}"
        )
    print("peak RSS: the largest single process; of the re-import row, the maximum over all runs")
    print("so far (ru_maxrss). summed RSS: peak of the import's processes together (sampled)")
    print("CPU s: user + system time of the import's processes (writer and reader) together")
    print(f"load average after: {_load()} on {os.cpu_count()} cores (the machine's, not ours)")
    if not args.keep:
        # bench/out/ is shared with other benchmarks: remove only this one's files.
        for path in made:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
