"""Browser write keys: created with their origins (CLI and service), shown by ``keys list``,
refused for anything but tracking, and bad input never half-applies."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from typer.testing import CliRunner

from onefunnel.cli import app, keys  # noqa: F401 (registers the commands)
from onefunnel.models import ApiKey
from onefunnel.services.errors import InputError
from onefunnel.services.keys import (
    CRM_READ,
    TRACKING_WRITE,
    browser_origins,
    create_key,
    revoke_key,
    verify_key,
)

pytestmark = pytest.mark.django_db


def test_a_browser_key_keeps_its_origins_in_canonical_form() -> None:
    created = create_key(
        TRACKING_WRITE, "site", ["https://WWW.example.com/", "https://shop.example.com:443"]
    )
    assert created.info.origins == ("https://www.example.com", "https://shop.example.com")
    assert created.info.is_browser_key
    verified = verify_key(created.secret, TRACKING_WRITE)
    assert verified is not None
    assert verified.origins == created.info.origins
    assert browser_origins() == frozenset(created.info.origins)
    revoke_key(created.info.id)
    assert browser_origins() == frozenset()


@pytest.mark.parametrize(
    ("scope", "origins", "message"),
    [
        (CRM_READ, ["https://www.example.com"], "only a tracking:write key may have origins"),
        (TRACKING_WRITE, ["https://www.example.com/pricing"], "without a path"),
        (TRACKING_WRITE, ["https://ok.example.com", "*"], "no spaces or wildcards"),
        (TRACKING_WRITE, [f"https://s{n}.example.com" for n in range(51)], "at most 50"),
    ],
)
def test_bad_origins_create_nothing(scope: str, origins: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        create_key(scope, "site", origins)
    assert not ApiKey.objects.exists()


def test_a_browser_key_never_passes_for_another_scope() -> None:
    # Even were one stored with another scope (by hand), it reads nothing.
    created = create_key(TRACKING_WRITE, "site", ["https://www.example.com"])
    ApiKey.objects.update(scope=CRM_READ)
    assert verify_key(created.secret, CRM_READ) is None
    response = Client().get("/api/contacts", HTTP_AUTHORIZATION=f"Bearer {created.secret}")
    assert response.status_code == 401


def test_the_cli_creates_a_browser_key_with_repeated_origins_and_lists_them() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "keys", "create", "--scope", "tracking:write", "--name", "website",
            "--origin", "https://www.example.com", "--origin", "https://shop.example.com/",
            "--format", "json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert created["origins"] == ["https://www.example.com", "https://shop.example.com"]
    listed = json.loads(runner.invoke(app, ["keys", "list", "--format", "json"]).stdout)
    assert listed[0]["origins"] == created["origins"]
    assert listed[0]["refused_count"] == 0
    table = runner.invoke(app, ["keys", "list", "--format", "csv"]).stdout
    assert "https://www.example.com https://shop.example.com" in table


def test_the_cli_refuses_a_bad_origin_in_one_line() -> None:
    result = CliRunner().invoke(
        app, ["keys", "create", "--scope", "crm:read", "--origin", "https://www.example.com"]
    )
    assert result.exit_code != 0
    assert "origin:" in result.output
    assert "Traceback" not in result.output
    assert not ApiKey.objects.exists()
