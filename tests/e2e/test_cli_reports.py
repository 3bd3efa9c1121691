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


def test_report_by_segment_says_which_and_refuses_spend(install: Install) -> None:
    install.run("init")
    install.run("segments", "create", "everyone", "--spec", '{"all": []}')
    table = install.run("report", "funnel", "--segment", "everyone").stdout
    assert "segment 'everyone': 0 contacts as of its last refresh" in " ".join(table.split())
    as_json = install.run("report", "scorecard", "--segment", "everyone", "-f", "json")
    assert json.loads(as_json.stdout) == []
    assert "segment 'everyone'" in as_json.stderr
    unknown = install.run("report", "funnel", "--segment", "nobody", check=False)
    assert unknown.returncode != 0
    assert unknown.stderr.strip().splitlines() == ["error: segment: no segment 'nobody'"]
    spend = install.run("report", "spend", "--segment", "everyone", check=False)
    assert spend.returncode == 1
    assert "segment: the spend report counts money, not contacts" in spend.stderr
    assert "Traceback" not in spend.stderr + unknown.stderr
    spark = install.run("report", "funnel", "--segment", "everyone", "--engine", "spark",
                        "--parquet", str(install.home), check=False)  # fmt: skip
    assert spark.returncode == 1
    assert "segment: a Parquet export holds no segment membership" in spark.stderr


def test_export_a_segments_contacts_as_csv(install: Install) -> None:
    install.run("init")
    install.run("segments", "create", "everyone", "--spec", '{"all": []}')
    to_stdout = install.run("export", "--segment", "everyone")
    assert to_stdout.stdout.splitlines() == [
        "id,email,first_name,last_name,title,phone,country,stage,score,owner,account_id,"
        "account,created_at"
    ]
    assert "0 contacts of segment 'everyone'" in to_stdout.stderr
    target = install.home / "everyone.csv"
    install.run("export", "--segment", "everyone", "--out", str(target))
    assert target.read_text().startswith("id,email,")
    assert target.stat().st_mode & 0o077 == 0
    neither = install.run("export", check=False)
    assert neither.returncode == 1
    assert "parquet: give --parquet DIR" in neither.stderr
    unknown = install.run("export", "--segment", "nobody", check=False)
    assert unknown.returncode != 0
    assert "segment: no segment 'nobody'" in unknown.stderr
    assert "Traceback" not in unknown.stderr + neither.stderr
