"""``onefunnel import`` as a user runs it: a fresh SQLite home, JSON reports, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ONEFUNNEL = str(Path(sys.executable).with_name("onefunnel"))

pytestmark = pytest.mark.slow


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["ONEFUNNEL_HOME"] = str(home)
    return subprocess.run(
        [ONEFUNNEL, *args],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dry_run_then_import_then_again(tmp_path: Path) -> None:
    contacts = str(FIXTURES / "hubspot_contacts.csv")
    rejects = str(tmp_path / "rejects.csv")
    dry = _run(tmp_path, "import", "contacts", contacts, "--from", "HubSpot", "--dry-run",
               "--rejects", rejects, "--format", "json")  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    first = _run(
        tmp_path,
        "import",
        "contacts",
        contacts,
        "--from",
        "hubspot",
        "--rejects",
        rejects,
        "-f",
        "json",
    )
    report = json.loads(first.stdout)
    assert {**json.loads(dry.stdout), "dry_run": False} == report
    assert (report["created"], report["skipped"], report["rejects_path"]) == (7, 7, rejects)
    again = json.loads(
        _run(
            tmp_path,
            "import",
            "contacts",
            contacts,
            "--from",
            "hubspot",
            "--rejects",
            rejects,
            "-f",
            "json",
        ).stdout
    )
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 7)
    table = _run(tmp_path, "import", "spend", str(FIXTURES / "spend.csv"), "--rejects", rejects)
    assert table.returncode == 0, table.stderr
    assert "campaigns_created" in table.stdout
    assert f"rejected rows written to {rejects}" in table.stdout.replace("\n", "")


def test_bad_options_and_files_fail_in_one_line(tmp_path: Path) -> None:
    contacts = str(FIXTURES / "hubspot_contacts.csv")
    for args, message in [
        (("--from", "pipedrive"), "from: unknown source 'pipedrive'"),
        (("--from", "hubspot", "--timezone", "Mars/Olympus"), "timezone: unknown time zone"),
    ]:
        result = _run(tmp_path, "import", "contacts", contacts, *args)
        assert result.returncode == 1
        assert message in result.stderr
        assert "Traceback" not in result.stderr
    missing = _run(tmp_path, "import", "contacts", str(tmp_path / "nope.csv"), "--from", "generic")
    assert missing.returncode == 1
    assert "file: cannot read" in missing.stderr
    header = _run(tmp_path, "import", "spend", contacts)
    assert header.returncode == 1
    assert "header: no 'date' or 'day' column" in header.stderr
