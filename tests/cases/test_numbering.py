"""Case numbers: unique and increasing per prefix and year, and (on PostgreSQL) taken without waiting for other registrations."""

from __future__ import annotations

import pytest
from django.db import transaction

from rightscare.cases import numbering
from rightscare.cases.models import CaseNumberSequence
from tests.concurrency import transaction_held_open


def test_numbers_follow_the_row_and_each_other(db):
    CaseNumberSequence.objects.create(prefix="SZ", year=2031, last=41)
    assert [numbering.allocate("SZ", 2031) for _ in range(3)] == [42, 43, 44]
    assert numbering.allocate("SZ", 2032) == 1
    assert numbering.last_allocated("SZ", 2031) == 44


def test_a_writer_that_numbers_cases_itself_moves_the_counter(db):
    assert numbering.allocate("SZ", 2033) == 1
    numbering.set_last("SZ", 2033, 500)
    assert numbering.last_allocated("SZ", 2033) == 500
    assert numbering.allocate("SZ", 2033) == 501


@pytest.mark.parametrize("prefix", ["", "S Z", "SZ;DROP", "ABCDEFGHI"])
def test_a_prefix_is_letters_and_digits(prefix):
    with pytest.raises(ValueError):
        numbering.sequence_name(prefix, 2026)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_registration_in_progress_does_not_hold_up_the_next_one():
    """One transaction takes a number and stays open; another takes the next at once (the row lock made it wait)."""
    assert numbering.allocate("SZ", 2034) == 1  # the sequence exists from here on
    results: dict[str, int] = {}

    def slow_registration() -> None:
        results["slow"] = numbering.allocate("SZ", 2034)

    # Waiting for the other registration fails the test instead of passing late.
    with transaction_held_open(slow_registration), transaction.atomic():
        results["next"] = numbering.allocate("SZ", 2034)
    assert sorted(results.values()) == [2, 3]
