"""Dashboard views: thin — each asks a service or report for its data and renders a template."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from onefunnel.analytics.status import funnel_status
from onefunnel.web.charts import funnel_chart


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The one page both teams share: the funnel at a glance."""
    status = funnel_status()
    return render(
        request,
        "onefunnel/dashboard.html",
        {"status": status, "funnel_spec": funnel_chart(status.stages)},
    )


@login_required
def status_panel(request: HttpRequest) -> HttpResponse:
    """The totals cards, refreshed in place by htmx."""
    return render(request, "onefunnel/_status_cards.html", {"status": funnel_status()})
