"""Seed the default sales pipeline: stages are data, editable in the admin."""

from django.db import migrations

DEFAULT_STAGES = [
    ("Qualification", 10, 10),
    ("Discovery", 20, 20),
    ("Demo", 30, 40),
    ("Proposal", 40, 60),
    ("Negotiation", 50, 80),
]


def seed(apps, schema_editor):
    PipelineStage = apps.get_model("onefunnel", "PipelineStage")
    for name, sequence, probability in DEFAULT_STAGES:
        PipelineStage.objects.get_or_create(
            name=name, defaults={"sequence": sequence, "probability": probability}
        )


class Migration(migrations.Migration):
    dependencies = [("onefunnel", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
