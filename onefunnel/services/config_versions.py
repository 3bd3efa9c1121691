"""Versioned configurations (the scoring model, the routing rules): read the one in force,
store a new version. Both are rows of a ``VersionedConfig`` model; versions are never edited
in place, and the newest is in force."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from onefunnel.models.scoring import VersionedConfig
from onefunnel.services.errors import InputError


class InvalidConfigError(InputError):
    """A configuration that cannot be used; ``errors`` lists (field, message) for each problem."""

    def __init__(self, errors: Iterable[tuple[str, str]]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(f"{loc}: {msg}" for loc, msg in self.errors))


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    """A stored configuration version (scoring or routing) as services return it."""

    version: int
    config: dict[str, Any]
    note: str
    created_at: datetime | None


def current_config(
    rows: type[VersionedConfig], default: Callable[[], ConfigVersion]
) -> ConfigVersion:
    """The newest stored version, or ``default()`` when none is stored."""
    row = rows._default_manager.order_by("-version").first()
    if row is None:
        return default()
    return ConfigVersion(row.version, dict(row.config), row.note, row.created_at)


def store_config(
    rows: type[VersionedConfig],
    stored_as: Callable[[int], dict[str, Any]],
    *,
    default_version: int,
    note: str,
    actor_id: int | None,
    now: datetime | None,
) -> ConfigVersion:
    """Store the next version: ``stored_as(version)`` gives the JSON to store.

    Versions start above ``default_version`` (the built-in default's), so a result computed
    with the default is never mistaken for one of a stored version. The newest row is locked
    while the number is chosen, so two saves at once get two numbers.
    """
    with transaction.atomic():
        latest = rows._default_manager.select_for_update().order_by("-version").first()
        version = max(latest.version if latest else 0, default_version) + 1
        stored = stored_as(version)
        row = rows._default_manager.create(
            version=version,
            config=stored,
            note=note[:200],
            created_at=now or timezone.now(),
            created_by_id=actor_id,
        )
    return ConfigVersion(row.version, stored, row.note, row.created_at)
