"""Admin for the plan: targets, saved plans, forecast categories and budgets — read-only. Each
is written through its service (``services/plan``), which checks who may set it and keeps
plan versions whole; the admin is for reading and finding them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from onefunnel.models import CampaignBudget, DealForecast, Plan, Target


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Target)
class TargetAdmin(_ReadOnly, admin.ModelAdmin[Target]):
    list_display = ("month", "metric", "scope", "subject", "value", "set_by", "set_at")
    list_filter = ("metric", "scope", "month")
    search_fields = ("subject", "team")


@admin.register(Plan)
class PlanAdmin(_ReadOnly, admin.ModelAdmin[Plan]):
    list_display = ("name", "version", "period", "revenue", "currency", "created_by", "created_at")
    list_filter = ("period",)
    search_fields = ("name",)


@admin.register(DealForecast)
class DealForecastAdmin(_ReadOnly, admin.ModelAdmin[DealForecast]):
    list_display = ("deal", "category", "set_by", "set_at")
    list_filter = ("category",)
    raw_id_fields = ("deal",)


@admin.register(CampaignBudget)
class CampaignBudgetAdmin(_ReadOnly, admin.ModelAdmin[CampaignBudget]):
    list_display = ("month", "channel", "campaign", "plan", "amount", "currency", "goal_leads")
    list_filter = ("channel", "month")
