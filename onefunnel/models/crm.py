"""Who the funnel is about: accounts (companies), contacts (people) and their anonymous aliases."""

from __future__ import annotations

from django.db import models

from onefunnel.domain.stages import Stage
from onefunnel.models.choices import (
    USER_MODEL,
    optional_enum_field,
)


class Account(models.Model):
    """A company: the unit that buys, renews and churns."""

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, unique=True, null=True, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    region = models.CharField(max_length=50, blank=True)
    owner = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_accounts"
    )
    stage = optional_enum_field(Stage, help_text="Cached from the stage history")
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["stage"]), models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person. Known by email once identified; anonymous visits hang off aliases."""

    email = models.EmailField(unique=True, null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=50, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    owner = models.ForeignKey(
        USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_contacts"
    )
    stage = optional_enum_field(Stage, help_text="Cached from the stage history")
    score = models.FloatField(null=True, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["stage"]),
            # (account): the foreign key's own index already serves it.
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or f"contact #{self.pk}"


class ContactAlias(models.Model):
    """An anonymous id (cookie, device) known to belong to a contact since ``merged_at``."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="aliases")
    anonymous_id = models.CharField(max_length=200, unique=True)
    merged_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.anonymous_id
