"""Content-Security-Policy: pages may load only what onefunnel itself serves.

Django 5.2 has no CSP of its own (it arrives in 6.0), so this small middleware sets the header.
Scripts come only from the server (no inline script anywhere; data for charts and Swagger is
in ``<script type="application/json">``, which is not executed). Styles allow inline
``style`` attributes, which vega-embed, Swagger UI and the admin set. The dashboard's charts
need ``'unsafe-eval'``: Vega compiles its expressions with ``new Function`` (checked: with
``script-src 'self'`` alone the funnel chart is never drawn), so views marked
``allow_eval`` — the dashboard only — add it; every other page forbids it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse

F = TypeVar("F", bound=Callable[..., Any])

_BASE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _header(*, allow_eval: bool) -> str:
    policy = dict(_BASE)
    if allow_eval:
        policy["script-src"] += " 'unsafe-eval'"
    return "; ".join(f"{k} {v}" for k, v in policy.items())


POLICY = _header(allow_eval=False)
POLICY_WITH_EVAL = _header(allow_eval=True)


def allow_eval(view: F) -> F:
    """Mark a view whose page runs Vega (which needs ``'unsafe-eval'``)."""
    view.csp_allow_eval = True  # type: ignore[attr-defined]
    return view


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every HTML answer (JSON and files need none)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            relaxed = getattr(request, "_csp_allow_eval", False)
            response["Content-Security-Policy"] = POLICY_WITH_EVAL if relaxed else POLICY
        return response

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        if getattr(view, "csp_allow_eval", False):
            request._csp_allow_eval = True  # type: ignore[attr-defined]
