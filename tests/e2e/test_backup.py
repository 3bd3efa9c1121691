"""`onefunnel backup` / `onefunnel restore` as a user runs them: a demo company backed up,
restored into a new database — the same engine or the other one — and compared row by row."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps

from tests.e2e.conftest import Install

pytestmark = pytest.mark.slow


@contextmanager
def new_install(engine: str, home: Path) -> Iterator[Install]:
    """An installation with nothing in it yet: a SQLite home, or a new PostgreSQL database."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["ONEFUNNEL_HOME"] = str(home)
    if engine == "sqlite":
        yield Install(home, env, "sqlite")
        return
    import psycopg
    from psycopg import sql

    admin_url = os.environ["DATABASE_URL"]
    name = f"onefunnel_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env["DATABASE_URL"] = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield Install(home, env, "postgresql")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _rows(directory: Path, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A backed-up table's rows as values (JSON key order and many-to-many order ignored)."""
    m2m = [f.name for f in apps.get_model(entry["model"])._meta.many_to_many]
    with gzip.open(directory / entry["file"], "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for name in m2m:
                row["fields"][name] = sorted(row["fields"][name])
            yield row


def assert_same_rows(first: Path, second: Path) -> dict[str, int]:
    """Both backups hold the same tables with equal rows, compared one by one; rows per table."""
    a = json.loads((first / "manifest.json").read_text())
    b = json.loads((second / "manifest.json").read_text())
    assert [t["model"] for t in a["tables"]] == [t["model"] for t in b["tables"]]
    counts: dict[str, int] = {}
    for ta, tb in zip(a["tables"], b["tables"], strict=True):
        rows_a, rows_b = list(_rows(first, ta)), list(_rows(second, tb))
        assert len(rows_a) == len(rows_b) == ta["rows"] == tb["rows"], ta["model"]
        for ra, rb in zip(rows_a, rows_b, strict=True):
            assert ra == rb, f"{ta['model']} row {ra['pk']} differs"
        # The property: a backup of the restored database has the same row checksums.
        assert ta["rows_sha256"] == tb["rows_sha256"], ta["model"]
        counts[ta["model"]] = ta["rows"]
    return counts


def _targets(source: str) -> list[str]:
    # The PostgreSQL run crosses engines both ways; the SQLite run checks SQLite to SQLite.
    if not os.environ.get("DATABASE_URL"):
        return ["sqlite"]
    return ["postgresql" if source == "sqlite" else "sqlite"]


def test_round_trip_equal_row_by_row(install: Install, tmp_path: Path) -> None:
    install.run("demo", "--size", "small", "--seed", "11")
    first = tmp_path / "backup-1"
    summary = json.loads(install.run("backup", str(first), "--format", "json").stdout)
    manifest = json.loads((first / "manifest.json").read_text())
    # Every table of the source: the counts read straight from its database.
    for entry in manifest["tables"]:
        table = apps.get_model(entry["model"])._meta.db_table
        assert install.query(f"SELECT COUNT(*) FROM {table}")[0][0] == entry["rows"]
    assert summary["rows"] == sum(t["rows"] for t in manifest["tables"])
    assert manifest["migrations"]["onefunnel"]
    assert (first / "manifest.json").stat().st_mode & 0o777 == 0o600

    for engine in _targets(install.engine):
        with new_install(engine, tmp_path / f"restored-{engine}") as target:
            target.run("restore", str(first))
            second = tmp_path / f"backup-{engine}"
            target.run("backup", str(second))
            counts = assert_same_rows(first, second)
            assert counts["onefunnel.touchpoint"] > 10_000
            assert counts["auth.user"] > 1
            # The restored database works: new rows get ids after the restored ones.
            target.run("keys", "create", "--scope", "tracking:write")
            status = json.loads(target.run("status", "--format", "json").stdout)
            assert status["touchpoints"] == counts["onefunnel.touchpoint"]
            # A second restore into the same database is refused: it is no longer empty.
            again = target.run("restore", str(first), check=False)
            assert again.returncode == 1
            assert "not empty" in again.stderr
            assert "Traceback" not in again.stderr


def test_errors_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    with new_install("sqlite", tmp_path / "source") as install:
        install.run("demo", "--size", "small")
        backup = tmp_path / "backup"
        install.run("backup", str(backup))
        exists = install.run("backup", str(backup), check=False)
    assert exists.returncode == 1
    assert "exists and is not empty" in exists.stderr

    with new_install("sqlite", tmp_path / "empty") as target:
        missing = target.run("restore", str(tmp_path / "empty"), check=False)
        assert missing.returncode == 1
        assert "manifest.json" in missing.stderr

        # One flipped byte in the largest file: refused before anything is written.
        damaged = tmp_path / "damaged"
        damaged.mkdir()
        for f in backup.iterdir():
            (damaged / f.name).write_bytes(f.read_bytes())
        largest = max(damaged.glob("*.gz"), key=lambda p: p.stat().st_size)
        data = bytearray(largest.read_bytes())
        data[len(data) // 2] ^= 0x01
        largest.write_bytes(bytes(data))
        refused = target.run("restore", str(damaged), check=False)
        assert refused.returncode == 1
        assert f"checksum mismatch in {largest.name}" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert not (target.home / "onefunnel.sqlite3").exists()

    for out in (exists, missing, refused):
        assert "Traceback" not in out.stderr
