"""URL routes: admin and the JSON API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from onefunnel.api import api
from onefunnel.web.views_common import favicon

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("v1/", include("onefunnel.api.tracking_urls")),
    path("favicon.ico", favicon),
    path("", include("onefunnel.web.urls")),
]
