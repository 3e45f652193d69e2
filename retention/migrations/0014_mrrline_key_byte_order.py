"""The text columns of the MRR line key compare byte by byte.

On PostgreSQL the partitions' keys are rebuilt with the "C" collation.
"""

from django.db import migrations

import common.fields


class Migration(migrations.Migration):

    dependencies = [
        ("retention", "0013_unlisted_customer_ranges"),
    ]

    operations = [
        migrations.AlterField(
            model_name="mrrline",
            name="charge_type",
            field=common.fields.ByteOrderCharField(
                choices=[("recurring", "Recurring"), ("trueup", "True-up")], max_length=10
            ),
        ),
        migrations.AlterField(
            model_name="mrrline",
            name="product",
            field=common.fields.ByteOrderCharField(max_length=100),
        ),
    ]
