# Contact.case leads the new index contact_case_first (case, occurred_at, id) INCLUDE (channel),
# which answers "the channel of the case's first contact" from the index alone; the
# single-column foreign-key index it covers only cost writes. Dropped by name, as in 0003,
# rather than by AlterField (which on PostgreSQL would drop and re-validate the foreign key).

import django.db.models.deletion
from django.db import migrations, models

#: (table, column, index name) of the foreign-key index dropped (the name Django gave it in 0001/0002).
COVERED = [("intake_contact", "case_id", "intake_contact_case_id_8d0045ad")]


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0010_scope_list_resolved_at"),
        ("intake", "0004_self_submitted_contacts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["case", "occurred_at", "id"], include=("channel",), name="contact_case_first"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="case",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="contacts",
                        to="cases.case",
                        verbose_name="case",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for _, _, name in COVERED],
                    reverse_sql=[f'CREATE INDEX "{name}" ON "{table}" ("{column}")' for table, column, name in COVERED],
                ),
            ],
        ),
    ]
