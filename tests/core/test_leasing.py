"""Claiming rows with leases: exclusive claims, expiry, finishing only under one's own claim."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.db.models import F

from rightscare.core import leasing
from rightscare.core.models import PeriodicJob

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _rows(count: int, *, at: datetime = NOW) -> list[PeriodicJob]:
    return [PeriodicJob.objects.create(name=f"job-{n:02d}", next_run_at=at) for n in range(count)]


@pytest.mark.django_db
def test_claims_at_most_the_limit_in_order_and_leases_them():
    rows = _rows(5)

    claimed = leasing.claim(PeriodicJob.objects.all(), owner="worker-a", lease=LEASE, limit=3, order_by=("name",), now=NOW)

    assert [row.name for row in claimed] == ["job-00", "job-01", "job-02"]
    token = claimed[0].claimed_by
    assert token.startswith("worker-a/")
    assert {row.claimed_by for row in claimed} == {token}
    assert {row.lease_until for row in claimed} == {NOW + LEASE}
    assert list(PeriodicJob.objects.filter(claimed_by="").order_by("name").values_list("name", flat=True)) == [r.name for r in rows[3:]]


@pytest.mark.django_db
def test_a_held_row_is_not_claimed_again_until_its_lease_lapses():
    _rows(2)
    first = leasing.claim(PeriodicJob.objects.all(), owner="worker-a", lease=LEASE, limit=10, now=NOW)

    during = leasing.claim(PeriodicJob.objects.all(), owner="worker-b", lease=LEASE, limit=10, now=NOW + LEASE - timedelta(seconds=1))
    after = leasing.claim(PeriodicJob.objects.all(), owner="worker-b", lease=LEASE, limit=10, now=NOW + LEASE)

    assert len(first) == 2
    assert during == []
    assert [row.pk for row in after] == [row.pk for row in first]
    assert all(row.claimed_by.startswith("worker-b/") for row in after)


@pytest.mark.django_db
def test_the_claim_writes_the_given_updates():
    _rows(1)

    [row] = leasing.claim(
        PeriodicJob.objects.all(), owner="w", lease=LEASE, limit=1, updates={"last_triggered_at": NOW, "next_run_at": F("next_run_at")}, now=NOW
    )

    assert row.last_triggered_at == NOW


@pytest.mark.django_db
def test_only_due_rows_of_the_queryset_are_claimed():
    _rows(2)
    PeriodicJob.objects.create(name="later", next_run_at=NOW + timedelta(hours=1))

    claimed = leasing.claim(PeriodicJob.objects.filter(next_run_at__lte=NOW), owner="w", lease=LEASE, limit=10, now=NOW)

    assert sorted(row.name for row in claimed) == ["job-00", "job-01"]


@pytest.mark.django_db
def test_a_limit_below_one_claims_nothing():
    _rows(1)
    assert leasing.claim(PeriodicJob.objects.all(), owner="w", lease=LEASE, limit=0, now=NOW) == []
    assert PeriodicJob.objects.get().claimed_by == ""


@pytest.mark.django_db
def test_finish_writes_the_outcome_and_releases_the_row():
    _rows(1)
    [row] = leasing.claim(PeriodicJob.objects.all(), owner="w", lease=LEASE, limit=1, now=NOW)

    assert leasing.finish(row, next_run_at=NOW + timedelta(minutes=1)) is True

    stored = PeriodicJob.objects.get()
    assert (stored.claimed_by, stored.lease_until, stored.next_run_at) == ("", None, NOW + timedelta(minutes=1))
    assert (row.claimed_by, row.lease_until, row.next_run_at) == ("", None, NOW + timedelta(minutes=1))


@pytest.mark.django_db
def test_finish_after_another_worker_took_the_row_over_changes_nothing():
    _rows(1)
    [late] = leasing.claim(PeriodicJob.objects.all(), owner="slow", lease=LEASE, limit=1, now=NOW)
    [taker] = leasing.claim(PeriodicJob.objects.all(), owner="fast", lease=LEASE, limit=1, now=NOW + LEASE)

    assert leasing.finish(late, next_run_at=NOW + timedelta(days=1)) is False

    stored = PeriodicJob.objects.get()
    assert (stored.claimed_by, stored.next_run_at) == (taker.claimed_by, NOW)


@pytest.mark.django_db
def test_finish_of_an_unclaimed_row_changes_nothing():
    [row] = _rows(1)
    assert leasing.finish(row, next_run_at=NOW + timedelta(days=1)) is False
    assert PeriodicJob.objects.get().next_run_at == NOW


def test_still_held_compares_the_lease_with_a_margin():
    row = PeriodicJob(name="x", next_run_at=NOW, claimed_by="w/1", lease_until=NOW + LEASE)
    assert leasing.still_held(row, now=NOW) is True
    assert leasing.still_held(row, now=NOW, margin=LEASE - timedelta(seconds=1)) is True
    assert leasing.still_held(row, now=NOW, margin=LEASE) is False
    assert leasing.still_held(PeriodicJob(name="y", next_run_at=NOW), now=NOW) is False


def test_claim_tokens_differ_for_each_claim():
    assert leasing.new_claim_token("w") != leasing.new_claim_token("w")
    assert len(leasing.new_claim_token("x" * 300)) <= 100


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_the_same_row():
    """Eight threads (each with its own connection) sweep 60 rows in batches of 5."""
    _rows(60)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def sweep(owner: str) -> None:
        try:
            start.wait()
            mine: list[int] = []
            while batch := leasing.claim(PeriodicJob.objects.all(), owner=owner, lease=timedelta(minutes=5), limit=5):
                mine.extend(row.pk for row in batch)
            claimed[owner] = mine
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep, args=(f"worker-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    every_claim = [pk for pks in claimed.values() for pk in pks]
    assert len(every_claim) == 60
    assert set(every_claim) == set(PeriodicJob.objects.values_list("pk", flat=True))
    assert PeriodicJob.objects.filter(claimed_by="").count() == 0
