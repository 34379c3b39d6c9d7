"""``audit.services.batched``: a transaction's entries written with one INSERT at its end."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from rightscare.audit.models import AuditEntry
from rightscare.audit.services import batched, record, seal
from rightscare.audit.verification import verify_chain
from tests.audit.helpers import chain

pytestmark = pytest.mark.django_db

#: Everything an entry says, but its id and time (the same with or without the block).
CONTENT = ("actor_id", "actor_label", "unit_id", "unit_label", "action", "event", "object_type", "object_id", "object_label", "changes", "reason", "ip_address")


def _entry(number: int, **extra: Any) -> AuditEntry:
    return record(
        actor=None,
        action="update" if number % 2 else "create",
        event=f"test.batched.{number}",
        object_type="test.thing",
        object_id=number,
        object_label=f"物件 {number}",
        changes={"名字": ["旧", f"新{number}"], "n": number},
        reason=f"reason {number}",
        **extra,
    )


def _content(entries: Any) -> list[tuple[Any, ...]]:
    return [tuple(getattr(entry, name) for name in CONTENT) for entry in entries]


def _inserts(captured: CaptureQueriesContext) -> int:
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    return sum(1 for query in captured.captured_queries if query["sql"].startswith(f"INSERT INTO {table}"))


def test_entries_are_written_once_at_the_end_in_order_with_the_same_content():
    unbatched = [_entry(number) for number in range(4)]
    expected = _content(AuditEntry.objects.filter(pk__in=[e.pk for e in unbatched]).order_by("id"))

    with CaptureQueriesContext(connection) as captured, batched():
        returned = [_entry(number) for number in range(4)]
        # Nothing written yet: the entries wait for the block's end.
        assert [entry.pk for entry in returned] == [None] * 4
        assert AuditEntry.objects.count() == 4

    assert _inserts(captured) == 1
    written = list(AuditEntry.objects.exclude(pk__in=[e.pk for e in unbatched]).order_by("id"))
    assert [entry.pk for entry in written] == [entry.pk for entry in returned]  # the returned objects got their ids
    assert _content(written) == expected
    assert [entry.at for entry in written] == [entry.at for entry in returned]  # the time it was recorded


def test_nothing_is_written_when_the_block_raises():
    with pytest.raises(RuntimeError), batched():
        _entry(1)
        AuditEntry.objects.count()  # the block's transaction goes on
        raise RuntimeError("the call is refused")

    assert AuditEntry.objects.count() == 0


def test_an_error_caught_inside_the_block_loses_no_entry():
    with batched():
        _entry(1)
        try:
            _entry(2)
            raise ValueError("handled by the service")
        except ValueError:
            pass
        _entry(3)

    assert list(AuditEntry.objects.order_by("id").values_list("event", flat=True)) == ["test.batched.1", "test.batched.2", "test.batched.3"]


def test_an_entry_of_a_savepoint_rolled_back_inside_the_block_goes_with_it():
    with CaptureQueriesContext(connection) as captured, batched():
        _entry(1)
        with transaction.atomic():
            _entry(2)  # kept: its savepoint is released
        try:
            with transaction.atomic():
                _entry(3)
                with transaction.atomic():
                    _entry(4)
                raise ValueError("this step is undone and the service goes on")
        except ValueError:
            pass
        with transaction.atomic(savepoint=False):
            _entry(5)
        _entry(6)

    assert _inserts(captured) == 1
    assert list(AuditEntry.objects.order_by("id").values_list("event", flat=True)) == [f"test.batched.{n}" for n in (1, 2, 5, 6)]


def test_a_block_inside_another_adds_to_the_outer_one():
    with CaptureQueriesContext(connection) as captured, batched():
        _entry(1)
        with batched():
            _entry(2)
        assert AuditEntry.objects.count() == 0
        try:
            with batched():
                _entry(3)
                raise ValueError("the inner step is refused")
        except ValueError:
            pass
        _entry(4)

    assert _inserts(captured) == 1
    assert list(AuditEntry.objects.order_by("id").values_list("event", flat=True)) == [f"test.batched.{n}" for n in (1, 2, 4)]


def test_outside_a_block_an_entry_is_written_at_once():
    with batched():
        pass
    entry = _entry(1)

    assert entry.pk is not None and AuditEntry.objects.filter(pk=entry.pk).exists()


def test_the_chain_seals_the_batched_entries_in_their_order_and_verifies(anchor_file):
    before = _entry(0)
    with batched():
        written = [_entry(number) for number in range(1, 4)]
    after = _entry(4)

    assert seal() == 5

    assert chain() == [(entry.pk, number) for number, entry in enumerate([before, *written, after], start=1)]
    assert verify_chain().ok
