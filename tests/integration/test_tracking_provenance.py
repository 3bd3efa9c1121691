"""A browser write key is public: identify traits fill empty fields and never overwrite a value
set through the CRM API or an import; the contact keeps where each value came from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

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
