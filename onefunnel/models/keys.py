"""API keys: write keys for tracking (Segment-style) and other scoped keys. Stored hashed."""

from __future__ import annotations

from django.db import models


class ApiKey(models.Model):
    """A scoped secret. Only its SHA-256 is stored: keys are long random tokens, so a fast hash
    is safe and lets every tracking request be checked in one indexed lookup."""

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=50, help_text="e.g. tracking:write")
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a key")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A browser key: the web origins whose pages may send with it (canonical, see
    # onefunnel.domain.origins). Empty: a server key, which never answers a browser.
    origins = models.JSONField(default=list, blank=True)
    # Requests refused because of their origin: how many, and the last one (for the operator).
    refused_count = models.BigIntegerField(default=0)
    last_refused_origin = models.CharField(max_length=200, blank=True)
    last_refused_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.scope}, {self.prefix}…)"
