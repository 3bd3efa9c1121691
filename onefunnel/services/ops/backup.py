"""Backups: every table of the shared record written to a directory, and restored from one.

A backup is a directory with one gzip-compressed JSON Lines file per table (Django's ``jsonl``
serialization, one object per line, original primary keys) and a ``manifest.json``: the format
version, the schema's migration state, and per table its row count, the SHA-256 of its file
(to detect a damaged copy before anything is written) and the SHA-256 of its rows in a
normalised form (pk order, sorted JSON keys and many-to-many lists, UTC times), which is the
same whichever engine the rows were read from: a second backup of a restored database has the
same row checksums, on SQLite and PostgreSQL alike.

What is backed up: every model of the onefunnel app (read from the app registry, so models
added later are included without a list to keep) and auth users and groups with their
memberships and permissions. Content types, permissions and sessions are not: ``migrate``
makes the first two on the target, and references to them are written as natural keys
(``["view_contact", "onefunnel", "contact"]``) because their ids differ between databases.

Both directions stream: tables are read in chunks of primary keys and restored in batches, so
memory stays bounded by a chunk however many touchpoints there are. A restore checks every
file first, then migrates the target, refuses a target that holds records, and inserts
everything in one transaction — a failure leaves the target as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from onefunnel.services.errors import InputError

FORMAT = "onefunnel-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Rows read (and serialised) per query, and inserted per statement: bounds memory.
CHUNK = 2_000

# Tables that ``migrate`` itself fills on an empty database (the default pipeline stages, the
# team and role groups). Their rows do not make a target "not empty", and a restore replaces
# them with the backup's, deleted in this order (stages before their pipelines). A test checks
# that a fresh migrate fills no other backed-up table.
SEEDED_BY_MIGRATE: tuple[str, ...] = ("onefunnel.pipelinestage", "onefunnel.pipeline", "auth.group")

Progress = Callable[[str, int, int], None]
"""Called with (table label, rows done in it, rows in it) as a backup or restore goes on."""


@dataclass(frozen=True, slots=True)
class TableFile:
    """One table's entry in the manifest."""

    model: str
    file: str
    rows: int
    sha256: str
    rows_sha256: str


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What a backup or a restore did: the directory, the engine, the tables and their rows."""

    directory: Path
    engine: str
    tables: tuple[TableFile, ...]

    @property
    def rows(self) -> int:
        """Rows in all tables."""
        return sum(t.rows for t in self.tables)


class _ExactEncoder(DjangoJSONEncoder):
    """Django's JSON encoder keeps only milliseconds of a time; a backup keeps microseconds."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return (o.astimezone(UTC) if o.tzinfo else o).isoformat()
        if isinstance(o, time):
            return o.isoformat()
        return super().default(o)


def backed_up_models() -> list[type[models.Model]]:
    """The models a backup holds, in an order where every table comes after the tables it
    refers to (foreign keys and many-to-many; cycles, if any, are broken arbitrarily — the
    restore's constraints are checked at commit)."""
    chosen: list[type[models.Model]] = [Group, get_user_model()]
    chosen += [
        m
        for m in apps.get_app_config("onefunnel").get_models()
        if m._meta.managed and not m._meta.proxy and not m._meta.auto_created
    ]
    labels = {m._meta.label_lower: m for m in chosen}
    ordered: list[type[models.Model]] = []
    visiting: set[str] = set()

    def visit(model: type[models.Model]) -> None:
        label = model._meta.label_lower
        if model in ordered or label in visiting:
            return
        visiting.add(label)
        # Forward relations only: a reverse one (a group's users) is the other table's.
        for field in [*model._meta.concrete_fields, *model._meta.many_to_many]:
            related = field.related_model
            if isinstance(related, type) and related is not model:
                target = labels.get(related._meta.label_lower)
                if target is not None:
                    visit(target)
        ordered.append(model)

    for model in chosen:
        visit(model)
    return ordered


def _needs_natural_keys(model: type[models.Model]) -> bool:
    """Whether a model refers to content types or permissions, whose ids differ between
    databases (their natural keys do not)."""
    outside = {"contenttypes.contenttype", "auth.permission"}
    return any(
        isinstance(f.related_model, type) and f.related_model._meta.label_lower in outside
        for f in [*model._meta.concrete_fields, *model._meta.many_to_many]
    )


def _m2m_names(model: type[models.Model]) -> list[str]:
    return [
        f.name
        for f in model._meta.many_to_many
        if f.remote_field.through._meta.auto_created  # type: ignore[union-attr]
    ]


def _chunks(model: type[models.Model]) -> Iterator[list[models.Model]]:
    """The model's rows in primary-key order, a chunk at a time (keyset pagination)."""
    base = model._default_manager.order_by("pk")
    m2m = _m2m_names(model)
    if m2m:
        base = base.prefetch_related(*m2m)
    last: Any = None
    while True:
        query = base if last is None else base.filter(pk__gt=last)
        chunk = list(query[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


def normalised_row(record: dict[str, Any], m2m: Sequence[str]) -> str:
    """A serialised object (``{"model", "pk", "fields"}``) as canonical text: sorted keys,
    sorted many-to-many lists, UTC times — equal for equal rows whatever engine stored them."""
    fields = dict(record["fields"])
    for name in m2m:
        if name in fields:
            fields[name] = sorted(fields[name], key=lambda v: json.dumps(v, cls=_ExactEncoder))
    return json.dumps(
        {"model": record["model"], "pk": record["pk"], "fields": fields},
        cls=_ExactEncoder,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _applied_migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app_label, name in MigrationRecorder(connection).applied_migrations():
        applied.setdefault(app_label, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


@contextmanager
def _snapshot() -> Iterator[None]:
    """Read every table from one consistent state of the database, without blocking writers.

    PostgreSQL: a repeatable-read transaction. SQLite (WAL): a deferred read transaction — the
    configured ``BEGIN IMMEDIATE`` would take the write lock for the whole backup."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield
        return
    if connection.vendor == "sqlite" and connection.get_autocommit():
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
        return
    yield


def _prepare_directory(directory: Path) -> None:
    if directory.exists():
        if not directory.is_dir():
            raise InputError(f"backup: {directory} exists and is not a directory")
        if any(directory.iterdir()):
            raise InputError(f"backup: {directory} exists and is not empty")
        directory.chmod(0o700)
    else:
        # Password hashes and key digests are in a backup: readable by its owner only.
        directory.mkdir(mode=0o700, parents=True)


def _private_file(path: Path) -> IO[bytes]:
    """A new file only its owner can read, created so (never written first and chmod'ed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def backup(directory: Path, progress: Progress | None = None) -> BackupResult:
    """Write every table of the configured database into ``directory`` (new or empty)."""
    _prepare_directory(directory)
    tables: list[TableFile] = []
    with _snapshot():
        plan = [(m, m._default_manager.count()) for m in backed_up_models()]
        for model, total in plan:
            tables.append(_backup_table(directory, model, total, progress))
        migrations = _applied_migrations()
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "engine": connection.vendor,
        "migrations": migrations,
        "tables": [
            {
                "model": t.model,
                "file": t.file,
                "rows": t.rows,
                "sha256": t.sha256,
                "rows_sha256": t.rows_sha256,
            }
            for t in tables
        ],
    }
    with _private_file(directory / MANIFEST) as handle:
        handle.write(json.dumps(manifest, indent=2).encode())
    return BackupResult(directory, connection.vendor, tuple(tables))


def _backup_table(
    directory: Path, model: type[models.Model], total: int, progress: Progress | None
) -> TableFile:
    label = model._meta.label_lower
    name = f"{label}.jsonl.gz"
    natural = _needs_natural_keys(model)
    m2m = _m2m_names(model)
    rows_digest = hashlib.sha256()
    done = 0
    # mtime=0: the same rows make the same file, byte for byte.
    with (
        _private_file(directory / name) as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
    ):
        out = io.TextIOWrapper(zipped, encoding="utf-8", newline="\n")
        if progress:
            progress(label, 0, total)
        for chunk in _chunks(model):
            records = serializers.serialize("python", chunk, use_natural_foreign_keys=natural)
            for record in records:
                out.write(json.dumps(record, cls=_ExactEncoder, ensure_ascii=False))
                out.write("\n")
                rows_digest.update(normalised_row(record, m2m).encode())
                rows_digest.update(b"\n")
            done += len(records)
            if progress:
                progress(label, done, total)
        out.flush()
        out.detach()
    return TableFile(label, name, done, _file_sha256(directory / name), rows_digest.hexdigest())


def read_manifest(directory: Path) -> dict[str, Any]:
    """The backup's manifest, checked for its format (InputError when missing or foreign)."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise InputError(f"restore: {directory} is not a directory")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"restore: no {MANIFEST} in {directory}: not a backup") from None
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"restore: {path} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"restore: {path} is not an onefunnel backup manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise InputError(
            f"restore: backup format version {manifest.get('version')} is not supported "
            f"(this onefunnel reads version {FORMAT_VERSION})"
        )
    return manifest


def verify(directory: Path) -> list[TableFile]:
    """Check every file against the manifest (present, same SHA-256); the tables, in order."""
    manifest = read_manifest(directory)
    tables: list[TableFile] = []
    for entry in manifest["tables"]:
        table = TableFile(
            str(entry["model"]),
            str(entry["file"]),
            int(entry["rows"]),
            str(entry["sha256"]),
            str(entry["rows_sha256"]),
        )
        path = directory / Path(table.file).name
        if not path.is_file():
            raise InputError(f"restore: {path.name} is missing from the backup")
        if _file_sha256(path) != table.sha256:
            raise InputError(f"restore: checksum mismatch in {path.name}: the backup is damaged")
        tables.append(table)
    return tables


def _check_schema(manifest: dict[str, Any]) -> None:
    """Refuse a backup taken with migrations this code does not have (a newer onefunnel)."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = [
        f"{app}.{name}"
        for app, names in manifest.get("migrations", {}).items()
        for name in names
        if (app, name) not in known and app in {"onefunnel", "auth"}
    ]
    if unknown:
        raise InputError(
            "restore: the backup's schema is newer than this onefunnel "
            f"(unknown migrations: {', '.join(sorted(unknown)[:3])})"
        )


def _ensure_empty() -> None:
    for model in backed_up_models():
        label = model._meta.label_lower
        if label not in SEEDED_BY_MIGRATE and model._default_manager.exists():
            raise InputError(
                f"restore: the target database is not empty (it holds {label} rows); "
                "restore into a new database"
            )


def restore(
    directory: Path,
    *,
    migrate: Callable[[], None],
    progress: Progress | None = None,
) -> BackupResult:
    """Restore a backup into the configured database, which must hold no records.

    Every file is checked first (nothing is written if one is damaged or missing); then
    ``migrate`` brings the target's schema up to date, the rows ``migrate`` made (default
    pipeline stages, groups) are replaced by the backup's, and every table is inserted with its
    original primary keys in one transaction; PostgreSQL's id sequences are moved past them.
    """
    manifest = read_manifest(directory)
    tables = verify(directory)
    _check_schema(manifest)
    by_label = {m._meta.label_lower: m for m in backed_up_models()}
    missing = [t.model for t in tables if t.model not in by_label]
    if missing:
        raise InputError(f"restore: the backup has tables this onefunnel lacks: {missing[0]}")
    migrate()
    _ensure_empty()
    with transaction.atomic(), _times_as_stored(restored_models := list(by_label.values())):
        for label in SEEDED_BY_MIGRATE:
            by_label[label]._default_manager.all().delete()
        for table in tables:
            _restore_table(directory, by_label[table.model], table, progress)
        statements = connection.ops.sequence_reset_sql(no_style(), restored_models)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
    return BackupResult(directory, connection.vendor, tuple(tables))


@contextmanager
def _times_as_stored(restored: Sequence[type[models.Model]]) -> Iterator[None]:
    """Keep the backup's ``auto_now``/``auto_now_add`` times: a bulk insert would otherwise
    stamp every ``created_at`` and ``updated_at`` with the time of the restore (``loaddata``
    avoids it with raw saves, one row at a time)."""
    switched: list[tuple[Any, bool, bool]] = []
    for model in restored:
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateField) and (field.auto_now or field.auto_now_add):
                switched.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in switched:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        yield from handle


def _restore_table(
    directory: Path, model: type[models.Model], table: TableFile, progress: Progress | None
) -> None:
    # Each many-to-many field's link table, and its columns for this row and the other.
    through: dict[str, tuple[type[models.Model], str, str]] = {}
    for field in model._meta.many_to_many:
        m2m: Any = field
        if m2m.remote_field.through._meta.auto_created:
            through[field.name] = (
                m2m.remote_field.through,
                m2m.m2m_field_name() + "_id",
                m2m.m2m_reverse_field_name() + "_id",
            )
    batch: list[models.Model] = []
    links: dict[str, list[models.Model]] = {name: [] for name in through}
    done = 0
    if progress:
        progress(table.model, 0, table.rows)

    def flush() -> None:
        nonlocal done
        model._default_manager.bulk_create(batch, batch_size=CHUNK)
        for name, rows in links.items():
            if rows:
                through[name][0]._default_manager.bulk_create(rows, batch_size=CHUNK)
                rows.clear()
        done += len(batch)
        batch.clear()
        if progress:
            progress(table.model, done, table.rows)

    objects = serializers.deserialize(
        "jsonl", _lines(directory / table.file), ignorenonexistent=True
    )
    for item in objects:
        obj = item.object
        if obj._meta.label_lower != table.model:
            raise InputError(f"restore: {table.file} holds a {obj._meta.label_lower} row")
        batch.append(obj)
        for name, targets in (item.m2m_data or {}).items():
            link, source, target = through[name]
            links[name] += [link(**{source: obj.pk, target: pk}) for pk in targets]
        if len(batch) >= CHUNK:
            flush()
    flush()
    stored = model._default_manager.count()
    if stored != table.rows:
        raise InputError(
            f"restore: {table.model} has {stored} rows after the restore, "
            f"the manifest says {table.rows}"
        )


def normalised_rows(directory: Path, table: TableFile) -> Iterator[str]:
    """A backed-up table's rows in normalised form (see :func:`normalised_row`), in pk order."""
    model = apps.get_model(table.model)
    m2m = _m2m_names(model)
    for line in _lines(directory / table.file):
        if line.strip():
            yield normalised_row(json.loads(line), m2m)
