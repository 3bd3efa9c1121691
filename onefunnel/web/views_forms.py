"""Forms on the web: marketing's list of forms, and the three ways a visitor submits one.

* ``/forms`` — the forms with their hosted page, embed snippet and submission counts (signed in).
* ``/f/<slug>`` — the hosted page: a plain HTML form that posts urlencoded to itself and works
  without JavaScript (the page's UTM parameters and the Segment anonymous id cookie, when the
  site shares it, are put in hidden fields by the server).
* ``/f/<slug>/form.json`` — the form's public definition, for the embed snippet
  (``static/onefunnel/forms-embed.js``), which draws the form on another site and posts JSON.
* ``/f/<slug>/submit`` — the JSON endpoint (JSON or urlencoded in; JSON out; CORS for the
  form's allowed origins, preflight included).

The submit paths are public, so they are exempt from CSRF (no session is involved) and protected
instead by: the ``Origin`` check (a browser's post from a site that is neither onefunnel nor one of
the form's allowed origins is refused, 403), a rate limit per IP address
(``ONEFUNNEL_FORMS_RATE``, default 10 per minute, 429), a body limit read before anything is
parsed (64 KiB, 413; at most 100 names and 5,000 characters a value, 422), and the honeypot
(``domain/forms.py``). Thin: the rules are in ``domain/forms.py`` and the service.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.core import is_ratelimited  # type: ignore[import-untyped]

from onefunnel.client_address import client_ip
from onefunnel.domain.forms import (
    ANONYMOUS_ID,
    HONEYPOT,
    MAX_BODY_BYTES,
    MAX_SUBMITTED_FIELDS,
    PAGE_URL,
    SUBMISSION_ID,
    UTM_FIELDS,
    FormError,
    SubmissionError,
    single_line,
)
from onefunnel.services.errors import InputError, NotFoundError
from onefunnel.services.marketing.forms import FormView, Visit, get_form, list_forms, submit_form

EMBED_SCRIPT = "onefunnel/forms-embed.js"
_SEGMENT_COOKIE = "ajs_anonymous_id"


class _RefusedError(Exception):
    """A request refused before the service is asked: status and message."""

    def __init__(self, status: int, message: str, loc: str = "") -> None:
        super().__init__(message)
        self.status, self.loc = status, loc or message.partition(": ")[0]


def _public_form(slug: str) -> FormView:
    try:
        return get_form(slug, active_only=True)
    except NotFoundError:
        raise Http404("no such form") from None


def _rate() -> str:
    return str(getattr(settings, "ONEFUNNEL_FORMS_RATE", "10/m"))


def _same_host(origin: str, request: HttpRequest) -> bool:
    # The host only: behind a proxy that ends TLS, the request may look like http while the
    # browser says https.
    return urlsplit(origin.lower()).netloc == request.get_host().lower()


def _origin_allowed(request: HttpRequest, form: FormView) -> str | None:
    """The Origin to answer CORS for, "" for a same-site (or origin-less: a server's) request;
    None when the origin may not post this form."""
    origin = request.headers.get("Origin")
    if origin is None or _same_host(origin, request):
        return ""
    return origin if origin.lower() in form.allowed_origins else None


def _read_values(request: HttpRequest) -> dict[str, object]:
    """The submitted names and values, refused (413/422) before anything is stored when too big
    or unreadable: the body is read up to the limit, never whole."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise _RefusedError(400, "header: invalid Content-Length") from None
    if declared > MAX_BODY_BYTES:
        raise _RefusedError(413, f"body: a submission is at most {MAX_BODY_BYTES // 1024} KiB")
    kind = request.content_type or ""
    if kind == "multipart/form-data":
        # A form posted with enctype="multipart/form-data" (files are ignored): Django's parser,
        # on a body already known to be small, with its own limit on the number of names.
        try:
            return {k: v for k, v in request.POST.items()}
        except (TooManyFieldsSent, RequestDataTooBig):
            raise _RefusedError(
                422, f"fields: at most {MAX_SUBMITTED_FIELDS} fields may be sent"
            ) from None
        except MultiPartParserError:
            raise _RefusedError(400, "body: not readable as multipart/form-data") from None
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise _RefusedError(413, f"body: a submission is at most {MAX_BODY_BYTES // 1024} KiB")
    if kind == "application/json":
        try:
            data = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            raise _RefusedError(400, "body: not valid JSON") from None
        if not isinstance(data, dict):
            raise _RefusedError(422, "body: must be a JSON object of field names and values")
        if len(data) > MAX_SUBMITTED_FIELDS:
            raise _RefusedError(422, f"fields: at most {MAX_SUBMITTED_FIELDS} fields may be sent")
        for name, value in data.items():
            if isinstance(value, dict | list):
                raise _RefusedError(422, "a value must be text, a number or true/false", name[:40])
        return data
    if kind in ("application/x-www-form-urlencoded", "text/plain", ""):
        try:
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_SUBMITTED_FIELDS
            )
        except UnicodeDecodeError:
            raise _RefusedError(400, "body: not UTF-8") from None
        except ValueError:
            raise _RefusedError(
                422, f"fields: at most {MAX_SUBMITTED_FIELDS} fields may be sent"
            ) from None
        return dict(pairs)
    raise _RefusedError(415, "body: send application/x-www-form-urlencoded or application/json")


def _visit(request: HttpRequest) -> Visit:
    return Visit(
        ip=client_ip(request) or None,
        user_agent=request.headers.get("User-Agent", ""),
        page_url=request.headers.get("Referer", ""),
    )


def _problems(exc: Exception) -> list[tuple[str, str]]:
    if isinstance(exc, SubmissionError):
        return list(exc.problems)
    field, _, msg = str(exc).partition(": ")
    return [(field, msg or str(exc))]


def _limited(request: HttpRequest) -> bool:
    return bool(
        is_ratelimited(
            request, group="onefunnel-forms", key="ip", rate=_rate(), method="POST", increment=True
        )
    )


# --------------------------------------------------------------------------- hosted page


def _segment_anonymous_id(request: HttpRequest) -> str:
    """The Segment anonymous id cookie (analytics.js keeps it JSON-quoted), if the site that
    serves onefunnel also runs analytics.js."""
    raw = unquote(request.COOKIES.get(_SEGMENT_COOKIE, ""))
    return single_line(raw.strip('"'))[:200]


def _page(
    request: HttpRequest,
    form: FormView,
    *,
    values: dict[str, Any] | None = None,
    errors: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    hidden = {name: single_line(request.GET.get(name, ""))[:200] for name in UTM_FIELDS}
    hidden[ANONYMOUS_ID] = _segment_anonymous_id(request)
    hidden[PAGE_URL] = request.build_absolute_uri()[:2000]
    # One id per page shown: posting the same page twice (a double click, a reload that
    # re-posts) records one submission.
    hidden[SUBMISSION_ID] = uuid.uuid4().hex
    if values:
        hidden.update({k: str(values[k]) for k in hidden if isinstance(values.get(k), str)})
    by_field = dict(errors or [])
    fields = [
        {**f.as_dict(), "value": (values or {}).get(f.name, ""), "error": by_field.get(f.name)}
        for f in form.fields
    ]
    context = {
        "form": form,
        "fields": fields,
        "hidden": hidden,
        "honeypot": HONEYPOT,
        "errors": errors or [],
        "consent_error": by_field.get("consent"),
    }
    return render(request, "onefunnel/forms_hosted.html", context, status=status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def hosted(request: HttpRequest, slug: str) -> HttpResponse:
    """The hosted form page; a POST submits it (and shows the thanks, or redirects)."""
    form = _public_form(slug)
    if request.method == "GET":
        return _page(request, form)
    if _origin_allowed(request, form) is None:
        return _page(request, form, errors=[("origin", "this site may not post the form")],
                     status=403)  # fmt: skip
    if _limited(request):
        return _page(request, form, errors=[("rate", "too many submissions; try in a minute")],
                     status=429)  # fmt: skip
    try:
        values = _read_values(request)
    except _RefusedError as exc:
        return _page(request, form, errors=[(exc.loc, str(exc))], status=exc.status)
    try:
        done = submit_form(slug, values, _visit(request))
    except (FormError, InputError) as exc:
        shown = {k: v for k, v in values.items() if isinstance(v, str) and len(v) <= 5000}
        return _page(request, form, values=shown, errors=_problems(exc), status=422)
    except NotFoundError:
        raise Http404("no such form") from None
    if done.redirect_url:
        return HttpResponseRedirect(done.redirect_url, status=303)
    return render(request, "onefunnel/forms_thanks.html", {"form": form})


# --------------------------------------------------------------------------- JSON and embed


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def _error(status: int, detail: str, problems: list[tuple[str, str]]) -> JsonResponse:
    errors = [{"loc": [loc], "msg": msg} for loc, msg in problems]
    return JsonResponse({"detail": detail, "errors": errors}, status=status)


@require_GET
def definition(request: HttpRequest, slug: str) -> HttpResponse:
    """The form's public definition (fields, consent text, thanks) for the embed snippet."""
    form = _public_form(slug)
    response = JsonResponse(form.public())
    response["Access-Control-Allow-Origin"] = "*"  # public: what the hosted page shows anyway
    return response


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def submit(request: HttpRequest, slug: str) -> HttpResponse:
    """Submit a form as JSON (or urlencoded); the answer is JSON: ``{"ok": true, "thank_you",
    "redirect_url"}``, or the API's error format naming the fields (422), 403 for an origin
    not allowed, 404, 413 too big, 415, 429 too many."""
    try:
        form = get_form(slug, active_only=True)
    except NotFoundError as exc:
        return _error(404, str(exc), [("form", "no such form")])
    origin = _origin_allowed(request, form)
    if origin is None:
        detail = "origin: this site may not post the form (see the form's allowed origins)"
        return _error(403, detail, [("origin", "not allowed")])
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    if _limited(request):
        return _cors(_error(429, "too many submissions from this address", []), origin)
    try:
        values = _read_values(request)
        done = submit_form(slug, values, _visit(request))
    except _RefusedError as exc:
        return _cors(_error(exc.status, str(exc), [(exc.loc, str(exc))]), origin)
    except (FormError, InputError) as exc:
        return _cors(_error(422, "invalid submission", _problems(exc)), origin)
    except NotFoundError as exc:
        return _cors(_error(404, str(exc), [("form", "no such form")]), origin)
    body = {"ok": True, "thank_you": done.thank_you, "redirect_url": done.redirect_url}
    return _cors(JsonResponse(body), origin)


# --------------------------------------------------------------------------- marketing's list


@login_required
@require_GET
def forms_list(request: HttpRequest) -> HttpResponse:
    """The forms, each with its hosted page, embed snippet and number of submissions."""
    host = request.build_absolute_uri("/").rstrip("/")
    rows = [
        {
            "form": form,
            "hosted": f"{host}/f/{form.slug}",
            "snippet": (
                f'<div data-onefunnel-form="{form.slug}"></div>\n'
                f'<script src="{host}/static/{EMBED_SCRIPT}" async></script>'
            ),
        }
        for form in list_forms()
    ]
    return render(request, "onefunnel/forms.html", {"rows": rows})
