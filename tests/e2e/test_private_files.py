"""`onefunnel init` in a new home, under the widest umask: the secret key and the database are
created readable by their owner only (the admin login file is another test's)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ONEFUNNEL

pytestmark = pytest.mark.slow


def test_init_creates_the_secret_key_and_database_private(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["ONEFUNNEL_HOME"] = str(tmp_path)
    env.pop("ONEFUNNEL_SECRET_KEY", None)
    result = subprocess.run(
        [ONEFUNNEL, "init", "--admin-username", "ada", "--admin-password", "correct-horse-9"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.umask(0),
    )
    assert result.returncode == 0, result.stderr
    for name in (".onefunnel-secret", "onefunnel.sqlite3"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert len((tmp_path / ".onefunnel-secret").read_text().strip()) > 40
