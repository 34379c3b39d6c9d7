"""The migration that marks each case's latest rating (``ratings.0002``) picks the highest round of every case."""

from __future__ import annotations

import importlib

from django.db import connection
from django.utils import timezone

from rightscare.ratings import services
from rightscare.ratings.models import Rating, RatingRound
from rightscare.ratings.public import submit_public_rating
from tests.ratings.helpers import resolved_case, unsatisfied_case

MARK_LATEST = importlib.import_module("rightscare.ratings.migrations.0002_rating_latest").MARK_LATEST


def test_the_migration_marks_the_highest_round_of_each_case(org, personas) -> None:
    reworked, _order = unsatisfied_case(org, personas)
    services.send_back_for_rework(case=reworked, by=personas["dispatcher"], reason="企业仍未支付。")
    second = RatingRound.objects.create(case=reworked, number=2, opened_at=timezone.now(), rating_due_at=timezone.now(), status="rated")
    Rating.objects.create(round=second, case=reworked, round_number=2, solved="yes", speed=5, quality=5, channel="public", created_at=timezone.now())
    once, _order = resolved_case(org, personas, summary="又一件。")
    submit_public_rating(case=once, solved="yes", speed=4, quality=4)
    # As the rows stood before the field existed.
    Rating.objects.update(latest=False)

    with connection.cursor() as cursor:
        cursor.execute(MARK_LATEST)

    marked = set(Rating.objects.filter(latest=True).values_list("case_id", "round_number"))
    assert marked == {(reworked.pk, 2), (once.pk, 1)}
    assert Rating.objects.filter(latest=False).values_list("case_id", "round_number").get() == (reworked.pk, 1)
