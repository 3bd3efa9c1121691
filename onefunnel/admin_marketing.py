"""Admin for campaigns and spend: edits go through marketing's rules.

A campaign is saved by ``services.marketing.campaigns`` as the signed-in admin user (the rule
book and ``campaign_rules``: dates in order, budget not negative, no spend left outside the
dates); the form asks the same rules first so a refusal names the field on the page instead of
failing the save. Spend entries are checked the same way (a day outside the campaign is refused
on the ``day`` field)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from onefunnel.models import Campaign, Spend
from onefunnel.services.access import actor_for
from onefunnel.services.crm_records import CAMPAIGN_WRITABLE
from onefunnel.services.errors import InputError
from onefunnel.services.marketing import campaigns
from onefunnel.services.marketing.campaign_rules import check_campaign, check_spend_day
from onefunnel.services.spend import check_amount


def _field_error(form: forms.ModelForm[Any], exc: InputError, fields: dict[str, str]) -> None:
    field, _, message = str(exc).partition(": ")
    name = fields.get(field, field)
    form.add_error(name if name in form.fields else None, message or str(exc))


class CampaignForm(forms.ModelForm[Campaign]):
    class Meta:
        model = Campaign
        fields = ("utm_campaign", *CAMPAIGN_WRITABLE)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        probe = Campaign(pk=self.instance.pk)
        for name in CAMPAIGN_WRITABLE:
            setattr(probe, name, data.get(name, getattr(self.instance, name)))
        try:
            check_campaign(probe)
        except InputError as exc:
            _field_error(self, exc, {})
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    form = CampaignForm
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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The UTM key is what touches carry: fixed once the campaign exists.
        return ("utm_campaign",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        fields = {n: form.cleaned_data[n] for n in CAMPAIGN_WRITABLE if n in form.cleaned_data}
        actor = actor_for(request.user)
        if change:
            saved = campaigns.update_campaign(actor, obj.pk, fields)
        else:
            saved = campaigns.create_campaign(actor, obj.utm_campaign, fields)
        obj.pk = saved.id
        obj.refresh_from_db()


class SpendForm(forms.ModelForm[Spend]):
    class Meta:
        model = Spend
        fields = ("campaign", "day", "amount", "currency")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        campaign, day, amount = data.get("campaign"), data.get("day"), data.get("amount")
        try:
            if amount is not None:
                check_amount(amount)
            if campaign is not None and day is not None:
                check_spend_day(campaign, day)
        except InputError as exc:
            _field_error(self, exc, {"date": "day"})
        return data


@admin.register(Spend)
class SpendAdmin(admin.ModelAdmin[Spend]):
    form = SpendForm
    list_display = ("campaign", "day", "amount", "currency")
    list_filter = ("campaign__channel", "currency")
    search_fields = ("campaign__name",)
    date_hierarchy = "day"
