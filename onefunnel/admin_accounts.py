"""Admin for account management: contracts (read-only — they change only through the
contract and renewal services) and the health configuration (new versions only, saved
through the service)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from onefunnel.models import Contract, HealthConfig


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin[Contract]):
    """Contracts are governed: read here, written with `onefunnel contracts` or the API."""

    list_display = (
        "id", "account", "product", "amount", "currency", "billing_period", "start_date",
        "end_date", "renewal_date", "auto_renew", "status", "payment_status",
    )  # fmt: skip
    list_filter = ("status", "payment_status", "billing_period", "auto_renew", "product")
    search_fields = ("account__name", "account__domain", "product")
    raw_id_fields = ("account", "source_deal", "renewal_deal", "previous")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(HealthConfig)
class HealthConfigAdmin(admin.ModelAdmin[HealthConfig]):
    """Versions are added, never edited: a change is a new version saved by the service."""

    list_display = ("version", "note", "created_at", "created_by")
    readonly_fields = ("version", "created_at", "created_by")
    fields = ("config", "note", "version", "created_at", "created_by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Store through the service, which checks the actor, validates and numbers it."""
        from onefunnel.services.access import actor_for
        from onefunnel.services.accounts.health import save_health_config

        saved = save_health_config(actor_for(request.user), obj.config, note=obj.note)
        obj.pk = HealthConfig.objects.get(version=saved.version).pk
        obj.version = saved.version
