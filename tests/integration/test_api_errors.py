"""Errors in the shape promised: JSON error format and documented statuses for absurd input."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from onefunnel.models import Contact

pytestmark = pytest.mark.django_db

HUGE = "19029401426489772081152"


def _signed_in(**kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(get_user_model().objects.create_superuser("ada", "a@x.io", "x" * 12))
    return client


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = orjson.loads(response.content)
    assert isinstance(body["detail"], str)
    assert isinstance(body["errors"], list)
    return body


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/contacts/abc", 404),
        ("/api/no-such-thing", 404),
        ("/v1/no-such-thing", 404),
        (f"/api/contacts?account={HUGE}", 422),
        (f"/api/touchpoints?contact={HUGE}", 422),
        (f"/api/contacts/{HUGE}", 404),
        ("/api/reports/funnel?to=9999-12-31", 422),
        ("/api/reports/spend?from=0001-01-01", 422),
        ("/api/reports/attribution?to=0001-01-05", 422),
        ("/api/reports/nope", 404),
    ],
)
def test_absurd_requests_answer_the_json_error_format(path: str, status: int) -> None:
    body = _error(_signed_in().get(path), status)
    if status == 422 and "reports" in path:
        assert body["errors"][0]["loc"][0] == "query"


def test_a_failed_csrf_check_is_json_and_writes_nothing() -> None:
    client = _signed_in(enforce_csrf_checks=True)
    response = client.post("/api/contacts", {"email": "eve@x.io"}, content_type="application/json")
    _error(response, 403)
    assert not Contact.objects.exists()


def test_unauthenticated_is_json() -> None:
    _error(Client().get("/api/contacts"), 401)


def test_the_openapi_documents_the_error_statuses_of_every_operation() -> None:
    schema = orjson.loads(_signed_in().get("/api/openapi.json").content)
    assert "Error" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"401", "403", "404", "422"} <= set(operation["responses"]), (path, method)


def test_the_openapi_has_no_key_twice() -> None:
    """Swagger UI reads the schema as YAML, which refuses a duplicate key (e.g. 403 and "403")."""
    import json

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    json.loads(_signed_in().get("/api/openapi.json").content, object_pairs_hook=unique)


def test_dashboard_panels_answer_absurd_dates_with_a_message() -> None:
    client = _signed_in()
    for slug in ("leaks", "spend", "quality", "follow-up"):
        response = client.get(f"/panels/report/{slug}", {"to": "9999-12-31"})
        assert response.status_code == 200, slug
        assert "out of range" in response.content.decode(), slug
    page = client.get("/", {"to": "9999-12-31"})
    assert page.status_code == 200
    assert "out of range" in page.content.decode()
