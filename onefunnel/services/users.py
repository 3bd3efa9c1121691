"""People who use onefunnel: the admin user, reps, team membership."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Q

from onefunnel.domain.access import Role, roles_from_groups
from onefunnel.services.errors import InputError

_FIRST_ADMIN_FILE = ".onefunnel-admin"


def ensure_admin(username: str, email: str, password: str) -> bool:
    """Create a superuser, or reset an existing user's password and make it one. True if created."""
    if not username.strip():
        raise InputError("admin_username: must not be empty")
    if len(password) < 8:
        raise InputError("admin_password: at least 8 characters")
    user_model = get_user_model()
    with transaction.atomic():
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": email}
        )
        user.is_staff = True
        user.is_superuser = True
        if email:
            user.email = email
        user.set_password(password)
        user.save()
    return created


def ensure_demo_admin() -> str:
    """Create a first ``admin`` with a random password when there is no superuser, and return
    its login — the only time the password exists in plain text (only its hash is stored).
    Otherwise the superusers' names, never a password. A login file an earlier version kept
    (``$ONEFUNNEL_HOME/.onefunnel-admin``, a password in plain text) is removed."""
    user_model = get_user_model()
    (settings.HOME / _FIRST_ADMIN_FILE).unlink(missing_ok=True)
    if not user_model.objects.filter(is_superuser=True).exists():
        password = secrets.token_urlsafe(12)
        ensure_admin("admin", "", password)
        return f"admin / {password}"
    names = user_model.objects.filter(is_superuser=True).values_list("username", flat=True)[:3]
    return "superuser(s): " + ", ".join(names)


def has_admin() -> bool:
    """True once a superuser exists (``serve`` says how to make one otherwise)."""
    return bool(get_user_model().objects.filter(is_superuser=True).exists())


#: The demo company's staff have e-mail addresses at this domain (services/demo/company.py).
DEMO_STAFF_DOMAIN = "onefunnel-demo.example"
#: The demo's leadership user (the generated company has reps, marketers and account managers).
DEMO_LEADERSHIP = ("morgan.reyes", "Morgan", "Reyes")
#: Set the demo staff's password instead of a generated one (tests, scripted demos).
DEMO_PASSWORD_ENV = "ONEFUNNEL_DEMO_PASSWORD"


@dataclass(frozen=True, slots=True)
class DemoLogins:
    """One username per role of the demo company, and the password they share."""

    password: str | None  # None: set earlier, shown then and not kept
    usernames: dict[str, str]  # role label -> username

    def line(self) -> str:
        """The logins in one line, for the terminal."""
        users = ", ".join(f"{name} ({role})" for role, name in self.usernames.items())
        if self.password is None:
            return f"{users} / the password `onefunnel demo` showed when it set it"
        return f"{users} / password {self.password}"


def ensure_demo_logins() -> DemoLogins | None:
    """Let the demo company's staff sign in (the loader leaves their passwords unusable): one
    generated password for all (or ``$ONEFUNNEL_DEMO_PASSWORD``), returned once when it is set
    and shown by ``onefunnel demo``; only its hash is stored. Makes the first sales rep a team lead and adds a
    leadership user, so every role can be tried. None when no demo is loaded."""
    user_model = get_user_model()
    staff = user_model._default_manager.filter(email__endswith=f"@{DEMO_STAFF_DOMAIN}")
    if not staff.exists():
        return None
    chosen = os.environ.get(DEMO_PASSWORD_ENV, "")
    # A password is set (and shown) when someone cannot sign in yet, or one is chosen in the
    # environment; it is never kept in plain text, so later calls show only the usernames.
    new = bool(chosen) or staff.filter(Q(password__startswith="!") | Q(password="")).exists()
    password = (chosen or secrets.token_urlsafe(9)) if new else None
    with transaction.atomic():
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in
                  ("sales", "team_lead", "leadership")}  # fmt: skip
        username, first, last = DEMO_LEADERSHIP
        leader, _ = user_model._default_manager.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last,
                      "email": f"{username}@{DEMO_STAFF_DOMAIN}"},
        )  # fmt: skip
        leader.groups.add(groups["leadership"])
        reps = staff.filter(groups__name="sales").order_by("pk")
        lead = reps.first()
        if lead is not None:
            lead.groups.add(groups["team_lead"])
        # One hash for all: the users share the password, and hashing is slow on purpose.
        if password is not None:
            staff.update(password=make_password(password))
    usernames: dict[str, str] = {}
    for user in staff.order_by("pk").prefetch_related("groups"):
        roles = roles_from_groups(g.name for g in user.groups.all())
        role = next((r for r in (Role.TEAM_LEAD, Role.SALES_REP, Role.ACCOUNT_MANAGER,
                                 Role.MARKETING, Role.LEADERSHIP) if r in roles), None)  # fmt: skip
        if role is not None:
            usernames.setdefault(role.label, user.get_username())
    return DemoLogins(password, usernames)
