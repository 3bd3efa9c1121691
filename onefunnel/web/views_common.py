"""Pages every role has: the home that sends each role to its workspace, search, favicon."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from onefunnel.domain.access import Role
from onefunnel.services.access import actor_for
from onefunnel.services.search import search as search_records

#: The workspace each role lands on after signing in (everyone else: the funnel).
HOMES: dict[Role | None, str] = {
    Role.SALES_REP: "web:queue",
    Role.TEAM_LEAD: "web:queue",
    Role.MARKETING: "web:marketing",
    Role.ACCOUNT_MANAGER: "web:customers",
    Role.LEADERSHIP: "web:leadership",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where signing in lands: the queue for sales, the funnel for everyone else."""
    return redirect(HOMES.get(actor_for(request.user).home_role, "web:dashboard"))


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """One box: contacts by name or email, accounts by name or domain, deals by name."""
    query = request.GET.get("q", "")
    results = search_records(query, actor_for(request.user))
    return render(request, "onefunnel/search.html", {"results": results, "q": query})


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """The site icon (browsers ask for /favicon.ico whatever the page says)."""
    path = finders.find("onefunnel/favicon.svg")
    if not path or not isinstance(path, str):
        raise Http404("no favicon")
    with open(path, "rb") as icon:
        return HttpResponse(icon.read(), content_type="image/svg+xml")
