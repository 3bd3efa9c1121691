"""`onefunnel ltv fit|predict` end to end: orders files (and the demo's won deals) in,
fitted parameters and per-customer values out; bad input fails on one line, nothing printed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onefunnel.cli.ltv import PREDICT_COLUMNS, ltv_app
from tests.e2e.conftest import Install

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_sample_orders.csv"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(ltv_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_fit_on_cdnow_prints_the_published_parameters_as_json() -> None:
    code, out, err = run("fit", str(CDNOW), "--calibration-end", "1997-09-30", "--format", "json")

    assert code == 0, err
    fitted = json.loads(out)
    assert set(fitted["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(fitted["gamma_gamma"]) == {"p", "q", "gamma"}
    assert fitted["customers"] == 2357
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert fitted["bgnbd"][name] == pytest.approx(value, rel=0.01)
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert fitted["gamma_gamma"][name] == pytest.approx(value, rel=0.01)


def test_days_as_the_time_unit_scale_alpha_and_nothing_else() -> None:
    weeks = json.loads(run("fit", str(CDNOW), "--calibration-end", "1997-09-30", "-f", "json")[1])
    code, out, err = run(
        "fit", str(CDNOW), "--calibration-end", "1997-09-30", "--time-unit", "days", "-f", "json"
    )
    assert code == 0, err
    days = json.loads(out)
    assert days["bgnbd"]["alpha"] == pytest.approx(7 * weeks["bgnbd"]["alpha"], rel=1e-4)
    for name in ("r", "a", "b"):
        assert days["bgnbd"][name] == pytest.approx(weeks["bgnbd"][name], rel=1e-4)


def test_predict_prints_one_row_per_customer() -> None:
    args = ["predict", str(CDNOW), "--calibration-end", "1997-09-30", "--horizon-weeks", "39"]
    code, out, err = run(*args, "--discount-rate", "0", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == PREDICT_COLUMNS
    assert len(rows) == 2357
    assert len({r["customer_id"] for r in rows}) == 2357
    assert all(0 < float(r["probability_alive"]) <= 1 for r in rows)
    # Customer 1 bought three times in calibration (two repeat purchases).
    first = next(r for r in rows if r["customer_id"] == "1")
    assert first["frequency"] == "2"
    # Out of sample: the 39 weeks after calibration are in the file too (to 1998-06-30); the
    # model's forecast of the base's repeat purchases there lands within 15 % of what happened.
    with CDNOW.open() as handle:
        later = {(r["customer_id"], r["date"]) for r in csv.DictReader(handle)}
    actual = sum(1 for _, day in later if day > "1997-09-30")
    total = sum(float(r["expected_purchases"]) for r in rows)
    assert total == pytest.approx(actual, rel=0.15)
    discounted = run(*args, "--discount-rate", "0.2", "--format", "csv")[1]
    clv = {r["customer_id"]: float(r["clv"]) for r in rows}
    for row in csv.DictReader(io.StringIO(discounted)):
        assert float(row["clv"]) <= clv[row["customer_id"]]


def _orders(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "orders.csv"
    file.write_text(text)
    return file


TODAY = datetime.now(UTC).date()
FUTURE = (TODAY + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        (
            "customer_id,date,amount\na,2024-01-01,10\nb,2024-01-02,-5\n",
            [],
            "row 2: amount: negative",
        ),
        (
            "customer_id,date,amount\na,2024-01-01,10\nb,01/02/2024,5\n",
            [],
            "row 2: date: not a date",
        ),
        ("customer_id,date,amount\na,2024-13-01,10\n", [], "row 1: date: not a date"),
        ("customer_id,date,amount\na,2024-02-30,10\n", [], "row 1: date: not a date"),
        ("customer_id,date,amount\na,1899-12-31,10\n", [], "row 1: date: before 1900-01-01"),
        ("customer_id,date,amount\na,2024-01-01,1e400\n", [], "row 1: amount: not a number"),
        ("customer_id,date,amount\na,2024-01-01,1,2\n", [], "not a readable CSV file"),
        (
            f"customer_id,date,amount\na,2024-01-01,10\nb,{FUTURE},5\n",
            [],
            "row 2: date: in the fut",
        ),
        ("customer_id,date,amount\na,2024-01-01,ten\n", [], "row 1: amount: not a number"),
        ("customer_id,date,amount\n,2024-01-01,1\n", [], "row 1: customer_id: empty"),
        ("customer,date,amount\na,2024-01-01,1\n", [], "no column customer_id"),
        ("customer_id,date,amount\n", [], "no orders"),
        (
            "customer_id,date,amount\na,2024-01-01,10\na,2024-02-01,5\n",
            ["--calibration-end", "2023-12-31"],
            "calibration_end: 2023-12-31 is before the first order (2024-01-01)",
        ),
        (
            "customer_id,date,amount\na,2024-01-01,10\na,2024-02-01,5\n",
            ["--calibration-end", "2024-02-02"],
            "calibration_end: 2024-02-02 is after the data ends (2024-02-01)",
        ),
        (
            "customer_id,date,amount\na,2024-01-01,10\n",
            ["--calibration-end", "2024-1-1x"],
            "calibration_end: not a date",
        ),
        ("customer_id,date,amount\na,2024-01-01,10\n", ["--time-unit", "years"], "time_unit:"),
        (
            "customer_id,date,amount\na,2024-01-01,10\nb,2024-01-05,3\n",
            [],
            "frequency: no customer",
        ),
    ],
)
def test_bad_orders_fail_on_one_line_naming_the_row_or_field(
    tmp_path: Path, text: str, extra: list[str], message: str
) -> None:
    file = _orders(tmp_path, text)
    for command in ("fit", "predict"):
        code, out, err = run(command, str(file), *extra, "--format", "json")
        assert code == 1
        assert out == ""
        assert message in " ".join(err.split())
        assert "Traceback" not in err


def test_same_day_orders_are_one_purchase(tmp_path: Path) -> None:
    lines = ["customer_id,date,amount"]
    # Customer "a" orders twice on two days: one repeat purchase of 30 (10 + 20 the same day).
    lines += ["a,2024-01-01,5", "a,2024-01-08,10", "a,2024-01-08,20"]
    lines += [f"c{i},2024-01-{1 + i % 20:02d},10" for i in range(30)]
    lines += [f"c{i},2024-02-{1 + i % 25:02d},12" for i in range(0, 30, 2)]
    lines += ["z,2024-02-28,1"]
    file = _orders(tmp_path, "\n".join(lines) + "\n")
    code, out, err = run("predict", str(file), "--format", "json")
    assert code == 0, err
    row = next(r for r in json.loads(out) if r["customer_id"] == "a")
    assert row["frequency"] == 1
    assert row["monetary"] == pytest.approx(30.0)
    assert row["recency"] == pytest.approx(1.0)


def test_a_file_or_the_deals_not_both(tmp_path: Path) -> None:
    code, _, err = run("fit", "--format", "json")
    assert code == 1
    assert "give an orders file or --from-deals" in err
    code, _, err = run("fit", str(tmp_path / "missing.csv"))
    assert code == 1
    assert "no such file" in err


def test_fit_from_the_won_deals_of_the_demo_company(install: Install) -> None:
    install.run("demo", "--format", "json")
    fitted = json.loads(install.run("ltv", "fit", "--from-deals", "--format", "json").stdout)
    won_accounts = install.query(
        "SELECT COUNT(DISTINCT account_id) FROM onefunnel_deal "
        "WHERE status = 'won' AND closed_at IS NOT NULL"
    )[0][0]
    assert fitted["customers"] == won_accounts
    assert fitted["calibration_end"] == TODAY.isoformat()
    rows = json.loads(install.run("ltv", "predict", "--from-deals", "--format", "json").stdout)
    assert len(rows) == won_accounts
    assert all(r["clv"] >= 0 for r in rows)


def test_contract_value_from_a_cohorts_retention() -> None:
    # Fader & Hardie (2007), "high end" cohort: published sBG fit α = 0.668, β = 3.806.
    active = "1000,869,743,653,593,551,517,491"
    code, out, err = run("contract", "--active", active, "--margin", "100", "-f", "json")
    assert code == 0, err
    value = json.loads(out)
    assert value["alpha"] == pytest.approx(0.668, rel=0.01)
    assert value["beta"] == pytest.approx(3.806, rel=0.01)
    assert value["survival"][0] == 1.0
    assert len(value["survival"]) == 8
    # The fitted curve extends past the 7 observed renewals, so it is worth more than they are;
    # a long finite horizon approaches the unbounded value.
    assert value["clv"] > value["observed_clv"] > 0
    long = json.loads(
        run("contract", "--active", active, "--margin", "100", "--periods", "3000", "-f", "json")[1]
    )
    assert long["clv"] == pytest.approx(value["clv"], rel=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--active", "1000,1100", "--margin", "10"], "active: period 1: more customers"),
        (["--active", "1000,x", "--margin", "10"], "active: not a comma-separated list"),
        (["--active", "1000,900", "--margin", "-1"], "margin: must be"),
        (["--active", "1000,900", "--margin", "1", "--discount-rate", "-1"], "discount_rate:"),
        (["--active", "1000,900", "--margin", "1", "--periods", "0"], "periods: must be"),
    ],
)
def test_bad_contract_input_fails_on_one_line(args: list[str], message: str) -> None:
    code, out, err = run("contract", *args)
    assert code == 1
    assert out == ""
    assert message in " ".join(err.split())
