"""``Rating.latest``: each case's rating of its highest round, marked once so the assessment joins it."""

from django.db import migrations, models


MARK_LATEST = """
UPDATE ratings_rating SET latest = TRUE
WHERE round_number = (SELECT MAX(r.round_number) FROM ratings_rating r WHERE r.case_id = ratings_rating.case_id)
"""


class Migration(migrations.Migration):
    dependencies = [("ratings", "0001_rating_rounds_ratings_and_return_visits")]

    operations = [
        migrations.AddField(model_name="rating", name="latest", field=models.BooleanField(default=False, verbose_name="latest rating of the case")),
        migrations.RunSQL(MARK_LATEST, reverse_sql=migrations.RunSQL.noop),
        migrations.AddConstraint(
            model_name="rating",
            constraint=models.UniqueConstraint(condition=models.Q(("latest", True)), fields=("case",), name="rating_one_latest_per_case"),
        ),
    ]
