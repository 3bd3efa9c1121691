"""URL routes: admin and the JSON API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from onefunnel.api import api
from onefunnel.api.tracking_urls import beacon_patterns
from onefunnel.web.views_common import favicon

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("v1/", include("onefunnel.api.tracking_urls")),
    path("beacon/v1/", include(beacon_patterns)),
    path("favicon.ico", favicon),
    path("email/", include("onefunnel.web.email_urls")),
    path("", include("onefunnel.web.urls")),
]

# Errors under /api/ and /v1/ answer in the API's JSON error format (onefunnel/api/root.py).
handler404 = "onefunnel.api.root.page_not_found"
handler500 = "onefunnel.api.root.server_error"
