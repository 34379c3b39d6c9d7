"""Case numbers (SZ-2026-000123): allocated without serialising registrations.

A number is ``<prefix>-<year>-<six digits>``, counted per prefix and year. On PostgreSQL each
(prefix, year) has a database sequence, ``case_number_<prefix>_<year>``: ``nextval`` takes the
next number at once and holds nothing, so registrations running at the same time do not wait
for each other. The previous way — one row of ``CaseNumberSequence`` locked ``FOR UPDATE``
until the registering transaction committed — made every hotline call in the installation
wait for the one before it (bench/results/2026-12-06-intake.md). The price is the one every
sequence has: a registration that fails after taking its number leaves a gap.

The sequence is made the first time a year's number is asked for, starting after the last
number ``CaseNumberSequence`` recorded (numbers given before this module, and by the bench-data
generator). SQLite, which lets one writer in at a time anyway, keeps counting in the row.
``last_allocated`` and ``set_last`` are for writers that number cases themselves (the
bench-data generator): they read and move both counters.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.db.models import F

from rightscare.cases.models import CaseNumberSequence

_SAFE_PREFIX = re.compile(r"^[A-Za-z0-9]{1,8}$")


def sequence_name(prefix: str, year: int) -> str:
    """The PostgreSQL sequence of a prefix and year (the prefix is letters and digits only)."""
    if not _SAFE_PREFIX.match(prefix):
        raise ValueError(f"case number prefix must be 1-8 letters or digits: {prefix!r}")
    return f"case_number_{prefix.lower()}_{int(year)}"


def _row_last(prefix: str, year: int) -> int:
    return CaseNumberSequence.objects.filter(prefix=prefix, year=year).values_list("last", flat=True).first() or 0


def _sequence_last(prefix: str, year: int) -> int | None:
    """The last number the sequence gave (None when it does not exist)."""
    name = sequence_name(prefix, year)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if not cursor.fetchone()[0]:
            return None
        cursor.execute(f'SELECT last_value, is_called FROM "{name}"')  # noqa: S608 - name from sequence_name
        last_value, is_called = cursor.fetchone()
    return int(last_value) if is_called else int(last_value) - 1


def allocate(prefix: str, year: int) -> int:
    """The next number of the prefix and year."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            sequence, _created = CaseNumberSequence.objects.select_for_update().get_or_create(prefix=prefix, year=year)
            CaseNumberSequence.objects.filter(pk=sequence.pk).update(last=F("last") + 1)
            sequence.refresh_from_db(fields=["last"])
        return sequence.last
    name = sequence_name(prefix, year)
    for _attempt in range(3):
        # One statement and no savepoint: NULL, not an error, when the sequence is not made yet
        # (the name as text is resolved when the CASE reaches it, not when the query is parsed).
        with connection.cursor() as cursor:
            cursor.execute("SELECT CASE WHEN to_regclass(%s) IS NOT NULL THEN nextval(%s::text) END", [name, name])
            number = cursor.fetchone()[0]
        if number is not None:
            return int(number)
        # No sequence yet: the first number of the year.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # Start after what the row recorded. Two registrations doing this at once: the
                # second fails on the catalogue's unique name and takes its number on the next try.
                cursor.execute(f'CREATE SEQUENCE "{name}" AS bigint START WITH {_row_last(prefix, year) + 1}')
        except (IntegrityError, ProgrammingError):
            continue
    raise RuntimeError(f"could not take a case number from {name}")


def last_allocated(prefix: str, year: int) -> int:
    """The last number given for the prefix and year, by the sequence or the row."""
    row = _row_last(prefix, year)
    if connection.vendor != "postgresql":
        return row
    return max(row, _sequence_last(prefix, year) or 0)


def set_last(prefix: str, year: int, last: int) -> None:
    """Record that numbers up to ``last`` are taken (in the row and, where it exists, the sequence)."""
    updated = CaseNumberSequence.objects.filter(prefix=prefix, year=year).update(last=last)
    if not updated:
        CaseNumberSequence.objects.create(prefix=prefix, year=year, last=last)
    if connection.vendor == "postgresql" and _sequence_last(prefix, year) is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(%s, %s, true)", [sequence_name(prefix, year), last])
