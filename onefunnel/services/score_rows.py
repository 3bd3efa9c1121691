"""The rows the per-touch score update reads and writes, in raw SQL.

A touch's score update is three statements: one read (the scoring model in force, the
contact's account attributes and its stored score state, joined), one write of the score state
and one of the cached ``Contact.score``. Through the ORM each statement costs about ten times
its execution in query building (~0.4 ms against ~0.05 ms on SQLite), which alone used up the
2 ms budget of an update; here the SQL is built once per process. Values go through each
field's own ``get_db_prep_save`` and come back through the converters below, so the rows are
the ones the ORM would read and write on either engine.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field
from django.utils.dateparse import parse_datetime

from onefunnel.models import Account, Contact, ContactScore, ScoringConfig


@dataclass(frozen=True, slots=True)
class TouchScoreRow:
    """What one touch's score update reads, in one query."""

    model_version: int | None  # the newest stored scoring model, None when none is stored
    model_config: str | None  # its JSON text, exactly as stored
    industry: str | None
    employees: int | None
    account_country: str | None
    region: str | None
    account_properties: Any
    engagement_value: float | None  # the stored state; None when the contact has none
    as_of: datetime | None
    state_version: int | None


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@cache
def _read_sql() -> str:
    config = _table(ScoringConfig)
    newest = f"FROM {config} ORDER BY version DESC LIMIT 1"
    return (
        f"SELECT c.id, (SELECT version {newest}), (SELECT config {newest}), "
        "a.industry, a.employee_count, a.country, a.region, a.properties, "
        "s.engagement_value, s.as_of, s.model_version "
        f"FROM {_table(Contact)} AS c "
        f"LEFT JOIN {_table(Account)} AS a ON a.id = c.account_id "
        f"LEFT JOIN {_table(ContactScore)} AS s ON s.contact_id = c.id "
        "WHERE c.id IN ({ids})"
    )


def _json(value: Any) -> Any:
    """A JSON column read by raw SQL: text on both engines (Django loads jsonb as text)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _aware(value: Any) -> datetime | None:
    """A datetime column read by raw SQL: text on SQLite, an aware datetime on PostgreSQL."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment is None:
        raise ValueError(f"as_of: not a datetime: {value!r}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _config_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)  # a driver that decodes JSON itself


def read_for_touch(contact_id: int) -> TouchScoreRow | None:
    """The scoring model in force, the contact's account attributes and stored state."""
    return read_for_touches([contact_id]).get(contact_id)


# Contacts per read: well under SQLite's limit on the parameters of one statement.
_READ_CHUNK = 900


def read_for_touches(contact_ids: Sequence[int]) -> dict[int, TouchScoreRow]:
    """:func:`read_for_touch` for many contacts, one query per 900; contacts not found are
    absent."""
    found: dict[int, TouchScoreRow] = {}
    ids = list(dict.fromkeys(contact_ids))
    with connection.cursor() as cursor:
        for start in range(0, len(ids), _READ_CHUNK):
            chunk = ids[start : start + _READ_CHUNK]
            cursor.execute(_read_sql().format(ids=", ".join(["%s"] * len(chunk))), chunk)
            for row in cursor.fetchall():
                pk, version, config, industry, employees, a_country, region, a_props = row[:8]
                value, as_of, state = row[8:]
                found[int(pk)] = TouchScoreRow(
                    model_version=None if version is None else int(version),
                    model_config=_config_text(config),
                    industry=industry,
                    employees=None if employees is None else int(employees),
                    account_country=a_country,
                    region=region,
                    account_properties=_json(a_props) if a_props is not None else {},
                    engagement_value=None if value is None else float(value),
                    as_of=_aware(as_of),
                    state_version=None if state is None else int(state),
                )
    return found


def read_newest_config() -> tuple[int, str] | None:
    """The newest stored scoring model's version and JSON text, or None when none is stored."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT version, config FROM {_table(ScoringConfig)} ORDER BY version DESC LIMIT 1"
        )
        row = cursor.fetchone()
    if row is None:
        return None
    text = _config_text(row[1])
    assert text is not None
    return int(row[0]), text


_STATE_COLUMNS = ("fit", "engagement_value", "as_of", "total", "model_version", "explanation")


@cache
def _state_fields() -> tuple[Field[Any, Any], ...]:
    return tuple(ContactScore._meta.get_field(name) for name in _STATE_COLUMNS)  # type: ignore[misc]


@cache
def _write_sql() -> tuple[str, str, str]:
    table = _table(ContactScore)
    columns = ", ".join(connection.ops.quote_name(name) for name in _STATE_COLUMNS)
    marks = ", ".join(["%s"] * len(_STATE_COLUMNS))
    sets = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in _STATE_COLUMNS)
    return (
        f"UPDATE {table} SET {sets} WHERE contact_id = %s",
        f"INSERT INTO {table} (contact_id, {columns}) VALUES (%s, {marks})",
        f"UPDATE {_table(Contact)} SET score = %s WHERE id = %s",
    )


@dataclass(frozen=True, slots=True)
class StateWrite:
    """A contact's new score state, for :func:`write_states`."""

    contact_id: int
    exists: bool  # whether the contact has a state row to update (else one is inserted)
    fit: Decimal
    engagement_value: float
    as_of: datetime
    total: Decimal
    model_version: int
    explanation: list[dict[str, Any]]


def write_state(
    contact_id: int,
    *,
    exists: bool,
    fit: Decimal,
    engagement_value: float,
    as_of: datetime,
    total: Decimal,
    model_version: int,
    explanation: list[dict[str, Any]],
) -> None:
    """Store the contact's score state (updating its row, or creating it) and cache the total
    on the contact."""
    write_states(
        [
            StateWrite(
                contact_id, exists, fit, engagement_value, as_of, total, model_version, explanation
            )
        ]
    )


def write_states(states: Sequence[StateWrite]) -> None:
    """:func:`write_state` for many contacts: one batched update, insert and score cache each."""
    fields = _state_fields()
    updates: list[list[Any]] = []
    inserts: list[list[Any]] = []
    for state in states:
        values = (
            state.fit,
            state.engagement_value,
            state.as_of,
            state.total,
            state.model_version,
            state.explanation,
        )
        prepared = [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, values, strict=True)
        ]
        if state.exists:
            updates.append([*prepared, state.contact_id])
        else:
            inserts.append([state.contact_id, *prepared])
    update, insert, contact = _write_sql()
    with connection.cursor() as cursor:
        if updates:
            cursor.executemany(update, updates)
        if inserts:
            cursor.executemany(insert, inserts)
        if states:
            cursor.executemany(contact, [[float(s.total), s.contact_id] for s in states])


@cache
def _insert_many_sql() -> str:
    columns = ("contact_id", *_STATE_COLUMNS, "probability")
    names = ", ".join(connection.ops.quote_name(name) for name in columns)
    marks = ", ".join(["%s"] * len(columns))
    return f"INSERT INTO {_table(ContactScore)} ({names}) VALUES ({marks})"


def insert_states(
    rows: Iterable[tuple[int, Decimal, float, Decimal, list[dict[str, Any]], float | None]],
    *,
    as_of: datetime,
    model_version: int,
) -> None:
    """Insert many contacts' score states at once (the rescore, after deleting them all):
    rows of (contact id, fit, engagement value, total, fit explanation, probability).

    Contacts at one account share their explanation list, so each distinct one is encoded
    once."""
    fit, _value, at, total, _version, explanation = _state_fields()
    probability = ContactScore._meta.get_field("probability")
    when = at.get_db_prep_save(as_of, connection)
    encoded: dict[int, Any] = {}
    prepared = []
    for pk, fit_points, value, total_points, lines, p in rows:
        lines_db = encoded.get(id(lines))
        if lines_db is None:
            lines_db = encoded[id(lines)] = explanation.get_db_prep_save(lines, connection)
        prepared.append(
            (
                pk,
                fit.get_db_prep_save(fit_points, connection),
                value,
                when,
                total.get_db_prep_save(total_points, connection),
                model_version,
                lines_db,
                probability.get_db_prep_save(p, connection),
            )
        )
    with connection.cursor() as cursor:
        cursor.executemany(_insert_many_sql(), prepared)
