"""The audit log: every kind of change is in it with its actor and time, filters and pages
select from it, leadership and admins read it (API, CLI), and its own entries are append-only."""

from __future__ import annotations

from datetime import date, timedelta

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from typer.testing import CliRunner

from onefunnel.domain.access import AccessDeniedError
from onefunnel.models import AppendOnlyError, AuditEntry
from onefunnel.services.access import SYSTEM
from onefunnel.services.accounts.contracts import add_contract, end_contract, set_payment_status
from onefunnel.services.errors import InputError
from onefunnel.services.handoffs import accept_handoff, open_manual_handoff
from onefunnel.services.keys import CRM_READ, create_key, revoke_key
from onefunnel.services.ops.audit import AuditFilter, read_audit
from onefunnel.services.sales.deals import create_deal, update_deal
from onefunnel.services.scoring import save_scoring_config, scoring_config
from tests.integration.sales_fixtures import buyer, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def history() -> dict[str, object]:
    """One change of each kind, by named people."""
    admin = user("ada", "admin")
    rep = user("rita", "sales_rep", team="sales")
    am = user("arno", "account_manager")
    contact = buyer(1, owner=am)
    handoff = open_manual_handoff(contact.email, actor=admin)
    accept_handoff(handoff.id, actor=rep)
    deal = create_deal(actor=rep, account_id=contact.account_id, name="Acme", amount="1000")
    update_deal(deal.id, actor=rep, amount="2500")
    current = scoring_config()
    save_scoring_config(current.config, note="pricing counts more", actor_id=admin.user_id)
    key = create_key(CRM_READ, "warehouse", actor=admin)
    revoke_key(key.info.id, actor=admin)
    today = timezone.now().date()
    contract = add_contract(
        am,
        account_id=contact.account_id,
        product="Platform",
        amount="1200",
        start=today - timedelta(days=30),
        end=today + timedelta(days=335),
    )
    set_payment_status(am, contract.id, "late")
    end_contract(am, contract.id, on=today)
    return {
        "admin": admin,
        "rep": rep,
        "am": am,
        "contact": contact,
        "handoff": handoff.id,
        "deal": deal.id,
        "key": key.info.id,
        "contract": contract.id,
    }


def _all(**filters: object) -> list[tuple[str, str, str, str]]:
    page = read_audit(SYSTEM, AuditFilter(**filters), limit=500)  # type: ignore[arg-type]
    return [(i.actor, i.kind, i.action, i.record) for i in page.items]


def test_every_kind_of_change_is_in_the_log_with_who_did_it(history: dict[str, object]) -> None:
    items = _all()
    contact = history["contact"]
    assert ("ada", "stage", "moved", f"contact#{contact.pk}") in items  # type: ignore[attr-defined]
    assert ("rita", "handoff", "accepted", f"handoff#{history['handoff']}") in items
    assert ("rita", "deal", "amount", f"deal#{history['deal']}") in items
    assert ("ada", "config", "new version", f"scoring#{scoring_config().version}") in items
    assert ("ada", "key", "created", f"key#{history['key']}") in items
    assert ("ada", "key", "revoked", f"key#{history['key']}") in items
    for action in ("created", "payment_status", "ended"):
        assert ("arno", "contract", action, f"contract#{history['contract']}") in items
    page = read_audit(SYSTEM, limit=500)
    assert page.total == len(page.items)
    times = [i.at for i in page.items]
    assert times == sorted(times, reverse=True)  # newest first
    amount = next(i for i in page.items if i.kind == "deal" and i.action == "amount")
    assert "1000" in amount.summary
    assert "2500" in amount.summary


def test_filters_select_by_actor_kind_record_and_time(history: dict[str, object]) -> None:
    assert {a for a, *_ in _all(actor="rita")} == {"rita"}
    assert {k for _, k, *_ in _all(kind="contract")} == {"contract"}
    record = f"deal#{history['deal']}"
    assert {r for *_, r in _all(record=record)} == {record}
    assert _all(record=f"key#{history['key']}") == [
        ("ada", "key", "revoked", f"key#{history['key']}"),
        ("ada", "key", "created", f"key#{history['key']}"),
    ]
    assert _all(since=timezone.now() + timedelta(minutes=1)) == []
    assert _all(actor="system", kind="key") == []
    with pytest.raises(InputError, match="record: expected kind#id"):
        _all(record="deal 5")
    with pytest.raises(InputError, match="actor: no user"):
        _all(actor="nobody-here")
    with pytest.raises(InputError, match="kind: must be one of"):
        _all(kind="gossip")


def test_pages_cover_the_log_once(history: dict[str, object]) -> None:
    everything = read_audit(SYSTEM, limit=500).items
    paged = []
    for offset in range(0, len(everything), 3):
        paged.extend(read_audit(SYSTEM, limit=3, offset=offset).items)
    assert paged == list(everything)
    with pytest.raises(InputError, match="offset"):
        read_audit(SYSTEM, limit=50, offset=10_000)


def test_only_leadership_and_admins_read_it(history: dict[str, object]) -> None:
    boss = user("liz", "leadership")
    assert read_audit(boss).total > 0
    for reader in (history["rep"], history["am"], user("mo", "marketing")):
        with pytest.raises(AccessDeniedError):
            read_audit(reader)  # type: ignore[arg-type]


def test_the_entries_are_append_only(history: dict[str, object]) -> None:
    entry = AuditEntry.objects.first()
    assert entry is not None
    entry.summary = "nothing happened"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()


def test_a_refused_change_leaves_no_entry(history: dict[str, object]) -> None:
    before = AuditEntry.objects.count()
    with pytest.raises(AccessDeniedError):
        create_key(CRM_READ, "sneaky", actor=history["rep"])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        create_key("everything", "bad scope", actor=history["admin"])  # type: ignore[arg-type]
    assert AuditEntry.objects.count() == before


def test_the_api_pages_and_filters_for_leadership(history: dict[str, object]) -> None:
    client = Client()
    client.force_login(User.objects.get(username=user("liz", "leadership").username))
    answer = client.get("/api/audit", {"kind": "key", "limit": 1})
    assert answer.status_code == 200
    body = orjson.loads(answer.content)
    assert (body["total"], body["limit"], body["offset"]) == (2, 1, 0)
    assert body["items"][0]["action"] == "revoked"
    second = orjson.loads(
        client.get("/api/audit", {"kind": "key", "limit": 1, "offset": 1}).content
    )
    assert second["items"][0]["action"] == "created"
    bad = client.get("/api/audit", {"record": "nonsense"})
    assert bad.status_code == 422
    assert orjson.loads(bad.content)["errors"][0]["loc"] == ["record"]
    assert client.get("/api/audit", {"since": "9999-12-31T23:59:59-05:00"}).status_code in (
        200,
        422,
    )
    rep = Client()
    rep.force_login(User.objects.get(username="rita"))
    assert rep.get("/api/audit").status_code == 403


def test_the_cli_prints_the_log_and_refuses_a_rep(history: dict[str, object]) -> None:
    from onefunnel.cli import app, audit, keys  # noqa: F401  (register their commands)

    runner = CliRunner()
    result = runner.invoke(
        app, ["audit", "--kind", "contract", "--since", date.today().isoformat(), "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.stdout)
    assert [r["action"] for r in rows] == ["ended", "payment_status", "created"]
    assert {r["actor"] for r in rows} == {"arno"}
    refused = runner.invoke(app, ["audit", "--as", "rita"])
    assert refused.exit_code == 3
    assert "leadership and admins" in refused.output
