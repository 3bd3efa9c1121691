"""Lifetime-value benchmark: onefunnel's BG/NBD + Gamma-Gamma fits against `lifetimes`.

Run it from the repository root with the project's virtualenv:

    /work/venv/bin/python bench/ltv.py                        # CDNOW and CDNOW × 1,000,000
    /work/venv/bin/python bench/ltv.py --customers 200000     # a quicker replicated size

What it does, in one run on the same data:

1. Reads the CDNOW sample (tests/fixtures/cdnow_sample_orders.csv: 2,357 customers, 39 weeks of
   calibration ending 1997-09-30) with onefunnel's reader and summarises it in weeks; writes
   that summary (frequency, recency, T, monetary) to bench/out/ (gitignored), and a copy
   replicated row by row to --customers customers (the published parameters do not change).
2. Creates bench/out/venv-lifetimes when missing and installs `lifetimes` 0.11.3 there (it
   needs pandas < 2 and numpy < 2, so it cannot share the project's environment).
3. Runs each tool in its own process on each summary: the worker loads the CSV (not timed into
   the fit) and times the BG/NBD fit and the Gamma-Gamma fit (on the repeat buyers). lifetimes
   runs as its users call it (one row per customer), and again with its `weights` argument on
   the distinct rows (what onefunnel does inside its fit), for a like-for-like look.
4. Prints one table: fit seconds, the ratio to lifetimes, process wall time and peak memory,
   the parameters, and whether they agree with lifetimes to 4 significant digits. Above the
   table, onefunnel end to end on CDNOW (read the orders CSV, summarise, fit both), best of 5,
   and the published parameters (Fader, Hardie & Lee 2005; Gamma-Gamma note) for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import _venv  # bench/_venv.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's onefunnel, whichever is installed
OUT = ROOT / "bench" / "out"
CDNOW = ROOT / "tests" / "fixtures" / "cdnow_sample_orders.csv"
CALIBRATION_END = date(1997, 9, 30)
REFERENCE_VENV = OUT / "venv-lifetimes"
REFERENCE_REQUIREMENTS = ["lifetimes==0.11.3", "pandas<2", "numpy<2", "scipy<1.14"]
PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}
PARAMS = tuple(PUBLISHED)


# ---------------------------------------------------------------------------------------------
# Workers (run in their own process)


def _load(file: Path) -> dict[str, Any]:
    import numpy as np

    data = np.loadtxt(file, delimiter=",", skiprows=1, ndmin=2)
    return {"x": data[:, 0], "t_x": data[:, 1], "T": data[:, 2], "m": data[:, 3]}


def worker(name: str, file: Path) -> None:
    """Fit both models with one tool and print one JSON line: times and parameters."""
    start = time.perf_counter()
    if name == "ours":
        from onefunnel.domain.ltv import CustomerSummary, fit_bgnbd, fit_gamma_gamma

        d = _load(file)
        summary = CustomerSummary.of(d["x"], d["t_x"], d["T"], d["m"])
        loaded = time.perf_counter()
        b = fit_bgnbd(summary)
        fitted_b = time.perf_counter()
        g = fit_gamma_gamma(summary)
        done = time.perf_counter()
        params = {
            "r": b.r,
            "alpha": b.alpha,
            "a": b.a,
            "b": b.b,
            "p": g.p,
            "q": g.q,
            "gamma": g.gamma,
        }
    else:
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        frame = pd.read_csv(file)
        loaded = time.perf_counter()
        if name == "lifetimes-weighted":
            # Collapse identical rows into weights (timed: it is part of the fit's cost).
            bg = frame.groupby(["frequency", "recency", "T"]).size().reset_index(name="w")
            bgf = BetaGeoFitter().fit(bg["frequency"], bg["recency"], bg["T"], weights=bg["w"])
        else:
            bgf = BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"])
        fitted_b = time.perf_counter()
        buyers = frame[(frame["frequency"] > 0) & (frame["monetary"] > 0)]
        if name == "lifetimes-weighted":
            gg = buyers.groupby(["frequency", "monetary"]).size().reset_index(name="w")
            ggf = GammaGammaFitter().fit(gg["frequency"], gg["monetary"], weights=gg["w"])
        else:
            ggf = GammaGammaFitter().fit(buyers["frequency"], buyers["monetary"])
        done = time.perf_counter()
        params = {k: float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")}
        params |= {"p": float(ggf.params_["p"]), "q": float(ggf.params_["q"])}
        params["gamma"] = float(ggf.params_["v"])
    result = {
        "load_s": loaded - start,
        "bgnbd_s": fitted_b - loaded,
        "gamma_gamma_s": done - fitted_b,
        "params": params,
    }
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------
# Driver


@dataclass
class Outcome:
    data: str
    tool: str
    wall_s: float | None = None
    peak_mb: float | None = None
    fit_s: float | None = None
    params: dict[str, float] | None = None
    error: str | None = None


def write_summaries(customers: int) -> tuple[Path, Path, int]:
    """The CDNOW summary, read and summarised by onefunnel, and its replicated copy."""
    import numpy as np

    from onefunnel.domain.ltv import summarise_orders
    from onefunnel.services.ltv import TimeUnit, read_orders

    orders = read_orders(CDNOW)
    end = (CALIBRATION_END - date(1970, 1, 1)).days
    s = summarise_orders(
        orders.customers, orders.days, orders.amounts,
        calibration_end=end, days_per_unit=TimeUnit.weeks.days_per_unit,
    )  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    table = np.column_stack([s.frequency, s.recency, s.age, s.monetary])
    header = "frequency,recency,T,monetary"
    small = OUT / "ltv_cdnow.csv"
    np.savetxt(small, table, delimiter=",", header=header, comments="", fmt="%.17g")
    big = OUT / f"ltv_cdnow_{customers}.csv"
    if not big.exists():
        rows = np.resize(table, (customers, 4))  # the rows repeated in order, cut at `customers`
        np.savetxt(big, rows, delimiter=",", header=header, comments="", fmt="%.17g")
    return small, big, len(s)


def ours_end_to_end(repeat: int = 5) -> float:
    """Best wall time of: read the CDNOW orders CSV, summarise, fit BG/NBD and Gamma-Gamma."""
    from onefunnel.services.ltv import fit_orders, read_orders

    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fit_orders(read_orders(CDNOW), calibration_end=CALIBRATION_END)
        best = min(best, time.perf_counter() - start)
    return best


def ensure_reference_venv() -> str | None:
    """Create the reference tools' virtualenv; return an error text if that fails."""
    return _venv.ensure_reference_venv(REFERENCE_VENV, REFERENCE_REQUIREMENTS, "import lifetimes")


def run_job(data: str, tool: str, python: Path | str, file: Path) -> Outcome:
    """One worker in a fresh process; wall time and peak RSS from wait4."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    stdout, stderr = OUT / f"ltv-{tool}-{data}.out", OUT / f"ltv-{tool}-{data}.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(python), __file__, "--worker", tool, "--data", str(file)],
            stdout=out, stderr=err, env=env, cwd=ROOT,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    outcome = Outcome(data, tool, wall_s=wall, peak_mb=usage.ru_maxrss / 1024)
    lines = stdout.read_text().strip().splitlines()
    if os.waitstatus_to_exitcode(status) != 0 or not lines:
        tail = stderr.read_text().strip().splitlines()
        outcome.error = (tail[-1] if tail else "no output")[:160]
        return outcome
    result = json.loads(lines[-1])
    outcome.fit_s = result["bgnbd_s"] + result["gamma_gamma_s"]
    outcome.params = result["params"]
    return outcome


def _agree(a: dict[str, float], b: dict[str, float]) -> str:
    """The largest relative difference, and "yes" when it is within 4 significant digits."""
    worst = max(abs(a[k] - b[k]) / abs(b[k]) for k in PARAMS)
    return f"{'yes' if worst <= 5e-4 else 'NO'} ({worst:.1e})"


def report(outcomes: list[Outcome], end_to_end: float, customers: int) -> None:
    print(f"\nonefunnel end to end on CDNOW (read CSV, summarise, fit both): {end_to_end:.3f} s")
    print("published: " + ", ".join(f"{k} = {v}" for k, v in PUBLISHED.items()))
    print()
    head = (
        f"{'data':<12} {'tool':<20} {'fit s':>8} {'× lifetimes':>11} {'wall s':>8} {'peak MB':>8}"
    )
    print(head + "  " + " ".join(f"{k:>8}" for k in PARAMS) + "  agree to 4 s.f. (max rel diff)")
    print("-" * (len(head) + 2 + 9 * len(PARAMS) + 14))
    by_key = {(o.data, o.tool): o for o in outcomes}
    for o in outcomes:
        if o.error:
            print(f"{o.data:<12} {o.tool:<20} failed: {o.error}")
            continue
        assert o.params is not None
        assert o.fit_s is not None
        ref = by_key.get((o.data, "lifetimes"))
        ratio = f"{o.fit_s / ref.fit_s:.3f}" if ref and ref.fit_s and not ref.error else "—"
        agree = "—"
        if o.tool != "lifetimes" and ref and ref.params:
            agree = _agree(o.params, ref.params)
        values = " ".join(f"{o.params[k]:>8.4g}" for k in PARAMS)
        print(
            f"{o.data:<12} {o.tool:<20} {o.fit_s:>8.3f} {ratio:>11} {o.wall_s or 0:>8.2f}"
            f" {o.peak_mb or 0:>8.0f}  {values}  {agree}"
        )
    print(
        f"\n(`× lifetimes`: fit time over lifetimes' on the same data; 'cdnow×N' has N = {customers:,})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--skip-lifetimes", action="store_true", help="only onefunnel")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    small, big, _ = write_summaries(args.customers)
    end_to_end = ours_end_to_end()
    venv_error = None if args.skip_lifetimes else ensure_reference_venv()
    reference = REFERENCE_VENV / "bin" / "python"
    outcomes: list[Outcome] = []
    for data, file in (("cdnow", small), ("cdnow×N", big)):
        for tool in ("ours", "lifetimes", "lifetimes-weighted"):
            if tool != "ours" and args.skip_lifetimes:
                continue
            if tool != "ours" and venv_error:
                outcomes.append(Outcome(data, tool, error=f"not installed: {venv_error}"))
                continue
            python = sys.executable if tool == "ours" else reference
            print(f"running {tool} on {data} …", flush=True)
            outcomes.append(run_job(data, tool, python, file))
    report(outcomes, end_to_end, args.customers)


if __name__ == "__main__":
    main()
