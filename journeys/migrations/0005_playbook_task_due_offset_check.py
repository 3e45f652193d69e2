from django.db import migrations, models


def limit_stored_offsets(apps, schema_editor):
    """Bring offsets stored before the limit down to it, as the check constraint below requires.

    The largest such offsets gave due dates after the year 9999, and every
    journey started from their playbook failed. The CS admin sees the task
    due at the limit and can change it.
    """
    PlaybookTask = apps.get_model("journeys", "PlaybookTask")
    PlaybookTask.objects.filter(due_offset_days__gt=3650).update(due_offset_days=3650)


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0004_playbook_task_due_offset_max"),
    ]

    operations = [
        migrations.RunPython(limit_stored_offsets, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="playbooktask",
            constraint=models.CheckConstraint(
                condition=models.Q(due_offset_days__lte=3650),
                name="playbooktask_due_offset_max",
                violation_error_message="Enter a due offset of at most 3,650 days.",
            ),
        ),
    ]
