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
    homes = {"team lead": "/queue", "sales rep": "/queue", "marketing": "/",
             "leadership": "/", "account manager": "/"}  # fmt: skip
    for role, username in logins.usernames.items():
        answer = Client().post(
            "/login", {"username": username, "password": logins.password}, follow=True
        )
        assert answer.redirect_chain[-1][0] == homes[role], role
    # Kept: the same password next time, and the admin's login still reads from the file.
    again = ensure_demo_logins()
    assert again is not None
    assert again.password == logins.password
    assert ensure_demo_admin() == admin
    assert (settings.HOME / ".onefunnel-admin").read_text().startswith("admin ")
