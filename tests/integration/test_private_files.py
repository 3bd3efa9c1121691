"""The database, its WAL and shared-memory files, the tracking inbox and its locks are created
readable by their owner only — from creation, whatever the umask (0 here, the widest)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from onefunnel.services.tracking_inbound import FileInbox, Received, _flock
from onefunnel.sqlite_backend.base import DatabaseWrapper


@pytest.fixture
def wide_umask() -> Iterator[None]:
    """Files created now would be 0666 (0644 with the usual umask) unless created private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path, wide_umask: None) -> None:
    from django.conf import settings

    database = tmp_path / "onefunnel.sqlite3"
    config = dict(settings.DATABASES["default"])
    config.update({"NAME": str(database), "TEST": {}, "OPTIONS": {}})
    wrapper = DatabaseWrapper(config, alias="private-files")
    # The connection Django would open (pytest-django guards the wrapper's own cursor).
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE t (x INTEGER)")
        raw.execute("INSERT INTO t VALUES (1)")
        raw.commit()
        wal = tmp_path / "onefunnel.sqlite3-wal"
        shm = tmp_path / "onefunnel.sqlite3-shm"
        assert wal.exists()  # while the connection is open
        assert shm.exists()
        assert {p.name: _mode(p) for p in (database, wal, shm)} == {
            database.name: 0o600,
            wal.name: 0o600,
            shm.name: 0o600,
        }
        assert wrapper.vendor == "sqlite"
    finally:
        raw.close()


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    from django.conf import settings

    database = tmp_path / "shared.sqlite3"
    database.touch(mode=0o640)
    database.chmod(0o640)  # an operator's choice (a group that backs it up) is left alone
    config = dict(settings.DATABASES["default"])
    config.update({"NAME": str(database), "TEST": {}, "OPTIONS": {}})
    wrapper = DatabaseWrapper(config, alias="private-files")
    wrapper.get_new_connection(wrapper.get_connection_params()).close()
    assert _mode(database) == 0o640


def test_the_tracking_inbox_and_its_locks_are_private(tmp_path: Path, wide_umask: None) -> None:
    path = tmp_path / "onefunnel.sqlite3-inbox.sqlite3"
    inbox = FileInbox(path)
    inbox.add([Received(b'{"batch": []}', False, None, datetime.now(UTC), 0)])
    assert inbox.pending() == 0
    files = [path, *(tmp_path / f"{path.name}{suffix}" for suffix in ("-wal", "-shm", ".lock"))]
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    lock = tmp_path / "onefunnel.sqlite3-ingest.lock"
    with _flock(lock):
        pass
    assert _mode(lock) == 0o600
