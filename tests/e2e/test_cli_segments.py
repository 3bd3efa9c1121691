"""Segments and going cold from the command line, as a user runs them, on each database."""

from __future__ import annotations

import json

from tests.e2e.conftest import Install

WARM = (
    '{"all": [{"type": "stage", "in": ["consideration", "intent"]}, {"type": "score", "min": 10}]}'
)


def test_segments_and_the_nurture_sweep_on_the_demo(install: Install) -> None:
    install.run("demo", "--size", "small", "--seed", "5")
    # The demo has saved segments of its own: counts below are of what this test adds.
    ((segments,),) = install.query("SELECT COUNT(*) FROM onefunnel_segment")
    ((changes,),) = install.query("SELECT COUNT(*) FROM onefunnel_segmentchange")
    install.run("reps", "set", "ana", "--team", "sales", "--create")
    made = json.loads(
        install.run("segments", "create", "warm", "--spec", WARM, "-f", "json").stdout
    )
    assert made["spec"]["subject"] == "contact"
    expected = install.query(
        "SELECT COUNT(*) FROM onefunnel_contact WHERE stage IN ('consideration', 'intent')"
        " AND score >= 10"
    )[0][0]
    assert expected > 0
    counted = json.loads(install.run("segments", "count", "warm", "-f", "json").stdout)
    assert counted["size"] == expected
    page = json.loads(
        install.run("segments", "members", "warm", "--limit", "3", "-f", "json").stdout
    )
    assert len(page) == min(3, expected)
    assert all(m["stage"] in ("consideration", "intent") for m in page)
    preview = json.loads(install.run("segments", "count", "--spec", WARM, "-f", "json").stdout)
    assert preview["size"] == expected

    refreshed = json.loads(install.run("segments", "refresh", "warm", "-f", "json").stdout)
    assert (refreshed[0]["size"], refreshed[0]["entered"], refreshed[0]["left"]) == (
        expected, expected, 0,
    )  # fmt: skip
    install.run("segments", "refresh", "warm")
    history = json.loads(install.run("segments", "history", "warm", "-f", "json").stdout)
    assert [(h["size"], h["entered"], h["left"]) for h in history] == [
        (expected, expected, 0), (expected, 0, 0),
    ]  # fmt: skip
    assert install.query("SELECT COUNT(*) FROM onefunnel_segmentchange") == [(changes + expected,)]
    listed = json.loads(install.run("segments", "list", "-f", "json").stdout)
    # (beside the demo's own saved segments)
    assert [(s["name"], s["size_at_refresh"]) for s in listed if s["name"] == "warm"] == [
        ("warm", expected)
    ]

    bad = install.run(
        "segments", "create", "bad", "--spec",
        '{"all": [{"type": "touches", "within_days": -1}, {"type": "stage", "in": ["hot"]}]}',
        check=False,
    )  # fmt: skip
    assert bad.returncode == 1
    assert "spec.all[0].within_days: must be between 1" in bad.stderr
    assert "spec.all[1].in[0]: unknown stage 'hot'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
    not_json = install.run("segments", "create", "bad", "--spec", "{", check=False)
    assert not_json.returncode == 1
    assert "spec: not valid JSON" in not_json.stderr
    denied = install.run("segments", "create", "mine", "--spec", WARM, "--as", "ana", check=False)
    assert denied.returncode == 3
    missing = install.run("segments", "count", "nope", check=False)
    assert missing.returncode == 4
    assert install.query("SELECT COUNT(*) FROM onefunnel_segment") == [(segments + 1,)]

    dry = json.loads(install.run("nurture", "sweep", "--dry-run", "-f", "json").stdout)
    would = sum(r["would_go_cold"] for r in dry)
    done = json.loads(install.run("nurture", "sweep", "-f", "json").stdout)
    assert sum(r["went_cold"] for r in done) == would
    cold = install.query("SELECT COUNT(*) FROM onefunnel_stagechange WHERE reason = 'went_cold'")
    assert cold == [(would,)]
    again = json.loads(install.run("nurture", "sweep", "-f", "json").stdout)
    assert sum(r["went_cold"] for r in again) == 0
    install.run("segments", "delete", "warm")
    assert install.query("SELECT COUNT(*) FROM onefunnel_segmentchange") == [(changes,)]
