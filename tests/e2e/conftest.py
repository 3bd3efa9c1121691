"""End-to-end fixtures: the real `onefunnel` command in a temporary home, on each database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ONEFUNNEL = str(Path(sys.executable).with_name("onefunnel"))


@dataclass(frozen=True)
class Install:
    """One onefunnel installation: its home directory and its database."""

    home: Path
    env: dict[str, str]
    engine: str

    def run(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI as a user would; output captured as text."""
        result = subprocess.run(
            [ONEFUNNEL, *args],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"onefunnel {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Read the installation's database directly, bypassing onefunnel."""
        if self.engine == "sqlite":
            with sqlite3.connect(self.home / "onefunnel.sqlite3") as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def _engines() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("DATABASE_URL") else ["sqlite"]


@pytest.fixture(params=_engines())
def install(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Install]:
    """A fresh installation: SQLite in a temp dir, or a fresh PostgreSQL database when available."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["ONEFUNNEL_HOME"] = str(tmp_path)
    if request.param == "sqlite":
        yield Install(tmp_path, env, "sqlite")
        return
    import psycopg
    from psycopg import sql

    admin_url = os.environ["DATABASE_URL"]
    name = f"onefunnel_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env["DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield Install(tmp_path, env, "postgresql")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
