"""Finding a source's columns by the names it writes, and the person fields every source shares."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from onefunnel.domain.crm_mapping import (
    MappingError,
    country_code,
    is_personal_mail_domain,
    parse_crm_datetime,
)
from onefunnel.services.contacts import normalise_domain, normalise_email
from onefunnel.services.errors import InputError
from onefunnel.services.imports.records import RowError

# The stored columns' widths: longer values are row errors, never truncated or failed writes.
_LIMITS = {"first_name": 100, "last_name": 100, "title": 200, "phone": 50}
_EMAIL_MAX = 254
_ACCOUNT_MAX = 200
# A strict subset of what Django's email validator accepts (dot-atom local part, LDH labels,
# alphabetic TLD). Addresses of this plain shape skip the full validator, which costs ~20 µs a
# row; anything else still goes through ``normalise_email``, which has the final word.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z"
)


class Columns:
    """Where each field is in a row, found by any of its names (case and spaces ignored)."""

    def __init__(
        self,
        header: Sequence[str],
        aliases: Mapping[str, Sequence[str]],
        *,
        required: Sequence[str] = ("email",),
    ) -> None:
        positions: dict[str, int] = {}
        for i, name in enumerate(header):
            positions.setdefault(name.strip().lower(), i)
        self.header = [h.strip() for h in header]
        self.width = len(header)
        self.index: dict[str, int] = {}
        for field, names in aliases.items():
            for name in names:
                if name.lower() in positions:
                    self.index[field] = positions[name.lower()]
                    break
        for field in required:
            if field not in self.index:
                wanted = " or ".join(repr(n) for n in aliases[field])
                raise InputError(f"header: no {wanted} column (found: {', '.join(self.header)})")
        self._aliases = aliases

    def get(self, values: Sequence[str], field: str) -> str:
        """The trimmed value of a field in a row ('' when the file has no such column)."""
        i = self.index.get(field)
        return values[i].strip() if i is not None else ""

    def label(self, field: str) -> str:
        """The field's column name as the file writes it (for error messages)."""
        i = self.index.get(field)
        return self.header[i] if i is not None else self._aliases[field][0]


def check_shape(row: int, values: Sequence[str], columns: Columns) -> None:
    """A row must have as many values as the header and be valid text."""
    if len(values) != columns.width:
        raise RowError(row, "(row)", f"has {len(values)} values but the header has {columns.width}")
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:
        # The file is read with surrogateescape: undecodable bytes surface here, per row.
        bad = next(i for i, v in enumerate(values) if not _is_text(v))
        raise RowError(row, columns.header[bad], "not UTF-8 text") from None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def email_of(row: int, values: Sequence[str], columns: Columns) -> str:
    """The row's normalised email (contacts are matched on it), or a RowError."""
    raw = columns.get(values, "email")
    if not raw:
        raise RowError(row, columns.label("email"), "empty (contacts are matched on email)")
    if len(raw) > _EMAIL_MAX:
        raise RowError(row, columns.label("email"), f"longer than {_EMAIL_MAX} characters")
    email = raw.lower()
    if _PLAIN_EMAIL.match(email):
        return email
    try:
        return normalise_email(raw)
    except InputError:
        raise RowError(row, columns.label("email"), f"not an email address: {raw!r}") from None


def person_fields(
    row: int, values: Sequence[str], columns: Columns, properties: dict[str, Any]
) -> dict[str, str]:
    """Name, title, phone and country (ISO code) of a row; a country name that is not
    recognised is kept in ``properties["country_name"]`` rather than guessed."""
    fields: dict[str, str] = {}
    for field, limit in _LIMITS.items():
        value = columns.get(values, field)
        if len(value) > limit:
            raise RowError(row, columns.label(field), f"longer than {limit} characters")
        if value:
            fields[field] = value
    country = columns.get(values, "country")
    if country:
        code = country_code(country)
        if code is not None:
            fields["country"] = code
        else:
            properties["country_name"] = country
    return fields


def account_key(
    row: int, values: Sequence[str], columns: Columns, email: str
) -> tuple[str, str | None]:
    """(company name, domain) of the row's account; ('', None) when the row names none.

    The domain comes from the domain/website column, or from the email when a company is named
    and the email is not a personal webmail address.
    """
    company = columns.get(values, "company")
    if len(company) > _ACCOUNT_MAX:
        raise RowError(row, columns.label("company"), f"longer than {_ACCOUNT_MAX} characters")
    website = columns.get(values, "domain")
    if website:
        try:
            domain = normalise_domain(website)
        except InputError:
            raise RowError(row, columns.label("domain"), f"not a domain: {website!r}") from None
        if len(domain) > _ACCOUNT_MAX:
            raise RowError(row, columns.label("domain"), f"longer than {_ACCOUNT_MAX} characters")
        return company, domain
    if company:
        mail_domain = email.rsplit("@", 1)[1]
        return company, None if is_personal_mail_domain(mail_domain) else mail_domain
    return "", None


def when(
    row: int, values: Sequence[str], columns: Columns, field: str, tz: tzinfo
) -> datetime | None:
    """A date/time column as aware UTC, or a RowError naming the column."""
    try:
        return crm_time(columns.get(values, field), tz)
    except MappingError as exc:
        raise RowError(row, columns.label(field), str(exc)) from None


# ``parse_crm_datetime`` for the cells of a file, remembering recent ones: an export repeats
# times (a contact's create date is often its first "Became a … Date"). Datetimes are immutable,
# so sharing one is safe; failures are not remembered and raise again.
crm_time = lru_cache(maxsize=8192)(parse_crm_datetime)


def mapped(row: int, columns: Columns, field: str, exc: MappingError) -> RowError:
    """A mapping failure as a row error on the field's column."""
    return RowError(row, columns.label(field), str(exc))
