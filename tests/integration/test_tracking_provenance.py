"""A browser write key is public: identify traits fill empty fields and never overwrite a value
set through the CRM API or an import; the contact keeps where each value came from."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from onefunnel.domain.provenance import PROVENANCE
from onefunnel.domain.tracking import parse_batch
from onefunnel.models import Contact
from onefunnel.services.crm_records import create_contact, update_contact
from onefunnel.services.imports.contacts import import_contacts
from onefunnel.services.imports.sources import ContactSource
from onefunnel.services.tracking import ingest

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _identify(n: int, email: str, **traits: Any) -> None:
    message = {"type": "identify", "messageId": f"i{n}", "userId": f"u-{email}"}
    parsed = parse_batch(
        {"batch": [message | {"traits": {"email": email, **traits}}]}, received_at=NOW
    )
    assert not parsed.errors
    result = ingest(parsed.events, received_at=NOW)
    assert result.accepted == 1, result.rejected


def test_identify_cannot_overwrite_a_name_set_through_the_api_but_fills_an_empty_title() -> None:
    contact_id = create_contact(
        "ada@acme.example", {"first_name": "Ada", "last_name": "Lovelace"}
    ).id
    _identify(1, "ada@acme.example", firstName="Mallory", lastName="Hacker", title="CTO")
    ada = Contact.objects.get(pk=contact_id)
    assert (ada.first_name, ada.last_name, ada.title) == ("Ada", "Lovelace", "CTO")
    stamps = ada.properties[PROVENANCE]
    assert (stamps["first_name"]["source"], stamps["title"]["source"]) == ("api", "tracking")
    # Tracking may refine what tracking set; a later edit through the API is kept again.
    _identify(2, "ada@acme.example", title="CEO")
    assert Contact.objects.get(pk=contact_id).title == "CEO"
    update_contact(contact_id, {"title": "Chair"})
    _identify(3, "ada@acme.example", title="Intern")
    ada = Contact.objects.get(pk=contact_id)
    assert (ada.title, ada.properties[PROVENANCE]["title"]["source"]) == ("Chair", "api")


def test_identify_cannot_overwrite_a_name_from_an_import(tmp_path: Path) -> None:
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        "email,first_name,last_name,company,domain,stage,reason,channel,created_at\n"
        "grace@navy.example,Grace,Hopper,Navy,navy.example,intent,,events,2024-05-01\n"
    )
    import_contacts(csv, ContactSource.GENERIC, rejects_path=tmp_path / "rejects.csv")
    _identify(1, "grace@navy.example", firstName="Mallory", title="Rear Admiral")
    grace = Contact.objects.get(email="grace@navy.example")
    assert (grace.first_name, grace.last_name, grace.title) == ("Grace", "Hopper", "Rear Admiral")


def test_traits_cannot_forge_provenance() -> None:
    contact_id = create_contact("eve@acme.example", {"first_name": "Eve"}).id
    forged = {"first_name": {"source": "tracking", "value": "Eve"}}
    _identify(1, "eve@acme.example", firstName="Mallory", **{PROVENANCE: forged})
    eve = Contact.objects.get(pk=contact_id)
    assert eve.first_name == "Eve"
    assert eve.properties[PROVENANCE]["first_name"]["source"] == "api"


def test_an_import_stamps_its_values_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        "email,first_name,last_name,company,domain,stage,reason,channel,created_at\n"
        "grace@navy.example,Grace,Hopper,Navy,navy.example,intent,,events,2024-05-01\n"
    )
    import_contacts(csv, ContactSource.GENERIC, rejects_path=tmp_path / "rejects.csv")
    grace = Contact.objects.get(email="grace@navy.example")
    stamps = grace.properties[PROVENANCE]
    assert stamps["first_name"] == {"source": "import", "value": "Grace"}
    assert stamps["last_name"] == {"source": "import", "value": "Hopper"}
    again = import_contacts(csv, ContactSource.GENERIC, rejects_path=tmp_path / "rejects.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


def test_a_value_a_user_typed_in_the_admin_is_kept_and_the_page_says_where_each_came_from(
    tmp_path: Path,
) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw-123456-root")
    contact_id = create_contact("lin@acme.example", {"first_name": "Lin"}).id
    _identify(1, "lin@acme.example", title="Engineer", phone="+44 1")
    client = Client()
    client.force_login(admin)
    form = client.get(f"/admin/onefunnel/contact/{contact_id}/change/")
    assert form.status_code == 200
    contact = Contact.objects.get(pk=contact_id)
    data = {
        "email": contact.email,
        "first_name": "Lin",
        "last_name": "",
        "title": "Head of Platform",  # typed over the value tracking filled
        "phone": contact.phone,
        "country": "",
        "properties": json.dumps(contact.properties),
        "created_at_0": contact.created_at.strftime("%Y-%m-%d"),
        "created_at_1": contact.created_at.strftime("%H:%M:%S"),
        "aliases-TOTAL_FORMS": "0",
        "aliases-INITIAL_FORMS": "0",
        "aliases-MIN_NUM_FORMS": "0",
        "aliases-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    saved = client.post(f"/admin/onefunnel/contact/{contact_id}/change/", data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    _identify(2, "lin@acme.example", title="Intern")
    lin = Contact.objects.get(pk=contact_id)
    assert lin.title == "Head of Platform"
    assert lin.properties[PROVENANCE]["title"]["source"] == "user"
    page = client.get(f"/contacts/{contact_id}").content.decode()
    section = page[page.index('data-testid="profile-sources"') :]
    section = section[: section.index("</section>")]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td[^>]*>([^<·]*)", section)
    assert [(f, v, s.strip()) for f, v, s in rows] == [
        ("first name", "Lin", "api"),
        ("title", "Head of Platform", "user"),
        ("phone", "+44 1", "tracking"),
    ]
