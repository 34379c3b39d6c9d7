"""``core.idempotency.run_once``: one record per submission key, claimed in the record's transaction."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from rightscare.core.idempotency import run_once
from rightscare.core.models import IdempotencyRecord


class Creator:
    """A ``create`` that counts its runs and answers ``result-<n>``."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self) -> str:
        self.runs += 1
        return f"result-{self.runs}"


@pytest.mark.django_db
def test_a_retry_answers_the_first_result_without_running_again():
    create = Creator()

    first = run_once(user_id=1, scope="test:create", key="key-1", create=create)
    again = run_once(user_id=1, scope="test:create", key=" key-1 ", create=create)

    assert (first, again, create.runs) == (("result-1", True), ("result-1", False), 1)
    assert list(IdempotencyRecord.objects.values_list("user_id", "scope", "key", "result")) == [(1, "test:create", "key-1", "result-1")]


@pytest.mark.django_db
def test_keys_are_per_user_and_scope():
    create = Creator()

    results = [run_once(user_id=user, scope=scope, key="same", create=create) for user, scope in ((1, "a"), (2, "a"), (1, "b"), (1, "a"))]

    assert results == [("result-1", True), ("result-2", True), ("result-3", True), ("result-1", False)]


@pytest.mark.django_db
def test_without_a_key_it_simply_runs():
    create = Creator()

    assert [run_once(user_id=1, scope="test:create", key="  ", create=create) for _ in range(2)] == [("result-1", True), ("result-2", True)]
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_failed_submission_leaves_no_claim_and_may_be_sent_again():
    def refuse() -> str:
        IdempotencyRecord.objects.create(user_id=9, scope="test:side", key="written by the failed create")
        raise ValueError("refused")

    with pytest.raises(ValueError):
        run_once(user_id=1, scope="test:create", key="key-1", create=refuse)

    assert not IdempotencyRecord.objects.exists()  # the claim and what create wrote, rolled back together
    assert run_once(user_id=1, scope="test:create", key="key-1", create=Creator()) == ("result-1", True)


@pytest.mark.django_db
def test_a_taken_key_inside_a_callers_transaction_leaves_it_usable():
    run_once(user_id=1, scope="test:create", key="key-1", create=Creator())

    with transaction.atomic():
        assert run_once(user_id=1, scope="test:create", key="key-1", create=Creator()) == ("result-1", False)
        # No error was raised in the database: the transaction goes on.
        assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_new_submission_claims_its_key_and_stores_the_result_in_two_statements():
    with CaptureQueriesContext(connection) as captured:
        run_once(user_id=1, scope="test:create", key="key-1", create=Creator())

    written = [query["sql"] for query in captured.captured_queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))]
    assert [sql.split(None, 1)[0] for sql in written] == ["INSERT", "UPDATE"]  # nothing read first
    assert written[0].endswith('ON CONFLICT ("user_id", "scope", "key") DO NOTHING')


# --- concurrent duplicates, on PostgreSQL (SQLite has one writer at a time) ---------------------


def _in_thread(target, results: list) -> threading.Thread:
    def run() -> None:
        try:
            results.append(target())
        except Exception as error:  # reported to the test
            results.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_until_blocked(application_name: str) -> None:
    """Until the other session waits for a lock (the duplicate's claim, on the first one's key)."""
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'", [application_name])
            if cursor.fetchone()[0]:
                return
            threading.Event().wait(0.05)
    raise AssertionError("the duplicate did not wait for the first submission")


def _named(application_name: str, function):
    def run():
        with connection.cursor() as cursor:
            cursor.execute("SET application_name = %s", [application_name])
        return function()

    return run


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first_commits", [True, False], ids=["first-commits", "first-fails"])
def test_a_concurrent_duplicate_waits_for_the_first_and_answers_its_result(first_commits):
    inside, finish = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow_create() -> str:
        runs.append("first")
        inside.set()
        assert finish.wait(10)
        if not first_commits:
            raise ValueError("the first submission is refused")
        return "first-result"

    def duplicate_create() -> str:
        runs.append("duplicate")
        return "duplicate-result"

    first_results: list = []
    duplicate_results: list = []
    first = _in_thread(lambda: run_once(user_id=1, scope="test:race", key="k", create=slow_create), first_results)
    assert inside.wait(10)
    duplicate = _in_thread(_named("rightscare-duplicate", lambda: run_once(user_id=1, scope="test:race", key="k", create=duplicate_create)), duplicate_results)
    try:
        _wait_until_blocked("rightscare-duplicate")
        assert runs == ["first"]  # the duplicate is held on the claim, before its create
    finally:
        finish.set()
        first.join(10)
        duplicate.join(10)

    if first_commits:
        assert first_results == [("first-result", True)]
        assert duplicate_results == [("first-result", False)]
        assert runs == ["first"]
    else:
        assert isinstance(first_results[0], ValueError)
        assert duplicate_results == [("duplicate-result", True)]
        assert runs == ["first", "duplicate"]
    assert IdempotencyRecord.objects.filter(scope="test:race").count() == 1
