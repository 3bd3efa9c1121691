"""Back-office CRUD in the Django admin, with search and filters on every concept."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from onefunnel.models import (
    Account,
    Campaign,
    Contact,
    ContactAlias,
    Deal,
    Handoff,
    PipelineStage,
    Spend,
    StageChange,
    Touchpoint,
)


class ContactAliasInline(admin.TabularInline[ContactAlias, Contact]):
    model = ContactAlias
    extra = 0


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    list_display = ("name", "domain", "industry", "employee_count", "country", "stage", "owner")
    list_filter = ("stage", "industry", "country")
    search_fields = ("name", "domain")
    readonly_fields = ("stage",)
    raw_id_fields = ("owner",)


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
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
    readonly_fields = ("stage", "score")
    raw_id_fields = ("account", "owner")
    inlines = [ContactAliasInline]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    list_display = (
        "name",
        "utm_campaign",
        "channel",
        "start_date",
        "end_date",
        "budget",
        "planned",
    )
    list_filter = ("channel", "planned")
    search_fields = ("name", "utm_campaign")


@admin.register(Spend)
class SpendAdmin(admin.ModelAdmin[Spend]):
    list_display = ("campaign", "day", "amount", "currency")
    list_filter = ("campaign__channel", "currency")
    search_fields = ("campaign__name",)
    date_hierarchy = "day"


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin[Touchpoint]):
    list_display = ("occurred_at", "kind", "channel", "campaign", "contact", "team")
    list_filter = ("kind", "channel", "team")
    search_fields = ("message_id", "contact__email", "anonymous_id", "utm_campaign")
    raw_id_fields = ("contact", "account", "campaign", "actor")
    date_hierarchy = "occurred_at"
    show_full_result_count = False


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin[StageChange]):
    """Read-only: stage history is append-only and written by services alone."""

    list_display = ("at", "contact", "account", "from_stage", "to_stage", "cause", "reason")
    list_filter = ("to_stage", "cause", "reason")
    search_fields = ("contact__email", "account__name")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PipelineStage)
class PipelineStageAdmin(admin.ModelAdmin[PipelineStage]):
    list_display = ("name", "sequence", "probability")


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin[Deal]):
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
    list_filter = ("kind", "status", "pipeline_stage", "lost_reason")
    search_fields = ("name", "account__name")
    raw_id_fields = ("account", "contact", "owner")


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin[Handoff]):
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
)
