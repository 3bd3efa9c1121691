"""Files only their owner may read, created so from the first byte.

The database, the tracking inbox and the secret key hold the whole record, password hashes and
the key that signs sessions. Writing such a file and then ``chmod``-ing it leaves a moment in
which it is readable by others under the usual umask (022), and a crash in that moment leaves
it so; here the file is created with mode 0600 by ``open(2)`` itself. SQLite creates a
database's ``-wal``, ``-shm`` and ``-journal`` files with the database file's own mode, so a
database created here keeps those private too.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def create_private(path: Path) -> bool:
    """Create ``path`` as an empty file only its owner can read and write, unless it exists;
    whether it was created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, text: str) -> None:
    """Write ``text`` into a new file at ``path``, private from the start (FileExistsError if
    another process created it first: read theirs instead)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def sqlite_file(name: object) -> Path | None:
    """The file behind a SQLite database name, or None for in-memory and URI names."""
    text = str(name)
    if not text or text == ":memory:" or text.startswith("file:"):
        return None
    return Path(text)
