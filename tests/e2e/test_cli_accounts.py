"""Account management from the command line on the demo, as a user runs it, on each database:
contracts, renewals, health, churn risk, expansion and the retention report; bad input is one
line on stderr and a non-zero exit, never a traceback, and writes nothing."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Install

pytestmark = pytest.mark.slow


def test_accounts_commands_on_the_demo(install: Install) -> None:
    install.run("demo", "--size", "small", "--seed", "5")
    contracts = json.loads(install.run("contracts", "list", "--format", "json").stdout)
    assert contracts
    assert {c["status"] for c in contracts} <= {"active", "renewed", "ended"}
    account_id = contracts[0]["account_id"]

    health = json.loads(install.run("health", str(account_id), "--format", "json").stdout)
    assert 0 <= float(health["score"]) <= 100
    assert sum(line["points"] for line in health["lines"]) == pytest.approx(float(health["score"]))
    validation = json.loads(install.run("health", "--validate", "--format", "json").stdout)
    assert validation["auc"] > 0.5
    risk = json.loads(install.run("churn-risk", "--format", "json").stdout)
    values = [float(r["value_at_risk"]) for r in risk]
    assert values == sorted(values, reverse=True)
    install.run("expansion", "--format", "csv")
    first = install.run("renewals", "list", "--format", "json")
    second = install.run("renewals", "list", "--format", "json")
    assert json.loads(first.stdout) == json.loads(second.stdout)  # the check opens each once
    report = install.run("report", "retention", "--by", "period", "--format", "csv").stdout
    assert report.splitlines()[0].startswith("period,currency,customers_start,")
    assert len(report.splitlines()) == 2  # one currency, one period

    before = install.query("SELECT COUNT(*) FROM onefunnel_contract")
    bad = install.run(
        "contracts", "add", "--account", str(account_id), "--product", "Core",
        "--amount", "100", "--start", "2026-02-01", "--end", "2026-01-01", check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "end: 2026-01-01 is before start 2026-02-01" in bad.stderr
    assert "Traceback" not in bad.stderr
    absurd = install.run(
        "contracts", "add", "--account", str(account_id), "--product", "Core",
        "--amount", "1e999", "--start", "9999-12-31", "--end", "9999-12-31", check=False,
    )  # fmt: skip
    assert absurd.returncode == 1
    assert "Traceback" not in absurd.stderr
    assert install.query("SELECT COUNT(*) FROM onefunnel_contract") == before
    unknown = install.run("contracts", "end", "999999", check=False)
    assert unknown.returncode == 4  # not found
    assert "no contract #999999" in unknown.stderr
