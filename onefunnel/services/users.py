"""People who use onefunnel: the admin user, reps, team membership."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

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
        username, _, password = path.read_text().strip().partition(" ")
        user = user_model.objects.filter(username=username, is_superuser=True).first()
        if user is not None and user.check_password(password):
            return f"{username} / {password}"
    names = user_model.objects.filter(is_superuser=True).values_list("username", flat=True)[:3]
    return "superuser(s): " + ", ".join(names)
