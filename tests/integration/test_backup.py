"""Backups on the configured database: awkward values survive a round trip, permissions whose
ids changed resolve by name, and a damaged or non-empty target is refused with nothing written."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.db.models import F, Max

from onefunnel.models import Campaign, Contact, InboundBatch, PipelineStage, Spend, Touchpoint
from onefunnel.models.teams import ensure_team_groups
from onefunnel.services.errors import InputError
from onefunnel.services.ops import backup as backups

pytestmark = pytest.mark.django_db(transaction=True)

WHEN = datetime(2026, 3, 2, 9, 15, 30, 123456, tzinfo=UTC)


def _awkward_records() -> None:
    analyst = User.objects.create_user("analyst", "a@example.com", "pw-Long-enough-1")
    analyst.groups.add(Group.objects.get(name="marketing"))
    analyst.user_permissions.add(Permission.objects.get(codename="view_deal"))
    campaign = Campaign.objects.create(
        name="Ünïcode “quotes” <script>", utm_campaign="=HYPERLINK(1)", channel="email"
    )
    Campaign.objects.filter(pk=campaign.pk).update(created_at=WHEN)
    Spend.objects.create(
        campaign=campaign, day=WHEN.date(), amount=Decimal("1234.56"), currency="EUR"
    )
    contact = Contact.objects.create(
        email="ada@example.com",
        owner=analyst,
        properties={"z": 1, "a": [1.5, None, "ä"], "nested": {"big": 2**70}},
        created_at=WHEN,
    )
    Touchpoint.objects.create(
        message_id="m-1",
        contact=contact,
        kind="page_view",
        team="marketing",
        channel="email",
        campaign=campaign,
        properties={"path": "/pricing", "n": -0.0001},
        occurred_at=WHEN,
        received_at=WHEN,
    )
    InboundBatch.objects.create(
        received_at=WHEN, body=bytes(range(256)), events=1, gzipped=True, failed="x"
    )


def _wipe_and_renumber() -> None:
    """Empty every table, then let migrate's signal make content types, permissions and groups
    again — with other ids than the backup's."""
    # Past every id used so far (earlier tests' flushes leave the counters where they were).
    shift = 1000 + max(
        Permission.objects.aggregate(top=Max("id"))["top"] or 0,
        ContentType.objects.aggregate(top=Max("id"))["top"] or 0,
    )
    call_command("flush", interactive=False, verbosity=0)
    with transaction.atomic():  # foreign keys are checked at commit
        for group in Group.objects.all():
            group.permissions.clear()
        Permission.objects.update(id=F("id") + shift, content_type_id=F("content_type_id") + shift)
        ContentType.objects.update(id=F("id") + shift)
    ContentType.objects.clear_cache()
    ensure_team_groups()


def test_round_trip_keeps_awkward_values(tmp_path: Path) -> None:
    _awkward_records()
    first = backups.backup(tmp_path / "one")
    perm_ids_before = set(Permission.objects.values_list("pk", flat=True))
    _wipe_and_renumber()
    assert not perm_ids_before & set(Permission.objects.values_list("pk", flat=True))

    restored = backups.restore(tmp_path / "one", migrate=lambda: None)
    assert restored.rows == first.rows

    analyst = User.objects.get(username="analyst")
    assert analyst.check_password("pw-Long-enough-1")
    assert list(analyst.groups.values_list("name", flat=True)) == ["marketing"]
    assert list(analyst.user_permissions.values_list("codename", flat=True)) == ["view_deal"]
    assert Group.objects.get(name="marketing").permissions.filter(codename="add_campaign").exists()
    campaign = Campaign.objects.get()
    assert campaign.name == "Ünïcode “quotes” <script>"
    assert campaign.created_at == WHEN  # auto_now_add: the backup's time, not the restore's
    assert Spend.objects.get().amount == Decimal("1234.56")
    contact = Contact.objects.get()
    assert contact.properties == {"z": 1, "a": [1.5, None, "ä"], "nested": {"big": 2**70}}
    assert contact.owner == analyst
    touch = Touchpoint.objects.get()
    assert touch.occurred_at == WHEN  # microseconds kept
    assert touch.properties == {"path": "/pricing", "n": -0.0001}
    assert bytes(InboundBatch.objects.get().body) == bytes(range(256))
    # No default pipeline stages came back beside the backup's own (none after the flush).
    assert (
        PipelineStage.objects.count()
        == first.tables[[t.model for t in first.tables].index("onefunnel.pipelinestage")].rows
    )

    # A second backup of the restored database: the same rows, checksum for checksum.
    second = backups.backup(tmp_path / "two")
    assert [(t.model, t.rows, t.rows_sha256) for t in second.tables] == [
        (t.model, t.rows, t.rows_sha256) for t in first.tables
    ]
    # New rows get new ids after the restored ones (sequences moved on PostgreSQL).
    Touchpoint.objects.create(
        message_id="m-2",
        kind="page_view",
        team="marketing",
        channel="direct",
        occurred_at=WHEN,
        received_at=WHEN,
    )


def test_a_damaged_backup_writes_nothing(tmp_path: Path) -> None:
    _awkward_records()
    backups.backup(tmp_path / "one")
    _wipe_and_renumber()
    damaged = tmp_path / "one" / "onefunnel.contact.jsonl.gz"
    data = bytearray(damaged.read_bytes())
    data[-10] ^= 0xFF
    damaged.write_bytes(bytes(data))
    migrated: list[bool] = []
    with pytest.raises(InputError, match=r"checksum mismatch in onefunnel\.contact\.jsonl\.gz"):
        backups.restore(tmp_path / "one", migrate=lambda: migrated.append(True))
    assert not migrated
    assert not User.objects.exists()


def test_a_target_with_records_is_refused(tmp_path: Path) -> None:
    _awkward_records()
    backups.backup(tmp_path / "one")
    with pytest.raises(InputError, match="not empty"):
        backups.restore(tmp_path / "one", migrate=lambda: None)
    assert User.objects.count() == 1


def test_a_failed_table_rolls_the_whole_restore_back(tmp_path: Path) -> None:
    _awkward_records()
    backups.backup(tmp_path / "one")
    _wipe_and_renumber()
    groups = set(Group.objects.values_list("name", flat=True))
    # The manifest promises a row more than the touchpoint file holds (checksums still match).
    manifest = tmp_path / "one" / "manifest.json"
    text = manifest.read_text().replace('"rows": 1,\n      "sha256"', '"rows": 2,\n      "sha256"')
    manifest.write_text(text)
    with pytest.raises(InputError, match="after the restore"):
        backups.restore(tmp_path / "one", migrate=lambda: None)
    assert not User.objects.exists()
    assert not Contact.objects.exists()
    assert set(Group.objects.values_list("name", flat=True)) == groups


def test_migrate_seeds_only_the_tables_a_restore_replaces() -> None:
    """A restore accepts a target where migrate filled only these tables; a new seed elsewhere
    must be added to SEEDED_BY_MIGRATE (and is then replaced by the backup's rows)."""
    call_command("migrate", interactive=False, verbosity=0)
    filled = {
        m._meta.label_lower for m in backups.backed_up_models() if m._default_manager.exists()
    }
    assert filled <= set(backups.SEEDED_BY_MIGRATE)
    assert "auth.group" in filled


def test_every_onefunnel_model_is_backed_up_after_what_it_refers_to() -> None:
    from django.apps import apps

    order = [m._meta.label_lower for m in backups.backed_up_models()]
    for model in apps.get_app_config("onefunnel").get_models():
        assert model._meta.label_lower in order
        for field in model._meta.concrete_fields:
            related = field.related_model
            if isinstance(related, type) and related is not model:
                label = related._meta.label_lower
                if label in order:
                    assert order.index(label) < order.index(model._meta.label_lower)
