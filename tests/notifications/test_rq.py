"""Outbox rows sent through django-tasks-rq: the sender task on a Redis queue, run by ``rqworker --burst``."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import transaction

from rightscare.notifications.models import Message
from rightscare.notifications.services import queue_message
from tests import processes
from tests.notifications.conftest import delivered
from tests.requirements_plugin import redis_url

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

#: A database of its own on the Redis server, away from the cache and real queues; flushed by the test.
TEST_REDIS_DB = 14
#: Concurrent test runs against one Redis (and the xdist workers of one run) take turns on that database.
LOCK = "rightscare-test-rq-lock"
#: Where the lock lives: database 0, which no test flushes. Not the worker's own database
#: (tests/requirements_plugin.py gives each xdist worker one): a lock there would only
#: exclude the worker from itself, and the two workers' RQ tests would flush each other's queue.
LOCK_REDIS_DB = 0


def _redis_url_of(database: int) -> str:
    parts = urlsplit(redis_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _test_redis_url() -> str:
    return _redis_url_of(TEST_REDIS_DB)


@pytest.fixture
def rq_queue(settings):
    """The RQ backend on the default queue of a dedicated Redis database, flushed before and after."""
    import django_rq
    import redis

    url = _test_redis_url()
    connection = redis.Redis.from_url(url)
    lock = redis.Redis.from_url(_redis_url_of(LOCK_REDIS_DB)).lock(LOCK, timeout=300, blocking_timeout=300)
    assert lock.acquire(), "another test run holds the Redis test database"
    try:
        connection.flushdb()
        settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
        settings.RQ_QUEUES = {"default": {"URL": url}}
        yield url, django_rq.get_queue("default")
    finally:
        connection.flushdb()
        connection.close()
        lock.release()


def test_outbox_rows_are_sent_once_each_through_rq(rq_queue, sender_file, tmp_path):
    url, queue = rq_queue
    with transaction.atomic():
        messages = [
            queue_message(event="org.role_granted", to_address=f"person{n}@example.org", channel="test_file", language="en", context={"role": "处理人"})
            for n in range(6)
        ]
    # The commit enqueued one sender task (one per transaction, not per message).
    assert queue.count == 1
    from rightscare.notifications.tasks import send_due_messages

    send_due_messages.enqueue()  # a second trigger finds nothing left: the task is safe to run twice
    assert queue.count == 2

    log = tmp_path / "rqworker.log"
    env = processes.child_env(RIGHTSCARE_TASKS_BACKEND="rq", REDIS_URL=url, RIGHTSCARE_TEST_SENDER_FILE=str(sender_file))
    with processes.processes(log) as group:
        worker = group.start(["rqworker", "default", "--burst", "--job-class", "django_tasks_rq.Job"], env=env)
        assert worker.wait(timeout=120) == 0, group.output()[-4000:]

    assert queue.count == 0
    assert Counter(delivered(sender_file)) == {str(m.key): 1 for m in messages}
    assert list(Message.objects.values_list("status", "attempts", "claimed_by")) == [("sent", 1, "")] * 6
    finished = queue.finished_job_registry
    assert finished.count == 2
    results = [queue.fetch_job(job_id).return_value() for job_id in finished.get_job_ids()]
    assert sorted(r["sent"] for r in results) == [0, 6]


def test_rightscare_worker_in_rq_mode_sends_and_triggers_jobs(rq_queue, sender_file, tmp_path):
    """The whole ``rightscare worker`` on RQ: the scheduler thread beside a worker that must not fork."""
    url, queue = rq_queue
    with transaction.atomic():
        messages = [
            queue_message(event="org.role_granted", to_address=f"person{n}@example.org", channel="test_file", language="en", context={"role": "处理人"})
            for n in range(3)
        ]
    log = tmp_path / "worker.log"
    env = processes.child_env(
        RIGHTSCARE_TASKS_BACKEND="rq",
        REDIS_URL=url,
        RIGHTSCARE_TEST_SENDER_FILE=str(sender_file),
        RIGHTSCARE_JOB_INTERVALS="notifications.send=0.5,tasks.recover=0.5,audit.seal=0.5,supervision.sweep=0,ratings.sweep=0,integrations.deliver=0,wechat.process=0",
        RIGHTSCARE_SCHEDULER_TICK_SECONDS="0.2",
        RIGHTSCARE_WORKER_HEARTBEAT_SECONDS="0.5",
    )
    with processes.processes(log) as group:
        worker = group.start(["worker"], env=env)
        processes.wait_for(lambda: Message.objects.filter(status="sent").count() == 3, timeout=60, what="the messages to be sent", log=log)
        # Several rounds of every periodic job run to the end (a forking worker would hang here).
        processes.wait_for(lambda: queue.finished_job_registry.count >= 8, timeout=60, what="periodic jobs to finish", log=log)
        assert processes.stop(worker) == 0

    assert Counter(delivered(sender_file)) == {str(m.key): 1 for m in messages}
    assert queue.failed_job_registry.count == 0
    assert "worker" in group.output() and "stopped" in group.output()
