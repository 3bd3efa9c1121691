"""The demo company's staff can sign in: one generated password, one username per role."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from onefunnel.services.demo import DemoSize, generate_demo
from onefunnel.services.users import ensure_demo_admin, ensure_demo_logins

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_role_of_the_demo_signs_in_with_the_shown_password() -> None:
    assert ensure_demo_logins() is None  # no demo loaded: nothing to show
    generate_demo(seed=5, size=DemoSize.SMALL)
    admin = ensure_demo_admin()
    logins = ensure_demo_logins()
    assert logins is not None
    assert set(logins.usernames) == {
        "team lead", "sales rep", "account manager", "marketing", "leadership",
    }  # fmt: skip
    homes = {"team lead": "/queue", "sales rep": "/queue", "marketing": "/marketing",
             "leadership": "/leadership", "account manager": "/customers"}  # fmt: skip
    for role, username in logins.usernames.items():
        answer = Client().post(
            "/login", {"username": username, "password": logins.password}, follow=True
        )
        assert answer.redirect_chain[-1][0] == homes[role], role
    # Shown once: later calls name the users and the superusers, never a password, and no
    # password is kept in plain text.
    again = ensure_demo_logins()
    assert again is not None
    assert again.password is None
    assert again.usernames == logins.usernames
    assert logins.password not in again.line()
    assert admin.startswith("admin / ")
    assert ensure_demo_admin() == "superuser(s): admin"
    assert not (settings.HOME / ".onefunnel-admin").exists()
    answer = Client().post(
        "/login", {"username": logins.usernames["sales rep"], "password": logins.password}
    )
    assert answer.status_code == 302  # the password still works


def test_the_demo_password_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    generate_demo(seed=5, size=DemoSize.SMALL)
    monkeypatch.setenv("ONEFUNNEL_DEMO_PASSWORD", "chosen-demo-pw-1")
    logins = ensure_demo_logins()
    assert logins is not None
    assert logins.password == "chosen-demo-pw-1"
    answer = Client().post(
        "/login", {"username": logins.usernames["marketing"], "password": "chosen-demo-pw-1"}
    )
    assert answer.status_code == 302
