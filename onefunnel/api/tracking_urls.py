"""Routes of the Segment-compatible tracking endpoints, mounted at ``/v1/`` (and RudderStack's
beacon batches at ``/beacon/v1/``)."""

from __future__ import annotations

from django.urls import path

from onefunnel.api.tracking import PATHS, endpoint

urlpatterns = [path(f"{kind}", endpoint, {"kind": kind}, name=f"tracking-{kind}") for kind in PATHS]
#: RudderStack's JS SDK with ``useBeacon``: ``navigator.sendBeacon`` to ``/beacon/v1/batch``.
beacon_patterns = [path("batch", endpoint, {"kind": "batch"}, name="tracking-beacon-batch")]
