"""Back-office CRUD in the Django admin, with search and filters on every concept."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from onefunnel.admin_governed import GovernedAdmin, RecordOnly
from onefunnel.domain.provenance import PROFILE_FIELDS, USER, stamped
from onefunnel.models import (
    Account,
    Activity,
    Contact,
    ContactAlias,
    Deal,
    DealHistory,
    Handoff,
    Pipeline,
    PipelineStage,
    StageChange,
    Task,
    Touchpoint,
)


class ContactAliasInline(admin.TabularInline[ContactAlias, Contact]):
    model = ContactAlias
    extra = 0


@admin.register(Account)
class AccountAdmin(GovernedAdmin):
    list_display = ("name", "domain", "industry", "employee_count", "country", "stage", "owner")
    list_filter = ("stage", "industry", "country")
    search_fields = ("name", "domain")
    raw_id_fields = ("owner",)


@admin.register(Contact)
class ContactAdmin(GovernedAdmin):
    list_display = (
        "email",
        "first_name",
        "last_name",
        "title",
        "account",
        "stage",
        "score",
        "owner",
    )
    list_filter = ("stage", "country")
    search_fields = ("email", "first_name", "last_name", "account__name")
    raw_id_fields = ("account", "owner")
    inlines = [ContactAliasInline]

    def save_model(self, request: HttpRequest, obj: Contact, form: Any, change: bool) -> None:
        """Save, stamping the profile fields the user typed as theirs: tracking traits never
        overwrite them, and the contact's page says where they came from."""
        typed = {n: getattr(obj, n) for n in form.changed_data if n in PROFILE_FIELDS}
        if typed:
            obj.properties = stamped(obj.properties or {}, typed, USER, timezone.now())
        super().save_model(request, obj, form, change)


@admin.register(Touchpoint)
class TouchpointAdmin(GovernedAdmin):
    """Read-only: touches are recorded by tracking, imports and the API (services)."""

    list_display = ("occurred_at", "kind", "channel", "campaign", "contact", "team")
    list_filter = ("kind", "channel", "team")
    search_fields = ("message_id", "contact__email", "anonymous_id", "utm_campaign")
    raw_id_fields = ("contact", "account", "campaign", "actor")
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(StageChange)
class StageChangeAdmin(GovernedAdmin):
    """Read-only: stage history is append-only and written by services alone."""

    list_display = ("at", "contact", "account", "from_stage", "to_stage", "cause", "reason")
    list_filter = ("to_stage", "cause", "reason")
    search_fields = ("contact__email", "account__name")
    date_hierarchy = "at"
    show_full_result_count = False


class PipelineStageInline(admin.TabularInline[PipelineStage, Pipeline]):
    model = PipelineStage
    extra = 0
    fields = ("name", "sequence", "probability", "is_won", "is_lost")


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin[Pipeline]):
    """Pipelines are data: their stages, default probabilities and won/lost flags."""

    list_display = ("name", "is_default")
    inlines = [PipelineStageInline]


@admin.register(PipelineStage)
class PipelineStageAdmin(admin.ModelAdmin[PipelineStage]):
    list_display = ("name", "pipeline", "sequence", "probability", "is_won", "is_lost")
    list_filter = ("pipeline",)


class DealHistoryInline(RecordOnly, admin.TabularInline[DealHistory, Deal]):
    model = DealHistory
    extra = 0
    fields = ("at", "field", "from_value", "to_value", "actor")
    readonly_fields = fields


@admin.register(Deal)
class DealAdmin(GovernedAdmin):
    """Deals are opened, edited, moved, won and lost through services/sales (API, CLI, pages),
    which keep the deal history and move the funnel: here the governed fields are read-only
    and no deal is added or deleted."""

    list_display = (
        "name",
        "kind",
        "account",
        "pipeline_stage",
        "status",
        "amount",
        "currency",
        "owner",
    )
    list_filter = ("kind", "status", "source", "pipeline_stage", "lost_reason")
    search_fields = ("name", "account__name", "order_id")
    raw_id_fields = ("account", "contact", "owner")
    readonly_fields = (
        "kind", "account", "status", "pipeline_stage", "amount", "currency", "probability",
        "expected_close", "owner", "created_at", "closed_at", "lost_reason", "lost_note",
        "source", "order_id", "refunded_at",
    )  # fmt: skip
    inlines = [DealHistoryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DealHistory)
class DealHistoryAdmin(GovernedAdmin):
    """Read-only: deal history is append-only and written by services alone."""

    list_display = ("at", "deal", "field", "from_value", "to_value", "actor")
    list_filter = ("field",)
    search_fields = ("deal__name",)
    date_hierarchy = "at"


@admin.register(Activity)
class ActivityAdmin(GovernedAdmin):
    """Read-only: activities are logged once through services/sales (a touch and its details)."""

    list_display = (
        "id",
        "kind",
        "touchpoint",
        "deal",
        "outcome",
        "duration_minutes",
        "recorded_at",
    )
    list_filter = ("kind", "outcome")
    search_fields = ("notes", "deal__name", "touchpoint__contact__email", "contact__email")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin[Task]):
    list_display = ("title", "owner", "due", "done_at", "contact", "account", "deal")
    list_filter = ("done_at",)
    search_fields = ("title", "owner__username")
    raw_id_fields = ("owner", "contact", "account", "deal", "created_by")
    readonly_fields = ("created_at", "created_by", "contact", "account", "deal")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tasks are added through services/sales (an owner and due date checked)


@admin.register(Handoff)
class HandoffAdmin(GovernedAdmin):
    """Read-only: handoffs are opened, decided and reassigned by services (queue, API, CLI)."""

    list_display = (
        "contact", "trigger", "owner", "team_queue", "status", "sla_due_at", "reason", "cost",
        "cost_method", "expected_value",
    )  # fmt: skip
    list_filter = ("status", "trigger", "reason", "team_queue")
    search_fields = ("contact__email",)
    raw_id_fields = ("contact", "account", "owner", "previous", "deal")


from onefunnel import (  # noqa: E402
    admin_accounts,  # noqa: F401  (admin for contracts and health)
    admin_intent,  # noqa: F401  (admin for scoring, routing, webhooks)
    admin_marketing,  # noqa: F401  (admin for campaigns and spend)
    admin_plan,  # noqa: F401  (admin for targets, plans, budgets)
    admin_sequences,  # noqa: F401  (admin for email sequences, sends, suppressions)
)
