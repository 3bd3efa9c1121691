"""Django's SQLite backend, except that a new database file is created with mode 0600 before
SQLite opens it (SQLite itself would create it 0644 under the usual umask, and its ``-wal`` and
``-shm`` files with the same mode). Everything else is Django's: ``connection.vendor`` is
still ``"sqlite"``."""

from __future__ import annotations

from typing import Any

from django.db.backends.sqlite3 import base

from onefunnel.private_files import create_private, sqlite_file


class DatabaseWrapper(base.DatabaseWrapper):
    """The SQLite database wrapper, creating the database file private."""

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        path = sqlite_file(conn_params.get("database"))
        if path is not None and path.parent.is_dir():
            create_private(path)
        return super().get_new_connection(conn_params)
