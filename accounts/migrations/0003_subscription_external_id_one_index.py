"""Subscription ids keep one unique index, without the second index for LIKE searches."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_role_groups"),
    ]

    operations = [
        migrations.AlterField(
            model_name="subscription",
            name="external_id",
            field=models.CharField(max_length=100),
        ),
        migrations.AddConstraint(
            model_name="subscription",
            constraint=models.UniqueConstraint(fields=("external_id",), name="accounts_subscription_external_id_key"),
        ),
    ]
