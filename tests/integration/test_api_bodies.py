"""Bodies the API cannot read answer 400 in the JSON error format, documented on every
operation (found by the schemathesis run, tests/e2e/test_api_fuzz.py)."""

from __future__ import annotations

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.api import api

pytestmark = pytest.mark.django_db

TOKEN = "a" * 32  # a CSRF secret is 32 letters or digits


@pytest.fixture
def admin() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-1234567"))
    client.cookies["csrftoken"] = TOKEN  # the header below carries the same token
    return client


@pytest.mark.parametrize("path", ["/api/contacts", "/api/deals", "/api/campaigns"])
def test_a_multipart_body_without_boundary_is_400_not_500(admin: Client, path: str) -> None:
    response = admin.generic(
        "POST",
        path,
        b'{"email": "a@b.example"}',
        content_type="multipart/form-data",
        HTTP_X_CSRFTOKEN=TOKEN,
    )
    assert response.status_code == 400
    body = orjson.loads(response.content)
    assert body["detail"].startswith("cannot parse request body")
    assert body["errors"][0]["loc"] == ["header", "Content-Type"]


def test_every_operation_documents_400_and_each_response_schema_has_its_own_name() -> None:
    schema = api.get_openapi_schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "400" in operation["responses"], f"{method.upper()} {path}"
    health = schema["paths"]["/api/health/config"]["get"]["responses"]["200"]
    ref = health["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "created_at" not in schema["components"]["schemas"][ref]["properties"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/contacts", {"email": "nul@acme.example", "first_name": "a\u0000b"}),
        ("POST", "/api/accounts", {"name": "Acme\u0000", "domain": "nul.example"}),
        ("POST", "/api/campaigns", {"channel": "paid_search", "utm_campaign": "x\u0000y"}),
        ("GET", "/api/contacts?q=a%00b", None),
    ],
)
def test_a_nul_character_is_refused_or_stored_never_a_500(
    admin: Client, method: str, path: str, body: object
) -> None:
    # PostgreSQL cannot store U+0000 in text; SQLite can. Either answer is fine, a 500 is not.
    response = admin.generic(
        method,
        path,
        orjson.dumps(body) if body is not None else b"",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=TOKEN,
    )
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert orjson.loads(response.content)["errors"], response.content[:300]


def test_a_touch_at_an_offset_postgresql_refuses_is_stored_in_utc(admin: Client) -> None:
    body = {
        "message_id": "odd-offset",
        "kind": "custom",
        "occurred_at": "1999-03-06T03:39:15+18:52",  # Python accepts it; PostgreSQL does not
        "anonymous_id": "a-1",
    }
    response = admin.post(
        "/api/touchpoints", orjson.dumps(body), "application/json", HTTP_X_CSRFTOKEN=TOKEN
    )
    assert response.status_code == 201, response.content[:300]
    assert orjson.loads(response.content)["occurred_at"].startswith("1999-03-05T08:47:15")
