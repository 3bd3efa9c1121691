"""What the admin may not write: the fields the domain governs, declared once per model.

DESIGN §5, one way to write: stages, handoff decisions and owners, deal stage, status, amount
and close, touchpoints and stage history change only through services. The admin shows them
read-only; a model whose every row is written by services alone (``ALL``) cannot be added,
changed or deleted there at all. Admins of new models add their governed fields to
``GOVERNED`` (keyed by ``app_label.model_name``) and derive from ``GovernedAdmin``; a test walks
every registered admin's forms and fails on any governed field that is editable.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

#: Every field: the rows are written by services alone (history, logs, touches).
ALL = frozenset({"*"})

GOVERNED: dict[str, frozenset[str]] = {
    "onefunnel.contact": frozenset({"stage", "score"}),
    "onefunnel.account": frozenset({"stage"}),
    "onefunnel.handoff": ALL,
    "onefunnel.deal": frozenset(
        {
            "kind",
            "account",
            "owner",
            "pipeline_stage",
            "status",
            "amount",
            "currency",
            "probability",
            "expected_close",
            "created_at",
            "closed_at",
            "lost_reason",
            "lost_note",
            "source",
            "order_id",
            "refunded_at",
        }
    ),
    "onefunnel.dealhistory": ALL,
    "onefunnel.activity": ALL,
    "onefunnel.touchpoint": ALL,
    "onefunnel.stagechange": ALL,
    "onefunnel.handoffevent": ALL,
    "onefunnel.handoffrouting": ALL,
    "onefunnel.handoffcredit": ALL,
    "onefunnel.contactscore": ALL,
}


def governed(model: type[Model]) -> frozenset[str]:
    """The governed fields of a model (``ALL`` for every field; empty when none)."""
    return GOVERNED.get(model._meta.label_lower, frozenset())


def fully_governed(model: type[Model]) -> bool:
    """True if services alone write the model's rows."""
    return governed(model) == ALL


class GovernedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A ModelAdmin that shows the model's governed fields read-only, and makes a fully
    governed model read-only altogether."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        names = governed(self.model)
        if names == ALL:
            names = frozenset(f.name for f in self.model._meta.fields)
        return [*fields, *(n for n in sorted(names) if n not in fields)]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not fully_governed(self.model) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not fully_governed(self.model) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not fully_governed(self.model) and super().has_delete_permission(request, obj)


class RecordOnly:
    """A read-only admin (or inline) for records that only services write: what happened
    (histories, sends) or what a service must check when it is saved (sequences)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
