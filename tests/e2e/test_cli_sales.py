"""Deals, activities, tasks and manual contact moves from the command line, as a user runs them,
on each database: ``--as`` acts under the rule book (exit 3 when it says no), a move the rules
forbid exits 6, an unknown record 4, bad input 1 — one line on stderr, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Install

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _json(install: Install, *args: str) -> Any:
    return json.loads(install.run(*args, "--format", "json").stdout)


def _fails(install: Install, code: int, text: str, *args: str) -> None:
    result = install.run(*args, check=False)
    assert result.returncode == code, (args, result.stdout, result.stderr)
    assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def _seller(install: Install, name: str) -> None:
    # `reps set` makes the user a sales rep (the sales group) as well as a routing target.
    install.run("reps", "set", name, "--team", "sales", "--create")


def test_deals_from_creation_to_won_with_the_rules_enforced(install: Install) -> None:
    install.run("import", "contacts", str(FIXTURES / "generic_contacts.csv"), "--from", "generic")
    _seller(install, "rita")
    _seller(install, "sam")
    [(account_id, contact_id)] = install.query(
        "SELECT a.id, c.id FROM onefunnel_account a JOIN onefunnel_contact c ON c.account_id = a.id "
        "WHERE a.domain = 'perlman.example'"
    )
    create = ("deals", "create", "--account", str(account_id), "--name", "Spanning Tree")
    for amount, text in (
        ("-5", "amount: must not be negative"),
        ("1e30", "amount: at most"),
        ("lots", "amount: 'lots' is not a number"),
    ):
        _fails(install, 1, text, *create, "--amount", amount, "--as", "rita")
    deal = _json(install, *create, "--amount", "1200", "--contact", str(contact_id), "--as", "rita")
    deal_id = str(deal["id"])
    listed = _json(install, "deals", "list")
    keys = ("id", "kind", "status", "pipeline_stage", "amount", "account")
    assert [{k: d[k] for k in keys} for d in listed] == [
        {
            "id": deal["id"],
            "kind": "new_business",
            "status": "open",
            "pipeline_stage": "Discovery",
            "amount": 1200.00,  # a JSON number, exact (printed from the Decimal)
            "account": "Spanning Tree",
        }
    ]
    assert _json(install, "deals", "list", "--as", "sam") == []
    moved = _json(install, "deals", "move", deal_id, "Demo", "--as", "rita")
    assert moved["pipeline_stage"] == "Demo"
    _fails(install, 3, "owner: deal #", "deals", "win", deal_id, "--as", "sam")
    _fails(
        install, 1, "reason: a lost deal needs a reason", "deals", "lose", deal_id, "--as", "rita"
    )
    _fails(
        install, 1, "note: a deal lost for 'other'", "deals", "lose", deal_id, "--reason", "other"
    )
    _fails(install, 4, "deal_id: no deal #999999", "deals", "win", "999999")
    _fails(install, 4, "as: no user 'ghost'", "deals", "win", deal_id, "--as", "ghost")
    won = _json(install, "deals", "win", deal_id, "--as", "rita")
    assert (won["status"], won["pipeline_stage"]) == ("won", "Won")
    _fails(install, 6, "status: deal is already won", "deals", "win", deal_id, "--as", "rita")
    history = _json(install, "deals", "history", deal_id)
    assert [h["to_label"] for h in history if h["field"] == "pipeline_stage"] == [
        "Discovery", "Demo", "Won",
    ]  # fmt: skip
    [(stage,)] = install.query(f"SELECT stage FROM onefunnel_account WHERE id = {account_id}")
    assert stage == "conversion"
    board = _json(install, "deals", "board")
    assert next(c for c in board if c["stage"] == "Won")["count"] == 1


def test_activities_tasks_and_contact_moves(install: Install, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "email,first_name,last_name,company,domain,stage,reason,channel,created_at\n"
        "radia@perlman.example,Radia,Perlman,Spanning Tree,perlman.example,intent,,events,2024-05-01\n"
        "grace@hopper.example,Grace,Hopper,Cobol,hopper.example,consideration,,email,2024-05-01\n"
        "frances@allen.example,Frances,Allen,,,disqualified,bad_fit,email,2024-05-02\n"
    )
    install.run("import", "contacts", str(people), "--from", "generic")
    _seller(install, "rita")
    [(account_id, contact_id)] = install.query(
        "SELECT a.id, c.id FROM onefunnel_account a JOIN onefunnel_contact c ON c.account_id = a.id "
        "WHERE a.domain = 'perlman.example'"
    )
    [(other_account,)] = install.query(
        f"SELECT id FROM onefunnel_account WHERE id <> {account_id} ORDER BY id LIMIT 1"
    )
    other = _json(install, "deals", "create", "--account", str(other_account), "--name", "Other",
                  "--amount", "10")  # fmt: skip
    _fails(install, 1, f"deal_id: deal #{other['id']} is at account", "activities", "log", "call",
           "--contact", str(contact_id), "--deal", str(other["id"]), "--as", "rita")  # fmt: skip
    call = _json(install, "activities", "log", "call", "--contact", str(contact_id), "--outcome",
                 "connected", "--duration", "12", "--as", "rita")  # fmt: skip
    assert (call["actor"], call["contact_id"]) == ("rita", contact_id)
    assert [
        a["id"] for a in _json(install, "activities", "list", "--contact", str(contact_id))
    ] == [call["id"]]
    _fails(install, 1, "owner: a task needs an owner", "tasks", "add", "Call back", "--due",
           "2026-01-05", "--as", "rita")  # fmt: skip
    task = _json(install, "tasks", "add", "Call back", "--owner", "rita", "--due", "2026-01-05",
                 "--contact", str(contact_id), "--as", "rita")  # fmt: skip
    assert [t["id"] for t in _json(install, "tasks", "list", "--owner", "rita", "--overdue")] == [
        task["id"]
    ]
    assert _json(install, "tasks", "done", str(task["id"]), "--as", "rita")["done"] is True
    nurtured = _json(install, "contacts", "nurture", str(contact_id), "--reason", "not_now",
                     "--as", "rita")  # fmt: skip
    assert nurtured["to_stage"] == "nurture"
    _fails(install, 6, "already in that stage", "contacts", "nurture", str(contact_id), "--reason",
           "not_now")  # fmt: skip
    [(frances,)] = install.query(
        "SELECT id FROM onefunnel_contact WHERE email = 'frances@allen.example'"
    )
    back = _json(install, "contacts", "requalify", str(frances), "--as", "rita")
    assert (back["from_stage"], back["to_stage"]) == ("disqualified", "consideration")
    [(actor,)] = install.query(
        "SELECT u.username FROM onefunnel_stagechange s JOIN auth_user u ON u.id = s.actor_id "
        f"WHERE s.contact_id = {frances} ORDER BY s.id DESC LIMIT 1"
    )
    assert actor == "rita"
