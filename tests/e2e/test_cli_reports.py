"""`onefunnel report` and `onefunnel export` as a user runs them, on each database."""

from __future__ import annotations

import json

from tests.e2e.conftest import Install


def test_reports_print_json_csv_and_clear_errors(install: Install) -> None:
    install.run("init")
    result = install.run(
        "report", "funnel", "--from", "2026-01-01", "--to", "2026-03-31", "-f", "json"
    )
    assert json.loads(result.stdout) == []
    csv_out = install.run("report", "scorecard", "--by", "rep", "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("rep,handoffs,accepted,rejected")
    bad = install.run("report", "spend", "--by", "colour", check=False)
    assert bad.returncode == 1
    assert "by: spend can be grouped by campaign, channel" in bad.stderr
    assert "Traceback" not in bad.stderr
    late = install.run(
        "report", "funnel", "--from", "2026-02-01", "--to", "2026-01-01", check=False
    )
    assert late.returncode == 1
    assert "to: 2026-01-01 is before from: 2026-02-01" in late.stderr
    spend = json.loads(install.run("report", "spend", "--ltv-years", "1", "-f", "json").stdout)
    assert spend == []
    horizon = install.run("report", "spend", "--ltv-years", "0", check=False)
    assert horizon.returncode == 1
    assert "ltv_horizon_years: must be more than 0" in horizon.stderr
    assert "Traceback" not in horizon.stderr
    spark = install.run("report", "funnel", "--engine", "spark", check=False)
    assert spark.returncode == 1
    assert "parquet: --engine spark reads an export" in spark.stderr


def test_export_writes_one_parquet_file_per_table(install: Install) -> None:
    install.run("init")
    out = install.home / "export"
    result = install.run("export", "--parquet", str(out), "--format", "json")
    summary = json.loads(result.stdout)
    assert summary["rows"]["onefunnel_touchpoint"] == 0
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(
        f"{table}.parquet" for table in summary["rows"]
    )
