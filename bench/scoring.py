"""Benchmark of lead scoring on the medium demo size: 10,000 contacts, 300,000 touches.

Run from the repository root::

    python bench/scoring.py                # medium: 10,000 contacts, 300,000 touches
    python bench/scoring.py --contacts 1000 --touches 30000 --updates 2000 --repeat 5

It builds deterministic synthetic inputs in memory (seeded numpy generator, no database, no
files), then measures

* the full rescore: ``score_many`` over every contact and touch (best and median of --repeat
  runs; the target is <= 5 s), and
* the incremental update when one touch arrives: ``add_touch`` followed by reading the new
  total and checking the MQL threshold, timed one by one over --updates touches (median and p99;
  the target is <= 2 ms median).

It prints one table. Timings depend on the machine and its load: quote them with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onefunnel.domain.scoring import (
    Profile,
    Touch,
    TouchColumns,
    add_touch,
    crosses_threshold,
    default_scoring_model,
    score_many,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)
INDUSTRIES = ["software", "fintech", "retail", "education", "manufacturing", "healthcare"]
COUNTRIES = ["US", "DE", "GB", "FR", "BR", "IN", "JP", "CA"]
SENIORITIES = ["c_level", "vp", "director", "manager", "individual", None]
TITLES = ["VP Sales", "Marketing Manager", "Student", "CTO", "Engineer", "Sales Intern"]
DOMAINS = ["acme.com", "gmail.com", "example.org", "initech.io"]
# Page views and email opens dominate real touch streams; hand-raises are rare.
KINDS = np.array(
    ["page_view", "email_open", "email_click", "ad_click", "high_intent_page",
     "content_download", "webinar", "event", "form_submit", "hand_raise", "call"]
)  # fmt: skip
KIND_WEIGHTS = np.array([0.40, 0.25, 0.08, 0.06, 0.06, 0.05, 0.03, 0.02, 0.02, 0.01, 0.02])


def build_profiles(rng: np.random.Generator, n: int) -> list[Profile]:
    """Contacts with account attributes, some of them missing, as the CRM would hold them."""

    def pick(options: list[str] | list[str | None]) -> str | None:
        return options[int(rng.integers(len(options)))]

    return [
        {
            "industry": pick(INDUSTRIES),
            "employees": int(rng.lognormal(4.5, 1.5)),
            "country": pick(COUNTRIES),
            "seniority": pick(SENIORITIES),
            "job_title": pick(TITLES),
            "email_domain": pick(DOMAINS),
        }
        for _ in range(n)
    ]


def build_touches(rng: np.random.Generator, contacts: int, n: int) -> TouchColumns:
    """Touches spread over the last year, skewed to a minority of very active contacts."""
    activity = rng.pareto(1.5, contacts) + 1
    contact_index = rng.choice(contacts, size=n, p=activity / activity.sum())
    kinds = KINDS[rng.choice(len(KINDS), size=n, p=KIND_WEIGHTS)]
    age_us = (rng.uniform(0, 365, n) * 86_400e6).astype("timedelta64[us]")
    occurred_at = np.datetime64(NOW.replace(tzinfo=None), "us") - age_us
    return TouchColumns(contact_index, kinds, occurred_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--touches", type=int, default=300_000)
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(20250101)
    model = default_scoring_model()
    profiles = build_profiles(rng, args.contacts)
    touches = build_touches(rng, args.contacts, args.touches)

    rescore: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        batch = score_many(profiles, touches, model, NOW)
        rescore.append(time.perf_counter() - started)
    mqls = int((batch.total >= float(model.mql_threshold)).sum())

    # One touch at a time, each for a random contact, as the service would on ingest.
    states = [batch.state(i) for i in range(args.contacts)]
    update_ns: list[int] = []
    crossings = 0
    moment = NOW
    for step in range(args.updates):
        moment += timedelta(seconds=30)
        i = int(rng.integers(args.contacts))
        touch = Touch(str(KINDS[step % len(KINDS)]), moment)
        started_ns = time.perf_counter_ns()
        before = states[i].total_at(moment, model)
        states[i] = add_touch(states[i], touch, model, moment)
        crossings += crosses_threshold(before, states[i].total_at(moment, model), model)
        update_ns.append(time.perf_counter_ns() - started_ns)

    update_ms = sorted(ns / 1e6 for ns in update_ns)
    rows = [
        ("contacts / touches", f"{args.contacts:,} / {args.touches:,}", ""),
        ("full rescore (score_many), best", f"{min(rescore):.3f} s", "<= 5 s"),
        ("full rescore (score_many), median", f"{statistics.median(rescore):.3f} s", "<= 5 s"),
        ("contacts at or over the MQL threshold", f"{mqls:,}", ""),
        (f"one-touch update, median of {args.updates:,}",
         f"{statistics.median(update_ms):.4f} ms", "<= 2 ms"),
        ("one-touch update, p99", f"{update_ms[int(0.99 * (len(update_ms) - 1))]:.4f} ms", ""),
        ("threshold crossings during updates", f"{crossings:,}", ""),
    ]  # fmt: skip
    width = max(len(name) for name, _, _ in rows)
    print(f"{'measure':<{width}}  {'result':>22}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>22}  {target}")


if __name__ == "__main__":
    main()
