"""One way to write: no admin form lets anyone change a field the domain governs. Walks every
ModelAdmin registered on the site (new models' admins included), as a superuser, through its
add form and the change form of a real row, and reads the governed fields from the one
declaration (``onefunnel.admin_governed.GOVERNED``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from onefunnel.admin_governed import ALL, GOVERNED, governed
from onefunnel.domain.touches import TouchKind
from onefunnel.models import Contact, Handoff
from onefunnel.services.handoffs import accept_handoff
from onefunnel.services.routing_config import set_rep
from onefunnel.services.touches import TouchInput, record_touch

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(make_contact: Callable[..., Contact]) -> None:
    """A row of most models: a hand raise (touch, stage change, handoff, its events and
    routing, a score), accepted (a deal)."""
    set_rep("ana", team="sales", create_user=True)
    contact = make_contact()
    record_touch(
        TouchInput(
            message_id="hr-1",
            kind=TouchKind.HAND_RAISE,
            occurred_at=timezone.now() - timedelta(minutes=1),
            contact_id=contact.pk,
        )
    )
    accept_handoff(Handoff.objects.get(contact=contact).pk)


def _form_fields(client: Client, url: str) -> set[str] | None:
    answer = client.get(url)
    if answer.status_code == 403:
        return None
    assert answer.status_code == 200, url
    form = answer.context["adminform"].form
    return set(form.fields)


def test_the_declaration_names_real_fields() -> None:
    from django.apps import apps

    for label, names in GOVERNED.items():
        model = apps.get_model(label)
        if names != ALL:
            assert names <= {f.name for f in model._meta.fields}, label


def test_no_admin_form_writes_a_governed_field(scene: None) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-12345678"))
    checked = 0
    for model, model_admin in admin.site._registry.items():
        names = governed(model)
        if not names:
            continue
        meta = model._meta
        base = f"admin:{meta.app_label}_{meta.model_name}"
        row: Model | None = model._default_manager.first()
        if names == ALL:
            assert client.get(reverse(f"{base}_add")).status_code == 403, meta.label
            if row is not None:
                fields = _form_fields(client, reverse(f"{base}_change", args=[row.pk]))
                assert not fields, f"{meta.label}: editable {fields}"
                checked += 1
            continue
        urls = [reverse(f"{base}_add")]
        if row is not None:
            urls.append(reverse(f"{base}_change", args=[row.pk]))
        for url in urls:
            fields = _form_fields(client, url)
            assert fields is None or not (fields & names), f"{meta.label}: {fields & names}"
            checked += 1
        del model_admin
    assert checked >= 8  # the scene has rows for the governed models
