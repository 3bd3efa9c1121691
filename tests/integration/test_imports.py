"""Contact imports from HubSpot, Salesforce and generic CSV exports (fixtures in tests/fixtures)."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError

from onefunnel.domain.stages import Cause, Stage
from onefunnel.models import Account, Contact, StageChange
from onefunnel.services.errors import InputError
from onefunnel.services.imports import ContactSource, ImportReport, bulk, import_contacts
from onefunnel.services.imports import contacts as contacts_module
from onefunnel.services.stages import change_stage
from tests.conftest import T0

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _run(tmp_path: Path, name: str, source: ContactSource, **kw: Any) -> ImportReport:
    return import_contacts(FIXTURES / name, source, rejects_path=tmp_path / "rejects.csv", **kw)


def _history(email: str) -> list[tuple[str | None, str, datetime, str, str | None]]:
    return list(
        StageChange.objects.filter(contact__email=email)
        .order_by("id")
        .values_list("from_stage", "to_stage", "at", "cause", "reason")
    )


def _snapshot() -> list[tuple[Any, ...]]:
    return [
        *Contact.objects.order_by("id").values_list(
            "id", "email", "first_name", "last_name", "title", "phone", "country",
            "account_id", "stage", "properties", "created_at", "updated_at",
        ),
        *Account.objects.order_by("id").values_list("id", "name", "domain", "updated_at"),
        *StageChange.objects.order_by("id").values_list("id", "contact_id", "to_stage", "at"),
    ]  # fmt: skip


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


HUBSPOT_REJECTS = [
    ("5", "Became a Lead Date", "not a date: '31/02/2024'"),
    ("6", "Email", "empty (contacts are matched on email)"),
    ("7", "Email", "not an email address: 'not-an-email'"),
    ("8", "Lifecycle Stage", "unknown lifecycle stage 'Prospect'"),
    ("9", "Email", "duplicate of row 2 (ada@analytical.io)"),
    ("13", "Original Source", "unknown original source 'Carrier Pigeon'"),
    ("14", "(row)", "has 7 values but the header has 22"),
]


def test_hubspot_export_report_and_rejects_file(tmp_path: Path) -> None:
    report = _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    assert (report.read, report.created, report.updated, report.unchanged, report.skipped) == (
        14, 7, 0, 0, 7,
    )  # fmt: skip
    assert report.accounts_created == 5
    assert report.stage_changes == 13
    assert [(str(r.row), r.column, r.message) for r in report.rejects] == HUBSPOT_REJECTS
    assert report.rejects_path == str(tmp_path / "rejects.csv")
    rows = _rejects(tmp_path / "rejects.csv")
    assert sorted((r["row"], r["column"], r["error"]) for r in rows) == sorted(HUBSPOT_REJECTS)
    # The rejected row is carried whole, so it can be fixed and imported again.
    bad_date = next(r for r in rows if r["row"] == "5")
    assert bad_date["Email"] == "bad.date@example.org"
    assert bad_date["Became a Lead Date"] == "31/02/2024"
    assert Contact.objects.count() == 7


def test_hubspot_became_dates_become_back_dated_stage_changes(tmp_path: Path) -> None:
    _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    assert _history("ada@analytical.io") == [
        (None, "awareness", at(2024, 1, 5, 10, 0), "import", None),
        ("awareness", "consideration", at(2024, 1, 20, 11, 30), "import", None),
        ("consideration", "intent", at(2024, 2, 2, 9, 14), "import", None),
        ("intent", "conversion", at(2024, 3, 15, 14, 30), "import", None),
    ]
    assert _history("alan@bletchley.example") == [
        (None, "consideration", at(2024, 2, 1, 8, 0), "import", None),
        ("consideration", "intent", at(2024, 2, 3, 8, 0), "import", None),
        ("intent", "disqualified", at(2024, 2, 3, 8, 0), "import", "bad_fit"),
    ]
    assert _history("edsger@structured.example")[-1][1:] == (
        "nurture", at(2024, 1, 10, 9, 0), "import", "not_now",
    )  # fmt: skip
    assert [h[1] for h in _history("margaret@analytical.io")] == ["conversion", "grow"]
    # "Other" is no funnel position: the contact is stored without a stage.
    assert _history("barbara@example.edu") == []
    contact = Contact.objects.get(email="ada@analytical.io")
    assert contact.stage == Stage.CONVERSION
    assert StageChange.objects.filter(contact=contact).first().cause_id == "hubspot:51"  # type: ignore[union-attr]


def test_hubspot_people_accounts_and_properties(tmp_path: Path) -> None:
    _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    ada = Contact.objects.select_related("account").get(email="ada@analytical.io")
    assert (ada.first_name, ada.last_name, ada.title, ada.country) == (
        "Ada",
        "Lovelace",
        "CTO",
        "GB",
    )
    assert ada.account is not None
    assert (ada.account.name, ada.account.domain) == ("Analytical Engines", "analytical.io")
    assert ada.properties["hubspot"]["record_id"] == "51"
    assert ada.properties["source_channel"] == "organic_search"
    assert ada.created_at == datetime(2024, 1, 5, 10, 0, tzinfo=UTC)
    margaret = Contact.objects.get(email="margaret@analytical.io")
    assert margaret.account_id == ada.account_id
    grace = Contact.objects.select_related("account").get(email="grace@navy.example.com")
    assert grace.account is not None
    assert grace.account.domain == "navy.example.com"  # from the email: a company was named
    assert grace.properties["source_channel"] == "paid_search"
    katherine = Contact.objects.select_related("account").get(email="katherine@gmail.com")
    assert katherine.account is not None
    assert (katherine.account.name, katherine.account.domain) == ("NASA", None)
    barbara = Contact.objects.get(email="barbara@example.edu")
    assert barbara.account_id is None
    assert barbara.country == ""
    assert barbara.properties["country_name"] == "Atlantis"


def test_importing_the_same_file_again_changes_nothing(tmp_path: Path) -> None:
    _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    before = _snapshot()
    again = _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 7, 7)
    assert (again.accounts_created, again.stage_changes) == (0, 0)
    assert _snapshot() == before


def test_dry_run_reports_the_same_and_writes_nothing(tmp_path: Path) -> None:
    dry = _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT, dry_run=True)
    assert dry.dry_run
    assert (Contact.objects.count(), Account.objects.count(), StageChange.objects.count()) == (
        0, 0, 0,
    )  # fmt: skip
    real = _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    assert {**dry.as_dict(), "dry_run": False} == real.as_dict()


def test_existing_contacts_move_forward_and_keep_what_the_file_leaves_empty(
    tmp_path: Path, make_contact: Callable[..., Contact]
) -> None:
    ada = make_contact("ada@analytical.io", phone="+1 555 0000", first_name="A.")
    change_stage(ada, Stage.INTENT, cause=Cause.TOUCH, at=T0)  # tracked before the import
    report = _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    assert (report.created, report.updated) == (6, 1)
    ada.refresh_from_db()
    assert ada.first_name == "Ada"
    assert ada.phone == "+44 20 7946 0000"
    assert ada.stage == Stage.CONVERSION
    # Only the step beyond intent is new; it happened in 2024 but is clamped to the last change.
    assert [(h[0], h[1], h[2], h[3]) for h in _history(ada.email or "")] == [
        (None, "intent", T0, "touch"),
        ("intent", "conversion", T0, "import"),
    ]


def test_empty_cells_never_erase(tmp_path: Path, make_contact: Callable[..., Contact]) -> None:
    make_contact("barbara@example.edu", title="Professor", phone="+1 617 000")
    _run(tmp_path, "hubspot_contacts.csv", ContactSource.HUBSPOT)
    barbara = Contact.objects.get(email="barbara@example.edu")
    assert (barbara.first_name, barbara.title, barbara.phone) == (
        "Barbara",
        "Professor",
        "+1 617 000",
    )


def test_salesforce_lead_export(tmp_path: Path) -> None:
    report = _run(tmp_path, "salesforce_leads.csv", ContactSource.SALESFORCE)
    assert (report.read, report.created, report.skipped) == (10, 4, 6)
    assert [(r.row, r.column) for r in report.rejects] == [
        (6, "Status"), (7, "IsConverted"), (8, "NumberOfEmployees"), (9, "CreatedDate"),
        (10, "Email"), (11, "Title"),
    ]  # fmt: skip
    assert _history("barbara@substitution.example") == [
        (None, "consideration", at(2024, 3, 5, 12, 0), "import", None),
        ("consideration", "intent", at(2024, 4, 2), "import", None),
    ]
    assert [h[1:2] + h[4:] for h in _history("ken@unix.example")] == [
        ("consideration", None), ("disqualified", "other"),
    ]  # fmt: skip
    assert Contact.objects.get(email="guido@snake.example").stage == Stage.INTENT
    linus = Contact.objects.select_related("account").get(email="linus@kernel.example")
    assert linus.stage == Stage.CONSIDERATION
    assert linus.country == "US"
    assert linus.account is not None
    assert (linus.account.domain, linus.account.industry, linus.account.employee_count) == (
        "kernel.example", "Software", 120,
    )  # fmt: skip
    assert linus.properties["salesforce"]["lead_id"] == "00Q5e00000AbCd1EAA"
    assert Account.objects.get(name="Substitution Inc").employee_count == 1200
    again = _run(tmp_path, "salesforce_leads.csv", ContactSource.SALESFORCE)
    assert (again.created, again.updated, again.unchanged, again.stage_changes) == (0, 0, 4, 0)


def test_hubspot_internal_property_names_and_values(tmp_path: Path) -> None:
    report = _run(tmp_path, "hubspot_contacts_api.csv", ContactSource.HUBSPOT)
    assert (report.created, report.skipped) == (2, 1)
    assert [(r.row, r.column) for r in report.rejects] == [(4, "createdate")]
    claude = Contact.objects.get(email="claude@shannon.example")
    assert claude.stage == Stage.INTENT
    assert [h[1] for h in _history("claude@shannon.example")] == ["consideration", "intent"]
    assert _history("claude@shannon.example")[1][2] == datetime(2024, 1, 23, 8, 53, 20, tzinfo=UTC)
    assert Contact.objects.get(email="john@neumann.example").stage == Stage.CONVERSION


def test_generic_csv(tmp_path: Path) -> None:
    report = _run(tmp_path, "generic_contacts.csv", ContactSource.GENERIC)
    assert (report.created, report.skipped) == (2, 2)
    assert [(r.row, r.column, r.message) for r in report.rejects] == [
        (4, "stage", "a move to nurture needs a reason"),
        (5, "channel", report.rejects[1].message),
    ]
    assert "unknown channel 'carrier pigeon'" in report.rejects[1].message
    frances = Contact.objects.get(email="frances@allen.example")
    assert (frances.stage, frances.properties["source_channel"]) == ("disqualified", "email")
    assert Contact.objects.get(email="radia@perlman.example").stage == Stage.INTENT


def test_a_header_without_email_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "no_email.csv"
    path.write_text("First Name,Last Name\nAda,Lovelace\n")
    with pytest.raises(InputError, match="header: no 'Email'"):
        import_contacts(path, ContactSource.HUBSPOT)
    assert Contact.objects.count() == 0
    assert not (tmp_path / "no_email.rejects.csv").exists()


def test_duplicates_across_chunks_and_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(
        b"email,first_name\n"
        b"a@x.example,A\nb@x.example,B\nc@x.example,C\n"
        b"d@x.example,D\xff\xfe\nA@X.example,Again\n"
    )
    seen: list[tuple[int, int, int]] = []
    report = import_contacts(
        path, ContactSource.GENERIC, chunk_rows=2, progress=lambda *p: seen.append(p)
    )
    assert (report.created, report.skipped) == (3, 2)
    assert [(r.row, r.column, r.message) for r in report.rejects] == [
        (5, "first_name", "not UTF-8 text"),
        (6, "email", "duplicate of row 2 (a@x.example)"),
    ]
    assert report.rejects_path == str(tmp_path / "contacts.rejects.csv")
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)
    assert seen[-1] == (5, path.stat().st_size, path.stat().st_size)


def test_a_chunk_the_database_refuses_is_retried_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: the database refuses any insert that carries this one contact.
    real = bulk.insert_rows

    def refusing(model: Any, fields: Any, rows: Any) -> None:
        if any("katherine@gmail.com" in row for row in rows):
            raise IntegrityError("simulated constraint violation")
        real(model, fields, rows)

    monkeypatch.setattr(contacts_module, "insert_rows", refusing)
    source = tmp_path / "hubspot.csv"
    shutil.copy(FIXTURES / "hubspot_contacts.csv", source)
    report = import_contacts(source, ContactSource.HUBSPOT)
    assert (report.created, report.skipped) == (6, 8)
    assert (10, "(row)", "not stored: simulated constraint violation") in [
        (r.row, r.column, r.message) for r in report.rejects
    ]
    assert not Contact.objects.filter(email="katherine@gmail.com").exists()
    assert Contact.objects.count() == 6
