"""The plan from the command line as a user runs it, on each database: targets, forecast,
the reverse funnel, saved plans, budgets and plan beside actual; clear one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.e2e.conftest import Install

NEXT = datetime.now(UTC).year + 1
JAN, FEB, MAR, QUARTER = f"{NEXT}-01", f"{NEXT}-02", f"{NEXT}-03", f"{NEXT}-Q1"


def test_plan_commands_end_to_end(install: Install) -> None:
    install.run("init")
    install.run("targets", "set", "--month", JAN, "--metric", "deals_won", "--value", "4")
    listed = json.loads(install.run("targets", "list", "-f", "json").stdout)
    assert [(t["metric"], t["value"], t["actual"]) for t in listed] == [("deals_won", 4.0, 0)]
    csv = install.home / "targets.csv"
    csv.write_text(f"month,metric,value\n{JAN},mqls,10\n{FEB},mqls,x\n", encoding="utf-8")
    bad = install.run("targets", "import", str(csv), check=False)
    assert bad.returncode == 1
    assert "row 2: value: not a number" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert install.query("SELECT COUNT(*) FROM onefunnel_target") == [(1,)]

    # An empty company: no rates to plan with, and the plan says where it stops.
    plan = json.loads(install.run("plan", "--revenue", "500000", "--period", QUARTER,
                                  "-f", "json").stdout)  # fmt: skip
    assert plan["reachable"] is False
    assert plan["limits"][0].startswith("deals_won: cannot reach the target")
    refused = install.run("plan", "--revenue", "500000", "--period", QUARTER, "--save",
                          check=False)  # fmt: skip
    assert refused.returncode == 1
    assert "plan: cannot be saved" in refused.stderr
    assert install.query("SELECT COUNT(*) FROM onefunnel_plan") == [(0,)]
    for args, message in [
        (("--revenue", "0", "--period", QUARTER), "revenue: the target must be a positive"),
        (("--revenue", "10", "--period", "2001-Q1"), "period: 2001-Q1 is in the past"),
    ]:
        result = install.run("plan", *args, check=False)
        assert result.returncode == 1
        assert message in result.stderr

    forecast = json.loads(install.run("forecast", "--period", QUARTER, "-f", "json").stdout)
    assert [m["month"] for m in forecast["months"]] == [JAN, FEB, MAR, "total"]
    backtest = json.loads(install.run("forecast", "--backtest", "-f", "json").stdout)
    assert [e["forecast"] for e in backtest["errors"]] == ["stage", "history", "naive"]
    assert json.loads(install.run("plans", "list", "-f", "json").stdout) == []
    missing = install.run("report", "plan", "--plan", "7", check=False)
    assert missing.returncode == 4  # not found
    assert "plan: no plan #7" in missing.stderr
    denied = install.run("forecast-category", "1", "commit", "--as", "nobody", check=False)
    assert denied.returncode == 4  # no such user
    assert "as: no user 'nobody'" in denied.stderr
