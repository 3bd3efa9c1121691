"""Create or update contacts and accounts by their natural keys (email, domain).

Every write path that learns about people — tracking identify/group calls, CRM imports, the API —
goes through these two functions, so normalisation and matching rules live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from onefunnel.models import Account, Contact
from onefunnel.services.errors import InputError

CONTACT_FIELDS = frozenset({"first_name", "last_name", "title", "phone", "country"})
ACCOUNT_FIELDS = frozenset({"name", "industry", "employee_count", "country", "region"})


def normalise_email(email: str) -> str:
    """Lower-cased, trimmed email, or InputError naming the field."""
    value = email.strip().lower()
    try:
        validate_email(value)
    except ValidationError:
        raise InputError(f"email: not an email address: {email!r}") from None
    return value


def normalise_domain(domain: str) -> str:
    """A bare host name: no scheme, no www., no path, lower case."""
    value = domain.strip().lower()
    for prefix in ("https://", "http://"):
        value = value.removeprefix(prefix)
    value = value.split("/", 1)[0].removeprefix("www.")
    if not value or "." not in value or " " in value:
        raise InputError(f"domain: not a domain: {domain!r}")
    return value


def _apply(obj: Contact | Account, fields: Mapping[str, Any], allowed: frozenset[str]) -> bool:
    unknown = set(fields) - allowed - {"properties"}
    if unknown:
        raise InputError(f"{sorted(unknown)[0]}: unknown field")
    changed = False
    for name, value in fields.items():
        if name == "properties":
            merged = {**obj.properties, **value}
            if merged != obj.properties:
                obj.properties = merged
                changed = True
        elif value not in (None, "") and getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def upsert_account(
    domain: str, fields: Mapping[str, Any], *, at: datetime | None = None
) -> tuple[Account, bool]:
    """The account with this domain, created or updated with non-empty ``fields``.

    Returns (account, created). Empty values never overwrite what is known.
    """
    key = normalise_domain(domain)
    account = Account.objects.filter(domain=key).first()
    if account is None:
        account = Account(
            domain=key, name=fields.get("name") or key, created_at=at or timezone.now()
        )
        _apply(account, fields, ACCOUNT_FIELDS)
        account.save()
        return account, True
    if _apply(account, fields, ACCOUNT_FIELDS):
        account.save()
    return account, False


def upsert_contact(
    email: str,
    fields: Mapping[str, Any],
    *,
    account: Account | None = None,
    at: datetime | None = None,
) -> tuple[Contact, bool]:
    """The contact with this email (case-insensitive), created or updated. Returns (contact, created).

    Empty values never overwrite what is known; an account given links the contact to it.
    """
    key = normalise_email(email)
    contact = Contact.objects.filter(email=key).first()
    if contact is None:
        contact = Contact(email=key, account=account, created_at=at or timezone.now())
        _apply(contact, fields, CONTACT_FIELDS)
        contact.save()
        return contact, True
    changed = _apply(contact, fields, CONTACT_FIELDS)
    if account is not None and contact.account_id != account.pk:
        contact.account = account
        changed = True
    if changed:
        contact.save()
    return contact, False
