"""People who use onefunnel: the admin user, reps, team membership."""

from __future__ import annotations

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
    """The admin login to show on an embedded install, creating a first admin if there is none.

    A fresh embedded install gets an ``admin`` user with a random password, kept (mode 0600) in
    ``$ONEFUNNEL_HOME/.onefunnel-admin`` so the same login is shown on every start. Once other
    superusers exist, only their names are shown, never a password.
    """
    user_model = get_user_model()
    path = settings.HOME / _FIRST_ADMIN_FILE
    if not user_model.objects.filter(is_superuser=True).exists():
        password = secrets.token_urlsafe(12)
        ensure_admin("admin", "", password)
        try:
            path.write_text(f"admin {password}\n")
            path.chmod(0o600)
        except OSError:
            pass
        return f"admin / {password}"
    if path.exists():
        first_line = (path.read_text().strip().splitlines() or [""])[0]
        username, _, password = first_line.partition(" ")
        user = user_model.objects.filter(username=username, is_superuser=True).first()
        if user is not None and user.check_password(password):
            return f"{username} / {password}"
    names = user_model.objects.filter(is_superuser=True).values_list("username", flat=True)[:3]
    return "superuser(s): " + ", ".join(names)


#: The demo company's staff have e-mail addresses at this domain (services/demo/company.py).
DEMO_STAFF_DOMAIN = "onefunnel-demo.example"
#: The demo's leadership user (the generated company has reps, marketers and account managers).
DEMO_LEADERSHIP = ("morgan.reyes", "Morgan", "Reyes")
_DEMO_KEY = "demo-users"


@dataclass(frozen=True, slots=True)
class DemoLogins:
    """One username per role of the demo company, and the password they share."""

    password: str
    usernames: dict[str, str]  # role label -> username

    def line(self) -> str:
        """The logins in one line, for the terminal."""
        users = ", ".join(f"{name} ({role})" for role, name in self.usernames.items())
        return f"{users} / password {self.password}"


def _demo_password(path_lines: list[str]) -> str | None:
    for line in path_lines:
        key, _, value = line.partition(" ")
        if key == _DEMO_KEY and value:
            return value.strip()
    return None


def ensure_demo_logins() -> DemoLogins | None:
    """Let the demo company's staff sign in (the loader leaves their passwords unusable): one
    generated password for all, kept beside the admin login in ``$ONEFUNNEL_HOME/.onefunnel-admin``
    and shown by ``onefunnel demo``. Makes the first sales rep a team lead and adds a
    leadership user, so every role can be tried. None when no demo is loaded."""
    user_model = get_user_model()
    staff = user_model._default_manager.filter(email__endswith=f"@{DEMO_STAFF_DOMAIN}")
    if not staff.exists():
        return None
    path = settings.HOME / _FIRST_ADMIN_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    password = _demo_password(lines)
    new = password is None
    if password is None:
        password = secrets.token_urlsafe(9)
        try:
            path.write_text("\n".join([*lines, f"{_DEMO_KEY} {password}"]) + "\n")
            path.chmod(0o600)
        except OSError:
            pass
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
        # A new password goes to everyone; otherwise only to those who cannot sign in yet
        # (checking each user's hash would take a hashing's time per user).
        targets = staff if new else staff.filter(Q(password__startswith="!") | Q(password=""))
        targets.update(password=make_password(password))
    usernames: dict[str, str] = {}
    for user in staff.order_by("pk").prefetch_related("groups"):
        roles = roles_from_groups(g.name for g in user.groups.all())
        role = next((r for r in (Role.TEAM_LEAD, Role.SALES_REP, Role.ACCOUNT_MANAGER,
                                 Role.MARKETING, Role.LEADERSHIP) if r in roles), None)  # fmt: skip
        if role is not None:
            usernames.setdefault(role.label, user.get_username())
    return DemoLogins(password, usernames)
