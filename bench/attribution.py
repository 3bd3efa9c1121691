"""Attribution benchmark: onefunnel against ChannelAttribution and marketing-attribution-models.

Run it from the repository root with the project's virtualenv:

    /work/venv/bin/python bench/attribution.py                 # 1,000,000 paths, all tasks
    /work/venv/bin/python bench/attribution.py --rows 100000   # a quicker look
    /work/venv/bin/python bench/attribution.py --tasks markov  # one task (markov, heuristics, shapley)

What it does, in one run on the same data:

1. Generates once (deterministic seed) a grouped-paths file in bench/out/ (gitignored):
   `path;total_conversions;total_conversion_value;total_null`, 20 channels, paths drawn from a
   random first-order chain with lengths 1 + Poisson(8) (mean ≈ 9), distinct paths only, each
   followed by 1 + Poisson(3) journeys whose conversions depend on the channels they touched.
2. Creates bench/.venv (gitignored) when missing and installs the reference tools there, because
   `channelattribution` compiles C++ (and needs matplotlib to import) and
   `marketing-attribution-models` brings its own pins (Polars, pandas).
3. Runs each tool in its own subprocess, one task at a time, and reads that process's wall time and
   peak RSS from os.wait4 (each process's data segment is capped at --memory-cap-gb, 16 GB). Inside, each worker reports its load time (reading the file into the
   tool's native input) and its model time (the model call itself; ChannelAttribution and
   marketing-attribution-models split path strings inside that call, onefunnel while loading, so
   the end-to-end column is the fairer one and the table shows both ratios).
4. Prints a table and, where both ran, how far onefunnel's credits are from the reference's.

Tasks: `markov` (order 1; ChannelAttribution's markov_model with default settings, which simulates,
and marketing-attribution-models' run_markov, exact but memory-hungry: it runs only when the
machine has more than --mam-markov-min-gb of memory available), `heuristics` (onefunnel's seven
rule-based models against ChannelAttribution's heuristic_models: first, last, linear) and
`shapley` (against marketing-attribution-models' run_shapley, default settings).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _venv  # bench/_venv.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
REFERENCE_VENV = ROOT / "bench" / ".venv"
REFERENCE_REQUIREMENTS = [
    "channelattribution==2.2.5",
    "matplotlib>=3.8",
    "marketing-attribution-models==2.1.1",
]
CHANNELS = [
    "search", "social", "email", "display", "direct", "video", "affiliate", "referral",
    "webinar", "event", "podcast", "partner", "review_site", "retargeting", "sms", "push",
    "print", "radio", "tv", "content",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Data


def generate(file: Path, rows: int, seed: int) -> None:
    """Write `rows` distinct grouped paths (see the module docstring) to `file`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = len(CHANNELS)
    transition = rng.dirichlet(np.full(n, 0.6), size=n)
    cumulative = np.cumsum(transition, axis=1)
    first = rng.dirichlet(np.full(n, 1.0))
    lift = rng.normal(0.0, 0.5, size=n)
    seen: dict[str, None] = {}
    lines: list[str] = []
    while len(lines) < rows:
        batch = int((rows - len(lines)) * 1.05) + 100
        lengths = 1 + rng.poisson(8, size=batch)
        steps = np.zeros((batch, lengths.max()), dtype=np.int64)
        steps[:, 0] = rng.choice(n, size=batch, p=first)
        for t in range(1, lengths.max()):
            draw = rng.random(batch)
            steps[:, t] = (draw[:, None] > cumulative[steps[:, t - 1]]).sum(axis=1).clip(0, n - 1)
        touched = np.zeros((batch, n), dtype=bool)
        for t in range(lengths.max()):
            active = lengths > t
            touched[np.flatnonzero(active), steps[active, t]] = True
        rate = 1 / (1 + np.exp(-(-2.5 + touched @ lift * 0.6 + 0.05 * lengths)))
        journeys = 1 + rng.poisson(3, size=batch)
        conversions = rng.binomial(journeys, rate)
        value = np.round(conversions * rng.lognormal(4.5, 0.6, size=batch), 2)
        for i in range(batch):
            path = " > ".join(CHANNELS[c] for c in steps[i, : lengths[i]])
            if path in seen:
                continue
            seen[path] = None
            nulls = journeys[i] - conversions[i]
            lines.append(f"{path};{conversions[i]};{value[i]};{nulls}")
            if len(lines) == rows:
                break
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    with tmp.open("w") as out:
        out.write("path;total_conversions;total_conversion_value;total_null\n")
        out.write("\n".join(lines))
        out.write("\n")
    tmp.replace(file)


# ---------------------------------------------------------------------------------------------
# Workers: each runs in its own process and prints one JSON line


def _timed(load: Any, model: Any) -> dict[str, Any]:
    start = time.perf_counter()
    data = load()
    loaded = time.perf_counter()
    credits = model(data)
    done = time.perf_counter()
    return {"load_s": loaded - start, "model_s": done - loaded, "credits": credits}


def _ours(file: Path, models: list[str]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from onefunnel.domain.attribution import credit_vectors, parse_models
    from onefunnel.services.attribution_files import AttributionFileOptions, read_journeys

    def model(journeys: Any) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for name in parse_models(models):
            credit = credit_vectors(journeys, name, order=1)
            out[name.value] = dict(zip(journeys.channels, credit.conversions.tolist(), strict=True))
        return out

    return _timed(lambda: read_journeys(file, AttributionFileOptions()), model)


def _ca_frame(file: Path) -> Any:
    pandas = importlib.import_module("pandas")
    return pandas.read_csv(file, sep=";")


def _ca_markov(file: Path) -> dict[str, Any]:
    ca = importlib.import_module("ChannelAttribution")

    def model(frame: Any) -> dict[str, dict[str, float]]:
        result = ca.markov_model(
            frame,
            "path",
            "total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            verbose=False,
            flg_pro=False,
        )
        table = result if not isinstance(result, dict) else result["result"]
        return {"markov": dict(zip(table["channel_name"], table["total_conversions"], strict=True))}

    return _timed(lambda: _ca_frame(file), model)


def _ca_heuristics(file: Path) -> dict[str, Any]:
    ca = importlib.import_module("ChannelAttribution")

    def model(frame: Any) -> dict[str, dict[str, float]]:
        table = ca.heuristic_models(
            frame, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
        )
        return {
            name: dict(zip(table["channel_name"], table[f"{name}_touch_conversions"], strict=True))
            for name in ("first", "last", "linear")
        }

    return _timed(lambda: _ca_frame(file), model)


def _mam_frame(file: Path) -> Any:
    """The grouped file in MAM's grouped_journey layout: one row per path and outcome."""
    pl = importlib.import_module("polars")
    frame = pl.read_csv(file, separator=";")
    converted = frame.filter(pl.col("total_conversions") > 0).select(
        pl.col("path"),
        pl.col("total_conversions").alias("occurrences"),
        pl.lit(True).alias("has_conversion"),
    )
    lost = frame.filter(pl.col("total_null") > 0).select(
        pl.col("path"),
        pl.col("total_null").alias("occurrences"),
        pl.lit(False).alias("has_conversion"),
    )
    return pl.concat([converted, lost])


def _mam(file: Path, task: str) -> dict[str, Any]:
    mam = importlib.import_module("mam")

    def model(frame: Any) -> dict[str, dict[str, float]]:
        runner = mam.MAM(
            frame,
            "grouped_journey",
            channels_colname="path",
            journey_with_conv_colname="has_conversion",
            occurrences_colname="occurrences",
        )
        if task == "markov":
            result = runner.run_markov()
            effects = result.metadata["removal_effect"]["removal_effect"]
            return {"markov_removal_effects": {k: float(v) for k, v in effects.items()}}
        # MAM's Shapley (conversion-rate worth, channel sets cut to 4) is another definition,
        # so its credits are reported but not compared.
        table = runner.run_shapley().to_dict()
        return {"mam_shapley": dict(zip(table["channels"], table["attribution"], strict=True))}

    return _timed(lambda: _mam_frame(file), model)


def _ours_removal_effects(file: Path) -> dict[str, float]:
    from onefunnel.domain.attribution import markov_removal_effects
    from onefunnel.services.attribution_files import AttributionFileOptions, read_journeys

    journeys = read_journeys(file, AttributionFileOptions())
    effects = markov_removal_effects(journeys, 1).conversions.tolist()
    return dict(zip(journeys.channels, effects, strict=True))


HEURISTICS = ["first", "last", "last_non_direct", "linear", "time_decay", "position", "w_shaped"]
WORKERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "ours_markov": lambda f: _ours(f, ["markov"]),
    "ours_heuristics": lambda f: _ours(f, HEURISTICS),
    "ours_shapley": lambda f: _ours(f, ["shapley"]),
    "ca_markov": _ca_markov,
    "ca_heuristics": _ca_heuristics,
    "mam_markov": lambda f: _mam(f, "markov"),
    "mam_shapley": lambda f: _mam(f, "shapley"),
}


def worker(name: str, file: Path) -> None:
    """Run one job and print its timings and credits as one JSON line on stdout."""
    print(json.dumps(WORKERS[name](file), default=float))


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Outcome:
    task: str
    tool: str
    load_s: float | None = None
    model_s: float | None = None
    wall_s: float | None = None
    peak_mb: float | None = None
    credits: dict[str, dict[str, float]] | None = None
    error: str | None = None
    ours_removal_effects: dict[str, float] | None = None


def ensure_reference_venv() -> str | None:
    """Create the reference tools' virtualenv; return an error text if that fails."""
    return _venv.ensure_reference_venv(
        REFERENCE_VENV,
        REFERENCE_REQUIREMENTS,
        "import matplotlib, ChannelAttribution, mam",
        upgrade_pip=True,
    )


def run_job(
    task: str, tool: str, job: str, python: Path | str, file: Path, cap_gb: float
) -> Outcome:
    """Run one worker in a fresh process; wall time and peak RSS come from wait4. Its data
    segment is capped (RLIMIT_DATA) so a hungry tool fails alone instead of starving the machine."""
    cap = int(cap_gb * 1024**3)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    stdout = OUT / f"{job}.out"
    stderr = OUT / f"{job}.err"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with stdout.open("w") as out, stderr.open("w") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [str(python), __file__, "--worker", job, "--data", str(file)],
            stdout=out,
            stderr=err,
            env=env,
            cwd=ROOT,
            preexec_fn=limit,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    outcome = Outcome(task, tool, wall_s=wall, peak_mb=usage.ru_maxrss / 1024)
    lines = stdout.read_text().strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = stderr.read_text().strip().splitlines()
        outcome.error = (tail[-1] if tail else f"exit {process.returncode}")[:160]
        return outcome
    result = json.loads(lines[-1])
    outcome.load_s, outcome.model_s = result["load_s"], result["model_s"]
    outcome.credits = result["credits"]
    return outcome


def available_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def report(outcomes: list[Outcome], file: Path, rows: int) -> None:
    print(
        f"\nattribution benchmark: {rows:,} grouped paths, {len(CHANNELS)} channels ({file.name})"
    )
    print("load = read the file into the tool's input; model = the model call; wall = process")
    header = f"{'task':<11}{'tool':<42}{'load s':>8}{'model s':>9}{'wall s':>9}{'peak MB':>9}"
    print(header + "  ratio model / e2e (reference ÷ onefunnel)")
    print("-" * (len(header) + 42))
    ours = {o.task: o for o in outcomes if o.tool == "onefunnel"}
    for o in outcomes:
        ratio = ""
        base = ours.get(o.task)
        if o.tool != "onefunnel" and base and o.model_s is not None and base.model_s:
            e2e = (o.load_s or 0) + o.model_s
            base_e2e = (base.load_s or 0) + base.model_s
            ratio = f"  {o.model_s / base.model_s:7.1f}× / {e2e / base_e2e:5.1f}×"
        line = (
            f"{o.task:<11}{o.tool:<42}{_fmt(o.load_s):>8}{_fmt(o.model_s):>9}"
            f"{_fmt(o.wall_s):>9}{_fmt(o.peak_mb, 0):>9}{ratio}"
        )
        print(line + (f"  FAILED: {o.error}" if o.error else ""))
    _agreement(outcomes)


def _agreement(outcomes: list[Outcome]) -> None:
    ours = {o.task: o.credits for o in outcomes if o.tool == "onefunnel" and o.credits}
    for o in outcomes:
        if o.tool == "onefunnel" or not o.credits:
            continue
        for model, theirs in o.credits.items():
            if model == "markov_removal_effects":
                mine = o.ours_removal_effects
                if mine:
                    diff = max(abs(mine[c] - theirs[c]) for c in theirs)
                    print(f"markov removal effects, onefunnel vs {o.tool}: max |diff| = {diff:.2e}")
                continue
            mine_credit = (ours.get(o.task) or {}).get(model)
            if not mine_credit:
                continue
            worst = max(abs(mine_credit[c] - v) / max(abs(v), 1e-12) for c, v in theirs.items())
            print(f"{model:<8} credits, onefunnel vs {o.tool}: max relative diff = {worst:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--tasks", default="markov,heuristics,shapley")
    parser.add_argument("--mam-markov-min-gb", type=float, default=18.0)
    parser.add_argument("--memory-cap-gb", type=float, default=16.0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return

    file = OUT / f"paths_{args.rows}_{args.seed}.csv"
    if not file.exists():
        print(f"generating {file} …")
        started = time.perf_counter()
        generate(file, args.rows, args.seed)
        print(f"generated in {time.perf_counter() - started:.1f} s")
    venv_error = ensure_reference_venv()
    reference_python = REFERENCE_VENV / "bin" / "python"

    plan = {
        "markov": [("onefunnel", "ours_markov"), ("channelattribution markov_model", "ca_markov"),
                   ("marketing-attribution-models run_markov", "mam_markov")],
        "heuristics": [("onefunnel (7 models)", "ours_heuristics"),
                       ("channelattribution heuristic_models", "ca_heuristics")],
        "shapley": [("onefunnel", "ours_shapley"),
                    ("marketing-attribution-models run_shapley", "mam_shapley")],
    }  # fmt: skip
    outcomes: list[Outcome] = []
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        for tool, job in plan[task]:
            label = "onefunnel" if job.startswith("ours") else tool
            if not job.startswith("ours") and venv_error:
                outcomes.append(Outcome(task, label, error=f"not installed: {venv_error}"))
                continue
            if job == "mam_markov" and available_gb() < args.mam_markov_min_gb:
                why = f"skipped: {available_gb():.1f} GB available < {args.mam_markov_min_gb} GB"
                outcomes.append(Outcome(task, label, error=why))
                continue
            python = sys.executable if job.startswith("ours") else reference_python
            print(f"running {job} …", flush=True)
            outcome = run_job(task, label, job, python, file, args.memory_cap_gb)
            if job == "mam_markov" and outcome.credits:
                sys.path.insert(0, str(ROOT))
                outcome.ours_removal_effects = _ours_removal_effects(file)
            outcomes.append(outcome)
    report(outcomes, file, args.rows)


if __name__ == "__main__":
    main()
