"""Routes of the Segment-compatible tracking endpoints, mounted at ``/v1/``."""

from __future__ import annotations

from django.urls import path

from onefunnel.api.tracking import KINDS, endpoint

urlpatterns = [path(f"{kind}", endpoint, {"kind": kind}, name=f"tracking-{kind}") for kind in KINDS]
