"""Dashboard routes."""

from __future__ import annotations

from django.urls import path

from onefunnel.web import views

app_name = "web"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("panels/status", views.status_panel, name="status-panel"),
    path("panels/report/<slug:slug>", views.report_panel, name="report-panel"),
]
