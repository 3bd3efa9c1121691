"""Every URL and every API operation, asked by every kind of caller: nobody, a wrong key, a key
of each scope, and a user of each role. The expectations are the table below; a route with no
row fails the suite ("add a rule for …"), so an endpoint cannot be added without a rule.

The check is the status class: a refused caller gets 401/403 (API) or a redirect to the sign-in
page (pages, the admin); an allowed one gets anything else — a 404 or 422 for a made-up id or an
empty body is fine, it got past the door. Writes are sent with their real method and a minimal
body, so a role the rule book forbids to write is refused before anything is read.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import orjson
import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from onefunnel.api import api
from onefunnel.models import RepProfile
from onefunnel.services.keys import CRM_READ, CRM_WRITE, REPORTS_READ, TRACKING_WRITE, create_key
from onefunnel.services.tracking_writer import writer

pytestmark = pytest.mark.django_db

# ------------------------------------------------------------------------------ the callers

KEYS = {"key:tracking": TRACKING_WRITE, "key:crm_read": CRM_READ, "key:crm_write": CRM_WRITE}
KEYS["key:reports"] = REPORTS_READ
ROLES = ("sales_rep", "team_lead", "account_manager", "marketing", "leadership", "admin")
CALLERS = ("anonymous", "key:wrong", *KEYS, "no_role", *ROLES)

NOBODY: frozenset[str] = frozenset()
EVERY_ROLE = frozenset(ROLES)
SIGNED_IN = EVERY_ROLE | {"no_role"}  # any signed-in user, even one without a role
SELLERS = frozenset({"sales_rep", "team_lead", "account_manager", "admin"})
MARKETING = frozenset({"marketing", "admin"})
ADMIN = frozenset({"admin"})
WORKERS = SELLERS | MARKETING  # the roles that write the shared record (not leadership)
CRM_KEYS = frozenset({"key:crm_read", "key:crm_write"})
ALL_READ_KEYS = CRM_KEYS | {"key:reports"}
EVERYONE = frozenset(CALLERS)

# --------------------------------------------------------------------------- the rule table
# (method, path pattern) -> who gets past the door. Patterns are the resolver's (pages, /v1/,
# the admin) or OpenAPI's (/api/). "GET" rows of pages are also the page's only method.

WEB: dict[tuple[str, str], frozenset[str]] = {
    ("GET", ""): SIGNED_IN,
    ("GET", "home"): SIGNED_IN,
    ("GET", "login"): EVERYONE,
    ("GET", "favicon.ico"): EVERYONE,
    ("GET", "search"): SIGNED_IN,
    ("GET", "queue"): SIGNED_IN,
    ("GET", "queue/rows"): SIGNED_IN,
    ("POST", "queue/<int:handoff_id>/accept"): SIGNED_IN,
    ("POST", "queue/<int:handoff_id>/reject"): SIGNED_IN,
    ("POST", "queue/<int:handoff_id>/reassign"): SIGNED_IN,
    # Timelines are the shared record (every role reads them); deals, and every action on these
    # pages, are decided per record by the rule book in the services (a made-up id answers 404
    # to whoever is signed in): tests/integration/test_web_records.py checks the per-record rules.
    ("GET", "contacts/<int:contact_id>"): SIGNED_IN,
    ("GET", "contacts/<int:contact_id>/entries"): SIGNED_IN,
    ("POST", "contacts/<int:contact_id>/activity"): SIGNED_IN,
    ("POST", "contacts/<int:contact_id>/task"): SIGNED_IN,
    ("POST", "contacts/<int:contact_id>/nurture"): SIGNED_IN,
    ("POST", "contacts/<int:contact_id>/requalify"): SIGNED_IN,
    ("GET", "accounts/<int:account_id>"): SIGNED_IN,
    ("GET", "accounts/<int:account_id>/entries"): SIGNED_IN,
    ("POST", "accounts/<int:account_id>/activity"): SIGNED_IN,
    ("GET", "deals/<int:deal_id>"): SIGNED_IN,
    ("POST", "deals/<int:deal_id>/move"): SIGNED_IN,
    ("POST", "deals/<int:deal_id>/win"): SIGNED_IN,
    ("POST", "deals/<int:deal_id>/lose"): SIGNED_IN,
    ("POST", "deals/<int:deal_id>/activity"): SIGNED_IN,
    ("GET", "board"): SIGNED_IN,
    ("GET", "panels/status"): SIGNED_IN,
    ("GET", "panels/report/<slug:slug>"): SIGNED_IN,
    # Forms: marketing's list for the signed in; a form's public page, definition and submit
    # endpoint for anybody (a made-up slug answers 404).
    ("GET", "forms"): SIGNED_IN,
    # Email sequences: read by every signed-in user (as the API's reads); written by marketing
    # (the rule book's edit_marketing), refused to others before any record is read.
    ("GET", "sequences"): SIGNED_IN,
    ("GET", "sequences/new"): MARKETING,
    ("POST", "sequences/new"): MARKETING,
    ("GET", "sequences/<int:sequence_id>"): SIGNED_IN,
    ("GET", "sequences/<int:sequence_id>/edit"): MARKETING,
    ("POST", "sequences/<int:sequence_id>/edit"): MARKETING,
    ("POST", "sequences/<int:sequence_id>/enroll"): MARKETING,
    ("POST", "sequences/<int:sequence_id>/active"): MARKETING,
    ("GET", "sequences/<int:sequence_id>/records"): SIGNED_IN,
    ("GET", "sequences/<int:sequence_id>/preview"): SIGNED_IN,
    ("GET", "f/<slug:slug>"): EVERYONE,
    ("POST", "f/<slug:slug>"): EVERYONE,
    ("GET", "f/<slug:slug>/form.json"): EVERYONE,
    ("POST", "f/<slug:slug>/submit"): EVERYONE,
    # The links inside sequence emails: anyone holding the signed link (a made-up token: 4xx).
    ("GET", "email/open/<str:token>"): EVERYONE,
    ("GET", "email/click/<str:token>"): EVERYONE,
    ("GET", "email/unsubscribe/<str:token>"): EVERYONE,
    # Marketing's pages are read by every role; their writes are decided by the rule book in
    # services.marketing (marketing and admins; others get the 403 page past the door):
    # tests/integration/test_web_marketing.py checks them per role.
    ("GET", "campaigns"): SIGNED_IN,
    ("POST", "campaigns/new"): MARKETING,
    ("GET", "campaigns/<int:campaign_id>"): SIGNED_IN,
    ("POST", "campaigns/<int:campaign_id>/edit"): SIGNED_IN,
    ("POST", "campaigns/<int:campaign_id>/month"): SIGNED_IN,
    ("GET", "campaigns/<int:campaign_id>/link"): SIGNED_IN,
    ("POST", "campaigns/spend/upload"): MARKETING,
    ("POST", "campaigns/spend/confirm"): MARKETING,
    ("GET", "marketing"): SIGNED_IN,
    ("GET", "marketing/<slug:slug>"): SIGNED_IN,
    ("GET", "records"): SIGNED_IN,
    # Segments: read by every role (the shared record, as in the API); the form and refreshing
    # are marketing's (others get the 403 page before anything is read):
    # tests/integration/test_web_segments.py checks them per role.
    ("GET", "segments"): SIGNED_IN,
    ("GET", "segments/new"): MARKETING,
    ("POST", "segments/new"): MARKETING,
    ("GET", "segments/<int:segment_id>"): SIGNED_IN,
    ("GET", "segments/<int:segment_id>/edit"): MARKETING,
    ("POST", "segments/<int:segment_id>/edit"): MARKETING,
    ("POST", "segments/<int:segment_id>/refresh"): MARKETING,
    # The role workspaces read the shared record and reports (open to every signed-in user, as
    # the API's reads are); what each panel lists follows the rule book in the services.
    ("GET", "customers"): SIGNED_IN,
    ("GET", "plan"): SIGNED_IN,
    ("GET", "leadership"): SIGNED_IN,
    ("GET", "panels/workspace/<slug:slug>"): SIGNED_IN,
    ("POST", "logout"): EVERYONE,  # asked last: it ends the sessions
}
#: The Segment endpoints: the write key only (as the HTTP Basic user, as Segment's SDKs send it).
TRACKING = {
    ("POST", f"v1/{kind}"): frozenset({"key:tracking"})
    for kind in ("batch", "import", "track", "identify", "page", "screen", "group", "alias")
}
# analytics.js's paths (the type's first letter, b for batches) and RudderStack's beacon batches
# take the same keys; analytics.js's own metrics (/v1/m) are taken from anyone and dropped.
TRACKING |= {("POST", f"v1/{kind}"): frozenset({"key:tracking"}) for kind in "tpigasb"}
TRACKING |= {("POST", "beacon/v1/batch"): frozenset({"key:tracking"}), ("POST", "v1/m"): EVERYONE}
#: The admin: staff only (the admin user here); its sign-in and sign-out pages are open.
ADMIN_OPEN = {"admin/login/", "admin/logout/", "admin/jsi18n/"}
#: The admin's index and change lists let the admin in; its other views may refuse even the
#: admin (governed records have no add or delete; autocomplete needs its parameters), but
#: never let anybody else in.
_ADMIN_LIST = re.compile(r"^admin/(\w+/\w+/)?$")

API: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/health"): EVERYONE,
    ("GET", "/api/status"): SIGNED_IN | ALL_READ_KEYS,
    # who changed what: leadership and admins only (domain/access.py, Action.READ_AUDIT)
    ("GET", "/api/audit"): frozenset({"leadership", "admin"}),
    # Accounts (customers): sellers' work; reads open to every role.
    ("GET", "/api/contracts"): SIGNED_IN,
    ("POST", "/api/contracts"): SIGNED_IN,
    ("POST", "/api/contracts/from-deal/{deal_id}"): SIGNED_IN,
    ("GET", "/api/contracts/{contract_id}"): SIGNED_IN,
    ("POST", "/api/contracts/{contract_id}/end"): SIGNED_IN,
    ("POST", "/api/contracts/{contract_id}/payment"): SIGNED_IN,
    ("GET", "/api/renewals"): SIGNED_IN,
    ("GET", "/api/accounts/{account_id}/health"): SIGNED_IN,
    ("GET", "/api/churn-risk"): SIGNED_IN,
    ("GET", "/api/expansion"): SIGNED_IN,
    ("GET", "/api/health/config"): SIGNED_IN,
    ("PUT", "/api/health/config"): ADMIN,
    # The shared record: reads for every role and CRM keys; writes for the crm:write key and
    # roles.
    **{
        ("GET", p): SIGNED_IN | CRM_KEYS
        for p in (
            "/api/contacts",
            "/api/contacts/{contact_id}",
            "/api/accounts",
            "/api/accounts/{account_id}",
            "/api/campaigns",
            "/api/campaigns/{campaign_id}",
            "/api/spend",
            "/api/touchpoints",
            "/api/touchpoints/{touchpoint_id}",
            "/api/stage-changes",
            "/api/stage-changes/{change_id}",
            "/api/deals",
            "/api/deals/{deal_id}",
            "/api/deals/{deal_id}/history",
            "/api/pipelines",
            "/api/deal-board",
            "/api/activities",
            "/api/tasks",
        )
    },
    **{
        (m, p): WORKERS | {"key:crm_write"}
        for m, p in (
            ("POST", "/api/contacts"),
            ("PATCH", "/api/contacts/{contact_id}"),
            ("PUT", "/api/contacts/by-email/{email}"),
            ("POST", "/api/contacts/batch"),
            ("POST", "/api/accounts"),
            ("PATCH", "/api/accounts/{account_id}"),
            ("PUT", "/api/accounts/by-domain/{domain}"),
            ("POST", "/api/accounts/batch"),
            ("POST", "/api/touchpoints"),
            ("POST", "/api/touchpoints/batch"),
        )
    },
    **{
        (m, p): MARKETING | {"key:crm_write"}
        for m, p in (
            ("POST", "/api/campaigns"),
            ("PATCH", "/api/campaigns/{campaign_id}"),
            ("POST", "/api/campaigns/batch"),
            ("POST", "/api/spend"),
            ("POST", "/api/spend/batch"),
            ("POST", "/api/segments"),
            ("PATCH", "/api/segments/{segment_id}"),
            ("DELETE", "/api/segments/{segment_id}"),
            ("POST", "/api/segments/{segment_id}/refresh"),
        )
    },
    # Segments: every role and the CRM keys read (and preview a count).
    **{
        (m, p): SIGNED_IN | CRM_KEYS
        for m, p in (
            ("GET", "/api/segments"),
            ("POST", "/api/segments/preview"),
            ("GET", "/api/segments/{segment_id}"),
            ("GET", "/api/segments/{segment_id}/count"),
            ("GET", "/api/segments/{segment_id}/members"),
            ("GET", "/api/segments/{segment_id}/history"),
        )
    },
    # Deals, activities, tasks, contact moves: the crm:write key or a session; their services
    # check the rule book per record (WORK_DEAL, LOG_ACTIVITY, MOVE_CONTACT), which a made-up
    # id cannot reach (tests/integration/test_sales_api.py covers those).
    **{
        (m, p): SIGNED_IN | {"key:crm_write"}
        for m, p in (
            ("POST", "/api/deals"),
            ("PATCH", "/api/deals/{deal_id}"),
            ("POST", "/api/deals/{deal_id}/move"),
            ("POST", "/api/deals/{deal_id}/win"),
            ("POST", "/api/deals/{deal_id}/lose"),
            ("POST", "/api/activities"),
            ("POST", "/api/tasks"),
            ("POST", "/api/tasks/{task_id}/done"),
            ("POST", "/api/contacts/{contact_id}/nurture"),
            ("POST", "/api/contacts/{contact_id}/requalify"),
        )
    },
    # Handoffs, scoring, routing: signed-in users; the service decides per record.
    ("GET", "/api/handoffs"): SIGNED_IN,
    ("GET", "/api/handoffs/{handoff_id}"): SIGNED_IN,
    ("POST", "/api/handoffs/{handoff_id}/accept"): SIGNED_IN,
    ("POST", "/api/handoffs/{handoff_id}/reject"): SIGNED_IN,
    ("POST", "/api/handoffs/{handoff_id}/reassign"): SIGNED_IN,
    ("POST", "/api/handoffs/{handoff_id}/respond"): SIGNED_IN,
    ("GET", "/api/contacts/{contact_id}/score"): SIGNED_IN,
    ("GET", "/api/scoring/config"): SIGNED_IN,
    ("PUT", "/api/scoring/config"): MARKETING,
    ("GET", "/api/routing/config"): SIGNED_IN,
    ("PUT", "/api/routing/config"): ADMIN,
    # Reports and lifetime value: roles and the reports key.
    ("POST", "/api/ltv/fit"): SIGNED_IN | {"key:reports"},
    ("GET", "/api/ltv/deals"): SIGNED_IN | {"key:reports"},
    ("GET", "/api/reports/{name}"): SIGNED_IN | {"key:reports"},
    # The plan: reads for roles; writes by the rule book (targets: admins and team leads).
    ("GET", "/api/targets"): SIGNED_IN,
    ("POST", "/api/targets"): SIGNED_IN,
    ("GET", "/api/forecast"): SIGNED_IN,
    ("GET", "/api/forecast/backtest"): SIGNED_IN,
    ("PUT", "/api/deals/{deal_id}/forecast"): SIGNED_IN,
    ("POST", "/api/plans/preview"): SIGNED_IN,
    ("POST", "/api/plans"): SIGNED_IN,
    ("GET", "/api/plans"): SIGNED_IN,
    ("GET", "/api/plans/{plan_id}"): SIGNED_IN,
    ("GET", "/api/budgets"): SIGNED_IN,
    ("POST", "/api/budgets"): SIGNED_IN,
    # Forms: reads for roles and CRM keys; definitions and the consent ledger for marketing.
    ("GET", "/api/forms"): SIGNED_IN | CRM_KEYS,
    ("POST", "/api/forms"): MARKETING,
    ("GET", "/api/forms/{slug}"): SIGNED_IN | CRM_KEYS,
    ("PATCH", "/api/forms/{slug}"): MARKETING,
    ("GET", "/api/forms/{slug}/consent"): MARKETING,
    # Email sequences: reads for every role and CRM keys; writes for marketing or crm:write.
    ("GET", "/api/sequences"): SIGNED_IN | CRM_KEYS,
    ("GET", "/api/sequences/{sequence_id}"): SIGNED_IN | CRM_KEYS,
    ("GET", "/api/sequences/{sequence_id}/enrollments"): SIGNED_IN | CRM_KEYS,
    ("POST", "/api/sequences"): MARKETING | {"key:crm_write"},
    ("PATCH", "/api/sequences/{sequence_id}"): MARKETING | {"key:crm_write"},
    ("POST", "/api/sequences/{sequence_id}/enroll"): MARKETING | {"key:crm_write"},
    ("POST", "/api/email/events"): MARKETING | {"key:crm_write"},
    ("POST", "/api/email/inbound"): MARKETING | {"key:crm_write"},
}

# ----------------------------------------------------------------------------- the walk

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_SAMPLE = {"int": "987654", "slug": "no-such-thing", "path": "987654", "str": "987654"}
_REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_REGEX_SAMPLE = {"app_label": "onefunnel", "url": "no-such-page/"}


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def _concrete(pattern: str) -> str:
    """A path for a resolver pattern, with made-up values for its parameters."""
    pattern = _REGEX_GROUP.sub(lambda m: _REGEX_SAMPLE.get(m.group(1), "x"), pattern)
    pattern = pattern.replace("^", "").replace("$", "")
    return "/" + _CONVERTER.sub(lambda m: _SAMPLE.get(m.group(1) or "str", "987654"), pattern)


def url_routes() -> list[str]:
    """Every resolver pattern outside /api/ (those are the API's operations)."""
    return [p for p, _ in _walk(get_resolver()) if not p.startswith("api/")]


def api_operations() -> list[tuple[str, str]]:
    """Every (method, path) of the API's OpenAPI."""
    schema = api.get_openapi_schema()
    return [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.fixture
def callers(db: None) -> dict[str, Client]:
    """A client per caller: nobody, keys by header, users by session (sellers in team sales)."""
    clients: dict[str, Client] = {
        "anonymous": Client(),
        "key:wrong": Client(HTTP_AUTHORIZATION="Bearer of_not-a-real-key"),
    }
    for name, scope in KEYS.items():
        secret = create_key(scope).secret
        clients[name] = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        clients[name].defaults["onefunnel_secret"] = secret
    for name in ("no_role", *ROLES):
        user = User.objects.create_user(
            username=name,
            password="pw-12345678",
            is_staff=name == "admin",
            is_superuser=name == "admin",
        )
        if name not in ("no_role", "admin"):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
            RepProfile.objects.create(user=user, team="sales", available=False)
        client = Client()
        client.force_login(user)
        clients[name] = client
    return clients


def _refused(response: object, path: str) -> bool:
    status = response.status_code  # type: ignore[attr-defined]
    if status in (401, 403):
        return True
    location = response.get("Location", "") if status in (301, 302) else ""  # type: ignore[attr-defined]
    return "login" in location and not path.rstrip("/").endswith(("login", "logout"))


def _tracking_body(path: str) -> bytes:
    """One valid message for the endpoint, so only the key decides."""
    kind = path.rsplit("/", 1)[1]
    message = {"userId": "u-1", "messageId": f"m-{kind}", "event": "Signed Up"}
    if kind in ("batch", "import", "b"):
        return orjson.dumps({"batch": [{"type": "track", **message}]})
    return orjson.dumps({"type": kind, "previousId": "u-0", "groupId": "g-1", **message})


def _ask(client: Client, method: str, path: str) -> object:
    if path.startswith(("/v1/", "/beacon/v1/")):
        # Segment's SDKs send the write key as the HTTP Basic user: every key is offered so.
        secret = client.defaults.get("onefunnel_secret", "of_not-a-real-key")
        auth = "Basic " + base64.b64encode(f"{secret}:".encode()).decode()
        headers = (
            {} if "HTTP_AUTHORIZATION" not in client.defaults else {"HTTP_AUTHORIZATION": auth}
        )
        return client.post(path, _tracking_body(path), content_type="application/json", **headers)
    if method == "GET":
        return client.get(path)
    return client.generic(method, path, "{}", content_type="application/json")


def _observe(clients: dict[str, Client], method: str, path: str) -> frozenset[str]:
    return frozenset(
        name for name, client in clients.items() if not _refused(_ask(client, method, path), path)
    )


def _diff(name: str, expected: frozenset[str], observed: frozenset[str]) -> str:
    return (
        f"{name}: let in {sorted(observed - expected)} wrongly,"
        f" refused {sorted(expected - observed)} wrongly"
    )


def test_every_route_has_a_rule() -> None:
    missing = [f"add a rule for {m} {p}" for m, p in api_operations() if (m, p) not in API]
    for pattern in url_routes():
        if pattern.startswith("admin/"):
            continue  # one rule for the whole admin (below)
        if not any(p == pattern for _, p in (*WEB, *TRACKING)):
            missing.append(f"add a rule for /{pattern}")
    assert not missing, "\n".join(missing)
    stale = [f"{m} {p}" for m, p in API if (m, p) not in set(api_operations())]
    assert not stale, f"rules for operations that no longer exist: {stale}"


def test_api_operations_follow_the_table(callers: dict[str, Client]) -> None:
    wrong = []
    for method, path in api_operations():
        expected = API.get((method, path))
        if expected is None:
            continue  # test_every_route_has_a_rule names it
        observed = _observe(callers, method, re.sub(r"\{\w+\}", "987654", path))
        if observed != expected:
            wrong.append(_diff(f"{method} {path}", expected, observed))
    assert not wrong, "\n".join(wrong)


@pytest.mark.django_db(transaction=True)  # the tracking writer checks keys on its own thread
def test_pages_and_tracking_follow_the_table(callers: dict[str, Client]) -> None:
    wrong = []
    try:
        for (method, pattern), expected in (WEB | TRACKING).items():
            observed = _observe(callers, method, _concrete(pattern))
            if observed != expected:
                wrong.append(_diff(f"{method} /{pattern}", expected, observed))
    finally:
        # The tracking writer and processor threads keep connections of their own, which
        # PostgreSQL would not let the test database be dropped with.
        writer.close_connection()
    assert not wrong, "\n".join(wrong)


def test_the_admin_is_for_staff_only(callers: dict[str, Client]) -> None:
    wrong = []
    for pattern in url_routes():
        if not pattern.startswith("admin/") or pattern in ADMIN_OPEN:
            continue
        path = _concrete(pattern)
        observed = _observe(callers, "GET", path)
        if observed - ADMIN or (_ADMIN_LIST.match(pattern) and observed != ADMIN):
            wrong.append(_diff(f"GET {path}", ADMIN, observed))
    assert not wrong, "\n".join(wrong)
