"""Where each profile field's value came from, kept in the contact's ``properties`` under
``_provenance``: ``{field: {"source": "tracking" | "api" | ..., "at": iso, "value": ...}}``.
Sources: ``tracking`` (identify traits), ``api`` (the CRM API, a server-side key or a signed-in
user's call), ``import`` (a file import; no time, so that a re-import of the same row writes the
same text), ``user`` (an edit in the admin).

A browser write key is public, so tracking traits only *fill*: they set a field that is empty,
or one whose value tracking itself set (and nobody changed since: the stamp keeps the value it
wrote). A value from a user, an import or a server-side key — stamped or not — is never
overwritten by tracking. Pure: callers pass the current values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PROVENANCE = "_provenance"
TRACKING = "tracking"
API = "api"
FORM = "form"
#: Sources anyone on the internet can write through (a browser write key, a public form): they
#: only fill, and may replace what one of them wrote, never what a user, import or key set.
PUBLIC_SOURCES = frozenset({TRACKING, FORM})
IMPORT = "import"
USER = "user"
#: The profile fields whose origin a contact's page shows.
PROFILE_FIELDS = ("first_name", "last_name", "title", "phone", "country")
#: What a value with no stamp that matches it is: set before provenance was kept, or by a
#: path that keeps none. Tracking treats it as set by someone (it never overwrites it).
UNRECORDED = "not recorded"


def _stamps(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    stamps = properties.get(PROVENANCE)
    return stamps if isinstance(stamps, Mapping) else {}


def tracking_may_set(properties: Mapping[str, Any], field: str, current: object) -> bool:
    """True if tracking (or a public form) may write ``field``, whose value now is ``current``."""
    if current in (None, ""):
        return True
    stamp = _stamps(properties).get(field)
    return (
        isinstance(stamp, Mapping)
        and stamp.get("source") in PUBLIC_SOURCES
        and stamp.get("value") == current
    )


def fillable(
    properties: Mapping[str, Any], current: Mapping[str, Any], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The part of tracking's ``fields`` it may write; traits never carry provenance."""
    kept: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "properties":
            kept[name] = {k: v for k, v in dict(value or {}).items() if k != PROVENANCE}
        elif tracking_may_set(properties, name, current.get(name)):
            kept[name] = value
    return kept


def stamped(
    properties: Mapping[str, Any], fields: Mapping[str, Any], source: str, at: datetime
) -> dict[str, Any]:
    """``properties`` with the provenance of every non-empty field in ``fields`` set to
    ``source`` at ``at``."""
    stamps = dict(_stamps(properties))
    for name, value in fields.items():
        if name not in ("properties", "account_id") and value not in (None, ""):
            stamps[name] = {"source": source, "at": at.isoformat(), "value": value}
    return {**properties, PROVENANCE: stamps} if stamps else dict(properties)


def import_stamps(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance of an imported row's non-empty fields (no time: see the module)."""
    return {
        name: {"source": IMPORT, "value": value}
        for name, value in fields.items()
        if name in PROFILE_FIELDS and value not in (None, "")
    }


@dataclass(frozen=True, slots=True)
class FieldOrigin:
    """Where a profile field's current value came from (``at`` None when not known)."""

    field: str
    value: str
    source: str
    at: str | None = None

    @property
    def label(self) -> str:
        """The field in words ("first name")."""
        return self.field.replace("_", " ")


def field_origins(
    properties: Mapping[str, Any], current: Mapping[str, Any]
) -> tuple[FieldOrigin, ...]:
    """The origin of each non-empty field in ``current``: the stamp that wrote the value it
    holds, or ``UNRECORDED`` when the stamp is missing or was for another value (the field was
    changed since by a path that keeps no stamp)."""
    stamps = _stamps(properties)
    origins = []
    for name, value in current.items():
        if value in (None, ""):
            continue
        stamp = stamps.get(name)
        if isinstance(stamp, Mapping) and stamp.get("value") == value:
            at = stamp.get("at")
            source = str(stamp.get("source") or UNRECORDED)
            origins.append(
                FieldOrigin(name, str(value), source, at if isinstance(at, str) else None)
            )
        else:
            origins.append(FieldOrigin(name, str(value), UNRECORDED))
    return tuple(origins)
