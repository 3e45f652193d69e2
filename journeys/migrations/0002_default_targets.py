from django.db import migrations

# The defaults as of this migration; later changes belong to CS admins or to a new migration.
DEFAULT_TARGET_DAYS = {
    "kickoff": {"Large": 14, "Mid-Market": 14, "SMB": 14, "": 14},
    "onboarding": {"Large": 60, "Mid-Market": 45, "SMB": 30, "": 45},
    "infrastructure_ready": {"Large": 90, "Mid-Market": 60, "SMB": 45, "": 60},
    "first_value": {"Large": 120, "Mid-Market": 90, "SMB": 60, "": 90},
    "outcome_achieved": {"Large": 270, "Mid-Market": 180, "SMB": 120, "": 180},
}


def add_default_targets(apps, schema_editor):
    target_model = apps.get_model("journeys", "MilestoneTarget")
    for milestone, by_segment in DEFAULT_TARGET_DAYS.items():
        for segment, days in by_segment.items():
            target_model.objects.get_or_create(milestone=milestone, segment=segment, defaults={"days": days})


class Migration(migrations.Migration):
    dependencies = [("journeys", "0001_initial")]

    operations = [migrations.RunPython(add_default_targets, migrations.RunPython.noop)]
