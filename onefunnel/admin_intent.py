"""Admin for the point of intent: scoring and routing configurations (new versions only),
reps, team calendars, handoff routing and events, webhooks and their delivery log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from onefunnel.admin_governed import GovernedAdmin
from onefunnel.models import (
    ContactScore,
    HandoffEvent,
    PredictiveModelRun,
    RepProfile,
    RoutingConfig,
    ScoringConfig,
    TeamCalendar,
    WebhookDelivery,
    WebhookEndpoint,
)


class _VersionedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Versions are added, never edited: a change is a new version saved by the service."""

    list_display = ("version", "note", "created_at", "created_by")
    readonly_fields = ("version", "created_at", "created_by")
    fields = ("config", "note", "version", "created_at", "created_by")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Store through the service, which validates and numbers the new version."""
        from onefunnel.services.routing_config import save_routing_config
        from onefunnel.services.scoring import save_scoring_config

        save = save_scoring_config if isinstance(obj, ScoringConfig) else save_routing_config
        saved = save(obj.config, note=obj.note, actor_id=request.user.pk)
        obj.pk = type(obj).objects.get(version=saved.version).pk
        obj.version = saved.version


admin.site.register(ScoringConfig, _VersionedAdmin)
admin.site.register(RoutingConfig, _VersionedAdmin)


@admin.register(RepProfile)
class RepProfileAdmin(admin.ModelAdmin[RepProfile]):
    list_display = ("user", "team", "weight", "capacity", "available", "out_of_office_until")
    list_filter = ("team", "available")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)


@admin.register(TeamCalendar)
class TeamCalendarAdmin(admin.ModelAdmin[TeamCalendar]):
    list_display = ("team", "tz", "start", "end", "first_response_hours", "max_reassignments")


@admin.register(ContactScore)
class ContactScoreAdmin(GovernedAdmin):
    list_display = ("contact", "total", "fit", "model_version", "as_of", "probability")
    search_fields = ("contact__email",)
    raw_id_fields = ("contact",)
    show_full_result_count = False


@admin.register(PredictiveModelRun)
class PredictiveModelRunAdmin(admin.ModelAdmin[PredictiveModelRun]):
    list_display = ("id", "created_at", "algorithm", "source", "target", "active")
    readonly_fields = ("created_at", "path", "algorithm", "source", "target", "features", "metrics")


@admin.register(HandoffEvent)
class HandoffEventAdmin(GovernedAdmin):
    """Read-only: the log of what happened to each handoff."""

    list_display = ("at", "handoff", "kind", "from_owner", "to_owner", "actor")
    list_filter = ("kind",)
    date_hierarchy = "at"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    list_display = ("url", "events", "active", "created_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ("created_at", "event_type", "endpoint", "status", "attempts", "status_code")
    list_filter = ("status", "event_type")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
