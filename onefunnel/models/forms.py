"""Capture forms and their submissions: each submission keeps the consent agreed, with when
and from where (the record a data-protection request asks for)."""

from __future__ import annotations

from django.db import models

from onefunnel.models.campaigns import Campaign
from onefunnel.models.choices import USER_MODEL
from onefunnel.models.crm import Contact
from onefunnel.models.touchpoints import Touchpoint


class Form(models.Model):
    """A capture form (see ``domain/forms.py``); created and edited by marketing through
    ``services/marketing/forms.py``. ``fields`` holds the checked field list."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    fields = models.JSONField(default=list)
    consent_text = models.TextField(blank=True)
    hand_raise = models.BooleanField(default=False)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="forms"
    )
    thank_you = models.TextField()
    redirect_url = models.CharField(max_length=2000, blank=True)
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Sites whose pages may post this form (CORS)"
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class FormSubmission(models.Model):
    """One accepted submission: who, what they answered, and the consent — the exact text shown,
    its version (SHA-256), when, and from where (IP, page, browser). ``key`` makes a retried
    submission count once. Never edited."""

    form = models.ForeignKey(Form, on_delete=models.PROTECT, related_name="submissions")
    key = models.CharField(max_length=120, unique=True)
    contact = models.ForeignKey(
        Contact, null=True, on_delete=models.SET_NULL, related_name="form_submissions"
    )
    touchpoint = models.ForeignKey(
        Touchpoint, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.CharField(max_length=254)
    submitted_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    page_url = models.CharField(max_length=2000, blank=True)
    anonymous_id = models.CharField(max_length=200, blank=True)
    answers = models.JSONField(default=dict)
    utm = models.JSONField(default=dict)
    consent_given = models.BooleanField(default=False)
    consent_text = models.TextField(blank=True)
    consent_version = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["form", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.form_id}: {self.email} at {self.submitted_at:%Y-%m-%d %H:%M}"
