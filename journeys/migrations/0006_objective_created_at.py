import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """Add the creation time of objectives.

    The field is added without a default first, so that objectives created
    before it stay empty instead of all getting the time of the migration.
    """

    dependencies = [
        ("journeys", "0005_playbook_task_due_offset_check"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalobjective",
            name="created_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="objective",
            name="created_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="historicalobjective",
            name="created_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="objective",
            name="created_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, editable=False, null=True),
        ),
    ]
