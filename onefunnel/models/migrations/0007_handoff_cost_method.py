from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("onefunnel", "0006_tracking_inbound_and_merges"),
    ]

    operations = [
        migrations.AddField(
            model_name="handoff",
            name="cost_method",
            field=models.CharField(
                blank=True,
                default="",
                db_default="",
                help_text="What produced the cost: an attribution model, or even_split",
                max_length=32,
            ),
        ),
    ]
