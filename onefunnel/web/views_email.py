"""The links inside sequence emails. Thin: verify the signed token, call a service, answer.

* ``open``: a 1x1 GIF; a valid token records an ``email_open`` touch.
* ``click``: a valid token records an ``email_click`` touch and redirects to its target; a
  tampered one answers 400 and redirects nowhere.
* ``unsubscribe``: GET shows a confirm page; POST (RFC 8058 one-click, sent by mail clients
  without cookies, hence no CSRF token) unsubscribes.
"""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from onefunnel.services.errors import NotFoundError
from onefunnel.services.marketing import email_events
from onefunnel.services.marketing.email_links import (
    BadLinkError,
    read_click,
    read_open,
    read_unsubscribe,
)

_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@never_cache
@require_GET
def email_open(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel: always a transparent GIF; a valid token records the open."""
    try:
        email_events.record_open(read_open(token))
    except (BadLinkError, NotFoundError):
        return HttpResponse(_PIXEL, content_type="image/gif", status=404)
    return HttpResponse(_PIXEL, content_type="image/gif")


@never_cache
@require_GET
def email_click(request: HttpRequest, token: str) -> HttpResponse:
    """A tracked link: record the click, then go where the email meant."""
    try:
        click = read_click(token)
        email_events.record_click(click.send_id, click.target)
    except (BadLinkError, NotFoundError):
        return HttpResponse(
            "This link is not valid.", content_type="text/plain; charset=utf-8", status=400
        )
    return HttpResponseRedirect(click.target)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the confirm page. POST: unsubscribe (one click)."""
    try:
        send_id = read_unsubscribe(token)
        email = email_events.address_of(send_id)
    except (BadLinkError, NotFoundError):
        page = render(request, "onefunnel/email_unsubscribe.html", {"invalid": True}, status=400)
        return page
    if request.method == "POST":
        email_events.unsubscribe(send_id)
        return render(request, "onefunnel/email_unsubscribe.html", {"done": True, "email": email})
    return render(request, "onefunnel/email_unsubscribe.html", {"email": email})
