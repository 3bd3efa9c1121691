"""The CRM API through Django's test client: auth, pages, filters, upserts, all-or-nothing batches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.models import ApiKey, Campaign, Contact, Spend
from onefunnel.services.keys import hash_key

pytestmark = pytest.mark.django_db

WRITE_KEY = "of_test_crm_write_0123456789abcdef"
READ_KEY = "of_test_crm_read_0123456789abcdef"


@pytest.fixture
def keys() -> None:
    for secret, scope in ((WRITE_KEY, "crm:write"), (READ_KEY, "crm:read")):
        ApiKey.objects.create(
            name=scope, scope=scope, prefix=secret[:10], key_hash=hash_key(secret)
        )


class Api:
    def __init__(self, key: str | None = WRITE_KEY, client: Client | None = None) -> None:
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        send = getattr(self.client, method)
        if body is None:
            response = send(f"/api{path}", params, headers=self.headers)
        else:
            response = send(
                f"/api{path}",
                json.dumps(body),
                content_type="application/json",
                headers=self.headers,
            )
        return response.status_code, json.loads(response.content) if response.content else None


def test_keys_and_scopes(keys: None) -> None:
    assert Api(None).call("get", "/contacts")[0] == 401
    assert Api("of_wrong").call("get", "/contacts")[0] == 401
    reader = Api(READ_KEY)
    assert reader.call("get", "/contacts")[0] == 200
    assert reader.call("post", "/contacts", {"email": "a@x.example"})[0] == 401
    assert Api().call("post", "/contacts", {"email": "a@x.example"})[0] == 201
    ApiKey.objects.filter(scope="crm:write").update(revoked_at="2026-01-01T00:00:00Z")
    assert Api().call("get", "/contacts")[0] == 401


def test_session_auth_reads_and_needs_csrf_to_write(keys: None) -> None:
    user = User.objects.create_user("ada", password="correct-horse-9")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    session = Api(None, client)
    assert session.call("get", "/contacts")[0] == 200
    assert session.call("post", "/contacts", {"email": "a@x.example"})[0] == 403
    assert not Contact.objects.exists()


def test_contacts_create_get_update_upsert(keys: None) -> None:
    api = Api()
    status, ada = api.call(
        "post", "/contacts", {"email": " Ada@Analytical.io ", "first_name": "Ada", "country": "gb"}
    )
    assert status == 201
    assert (ada["email"], ada["first_name"], ada["country"], ada["stage"]) == (
        "ada@analytical.io",
        "Ada",
        "GB",
        None,
    )
    status, body = api.call("post", "/contacts", {"email": "ada@analytical.io"})
    assert status == 422
    assert body["errors"][0]["loc"] == ["email"]
    assert api.call("get", f"/contacts/{ada['id']}")[1]["email"] == "ada@analytical.io"
    assert api.call("get", "/contacts/999999")[0] == 404
    status, patched = api.call("patch", f"/contacts/{ada['id']}", {"title": "CTO", "phone": ""})
    assert (status, patched["title"], patched["first_name"]) == (200, "CTO", "Ada")
    status, same = api.call(
        "put", "/contacts/by-email/ADA@analytical.io", {"first_name": "", "last_name": "Lovelace"}
    )
    assert (status, same["id"], same["first_name"], same["last_name"]) == (
        200,
        ada["id"],
        "Ada",
        "Lovelace",
    )
    status, new = api.call("put", "/contacts/by-email/grace@navy.example", {"first_name": "Grace"})
    assert (status, new["first_name"]) == (201, "Grace")
    status, body = api.call("patch", f"/contacts/{ada['id']}", {"country": "Britain"})
    assert (status, body["errors"][0]["loc"]) == (422, ["country"])
    status, body = api.call("put", "/contacts/by-email/not-an-email", {})
    assert (status, body["errors"][0]["loc"]) == (422, ["email"])


def test_pages_follow_the_cursor_and_filters_apply(keys: None) -> None:
    api = Api()
    created = [
        api.call("post", "/contacts", {"email": f"p{i}@x.example"})[1]["id"] for i in range(5)
    ]
    seen: list[int] = []
    after = None
    while True:
        status, page = api.call("get", "/contacts", limit=2, **({"after": after} if after else {}))
        assert status == 200
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert seen == created
    status, body = api.call("get", "/contacts", after="garbage!")
    assert (status, body["errors"][0]["loc"]) == (422, ["after"])
    assert api.call("get", "/contacts", limit=501)[0] == 422
    _, account = api.call("put", "/accounts/by-domain/Acme.example", {"name": "Acme"})
    api.call("patch", f"/contacts/{created[1]}", {"account_id": account["id"]})
    page = api.call("get", "/contacts", account=account["id"])[1]
    assert [c["id"] for c in page["items"]] == [created[1]]
    assert api.call("get", "/contacts", stage="intent")[1]["items"] == []
    assert api.call("get", "/contacts", stage="hot")[0] == 422


def test_batches_are_all_or_nothing(keys: None) -> None:
    api = Api()
    items = [{"email": "a@x.example"}, {"email": "b@x.example"}, {"email": "nope"}]
    status, body = api.call("post", "/contacts/batch", {"items": items})
    assert status == 422
    assert body["errors"][0]["loc"] == ["items", 2, "email"]
    assert not Contact.objects.exists()
    status, body = api.call("post", "/contacts/batch", {"items": items[:2]})
    assert (status, [c["email"] for c in body]) == (201, ["a@x.example", "b@x.example"])
    too_many = [{"email": f"n{i}@x.example"} for i in range(101)]
    assert api.call("post", "/contacts/batch", {"items": too_many})[0] == 422
    assert Contact.objects.count() == 2
    status, accounts = api.call(
        "post",
        "/accounts/batch",
        {"items": [{"domain": "a.example", "name": "A"}, {"name": "No Domain"}]},
    )
    assert (status, [a["domain"] for a in accounts]) == (201, ["a.example", None])


def test_accounts_upsert_by_domain(keys: None) -> None:
    api = Api()
    status, acme = api.call(
        "put", "/accounts/by-domain/www.ACME.example", {"name": "Acme", "employee_count": 40}
    )
    assert (status, acme["domain"], acme["employee_count"]) == (201, "acme.example", 40)
    status, again = api.call("put", "/accounts/by-domain/acme.example", {"industry": "Retail"})
    assert (status, again["id"], again["name"], again["industry"]) == (
        200,
        acme["id"],
        "Acme",
        "Retail",
    )
    assert api.call("post", "/accounts", {"domain": "acme.example", "name": "Dup"})[0] == 422
    assert api.call("get", f"/accounts/{acme['id']}")[1]["name"] == "Acme"


def test_campaigns_and_spend(keys: None) -> None:
    api = Api()
    status, spring = api.call(
        "post",
        "/campaigns",
        {
            "utm_campaign": "spring",
            "channel": "paid_search",
            "budget": "5000.00",
            "start_date": "2024-03-01",
            "end_date": "2024-05-31",
        },
    )
    assert (status, spring["planned"], spring["budget"]) == (201, True, "5000.00")
    assert api.call("post", "/campaigns", {"utm_campaign": "x", "channel": "carrier"})[0] == 422
    status, body = api.call("patch", f"/campaigns/{spring['id']}", {"end_date": "2024-01-01"})
    assert (status, body["errors"][0]["loc"]) == (422, ["end_date"])
    status, entry = api.call(
        "post", "/spend", {"campaign": "spring", "day": "2024-03-01", "amount": "120.50"}
    )
    assert (status, entry["outcome"], entry["entry"]["amount"]) == (200, "created", "120.50")
    status, entry = api.call(
        "post", "/spend", {"campaign": "spring", "day": "2024-03-01", "amount": "99"}
    )
    assert (entry["outcome"], Spend.objects.get().amount) == ("updated", 99)
    status, body = api.call(
        "post", "/spend", {"campaign": "spring", "day": "2024-03-02", "amount": "-1"}
    )
    assert (status, body["errors"][0]["loc"]) == (422, ["amount"])
    status, body = api.call("post", "/spend/batch", {"items": [
        {"campaign": "social-x", "day": "2024-03-01", "amount": "10", "channel": "paid_social"},
        {"campaign": "social-x", "day": "2024-03-02", "amount": "10", "channel": "email"},
    ]})  # fmt: skip
    assert (status, body["errors"][0]["loc"]) == (422, ["items", 1, "channel"])
    assert not Campaign.objects.filter(utm_campaign="social-x").exists()
    page = api.call("get", "/spend", channel="paid_search", since="2024-03-01", until="2024-03-02")[
        1
    ]
    assert [(s["campaign_id"], s["day"]) for s in page["items"]] == [(spring["id"], "2024-03-01")]
    assert api.call("get", "/campaigns", planned=False)[1]["items"] == []


def test_touchpoints_move_the_funnel_and_show_in_stage_history(keys: None) -> None:
    api = Api()
    _, ada = api.call("post", "/contacts", {"email": "ada@analytical.io"})
    touch = {"message_id": "m-1", "kind": "hand_raise", "occurred_at": "2024-03-01T10:00:00Z",
             "contact_id": ada["id"], "utm": {"source": "google", "medium": "cpc", "campaign": "spring"}}  # fmt: skip
    status, first = api.call("post", "/touchpoints", touch)
    assert (status, first["channel"], first["utm_campaign"]) == (201, "paid_search", "spring")
    status, replay = api.call("post", "/touchpoints", touch)
    assert (status, replay["id"]) == (201, first["id"])
    assert Campaign.objects.get(utm_campaign="spring").planned is False
    assert api.call("get", f"/contacts/{ada['id']}")[1]["stage"] == "intent"
    history = api.call("get", "/stage-changes", contact=ada["id"])[1]["items"]
    assert [(h["to_stage"], h["cause"], h["at"]) for h in history] == [
        ("intent", "touch", "2024-03-01T10:00:00Z")
    ]
    assert api.call("get", f"/stage-changes/{history[0]['id']}")[1]["cause_id"] == str(first["id"])
    listed = api.call("get", "/touchpoints", contact=ada["id"], channel="paid_search")[1]["items"]
    assert [t["id"] for t in listed] == [first["id"]]
    bad = {**touch, "message_id": "m-2", "contact_id": 999999}
    status, body = api.call(
        "post", "/touchpoints/batch", {"items": [{**touch, "message_id": "m-3"}, bad]}
    )
    assert (status, body["errors"][0]["loc"]) == (422, ["items", 1, "contact_id"])
    assert api.call("get", "/touchpoints")[1]["items"] == listed


def test_openapi_documents_the_crm(keys: None) -> None:
    spec = json.loads(Client().get("/api/openapi.json").content)
    for path in ("/api/contacts", "/api/contacts/by-email/{email}", "/api/accounts/by-domain/{domain}",
                 "/api/campaigns", "/api/spend", "/api/touchpoints", "/api/stage-changes"):  # fmt: skip
        assert path in spec["paths"]
    assert "all or nothing" in spec["paths"]["/api/contacts/batch"]["post"]["description"]


def test_a_key_created_by_the_service_opens_the_crm_api() -> None:
    from onefunnel.services.keys import create_key

    reader = create_key("crm:read", "analyst")
    status, _ = Api(key=reader.secret).call("get", "/contacts")
    assert status == 200
    status, _ = Api(key=reader.secret).call("post", "/contacts", {"email": "x@acme.example"})
    assert status in (401, 403)
