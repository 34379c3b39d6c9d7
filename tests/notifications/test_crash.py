"""Real workers killed with SIGKILL mid-send: nothing is lost, the duplicate stays within the documented window.

Each test commits messages to the file-backed test database, starts ``rightscare worker``
processes with short leases and intervals, stops one at a barrier (asserting it got
there), kills it, starts another, and reads the test gateway's file (one line per
delivery, see ``rightscare.notifications.senders.testing``).
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from rightscare.audit.models import AuditEntry
from rightscare.core.models import WorkerHeartbeat
from rightscare.notifications.models import Message
from rightscare.notifications.services import queue_message
from tests import processes
from tests.notifications.conftest import delivered

pytestmark = [pytest.mark.django_db(transaction=True)]

#: Short everything, so that a lapsed lease and a dead worker are noticed within seconds.
FAST = {
    "RIGHTSCARE_JOB_INTERVALS": "notifications.send=0.5,tasks.recover=0.5,audit.seal=0,supervision.sweep=0,ratings.sweep=0,integrations.deliver=0,wechat.process=0",
    "RIGHTSCARE_SCHEDULER_TICK_SECONDS": "0.2",
    "RIGHTSCARE_WORKER_POLL_SECONDS": "0.2",
    "RIGHTSCARE_WORKER_HEARTBEAT_SECONDS": "0.5",
    "RIGHTSCARE_WORKER_STALE_SECONDS": "2",
    "RIGHTSCARE_OUTBOX_LEASE_SECONDS": "2",
    "RIGHTSCARE_JOB_LEASE_SECONDS": "2",
    "RIGHTSCARE_OUTBOX_RETRY_BASE_SECONDS": "0.2",
    "RIGHTSCARE_OUTBOX_RETRY_CAP_SECONDS": "0.5",
    "RIGHTSCARE_OUTBOX_MAX_ATTEMPTS": "3",
}


def _queue(channel: str, count: int) -> list[Message]:
    with transaction.atomic():
        return [
            queue_message(event="org.role_granted", to_address=f"person{n}@example.org", channel=channel, language="en", context={"role": "处理人"})
            for n in range(count)
        ]


def _statuses() -> Counter[str]:
    return Counter(Message.objects.values_list("status", flat=True))


def test_a_worker_killed_after_the_gateway_accepted_loses_nothing_and_sends_one_duplicate(tmp_path, sender_file):
    messages = _queue("test_file", 5)
    barrier_file = tmp_path / "barrier"
    log = tmp_path / "workers.log"
    with processes.processes(log) as group:
        first = group.start(
            ["worker"],
            env=processes.child_env(
                **FAST,
                RIGHTSCARE_TEST_SENDER_FILE=str(sender_file),
                RIGHTSCARE_TEST_BARRIER="notifications.send.accepted",
                RIGHTSCARE_TEST_BARRIER_FILE=str(barrier_file),
            ),
        )
        processes.wait_for(lambda: processes.barrier_reached(barrier_file), timeout=60, what="the worker to reach notifications.send.accepted", log=log)
        assert processes.barrier_reached(barrier_file) == ["notifications.send.accepted", str(first.pid)]
        dead_worker = WorkerHeartbeat.objects.get().worker_id

        assert processes.kill(first) == -signal.SIGKILL

        # The gateway has the first message; the database still says "sending" for the whole batch.
        [accepted] = delivered(sender_file)
        assert _statuses() == Counter({"sending": 5})
        assert Message.objects.get(key=accepted).attempts == 1
        [abandoned_task] = DBTaskResult.objects.filter(status="RUNNING")
        assert abandoned_task.worker_ids == [dead_worker]

        second = group.start(["worker"], env=processes.child_env(**FAST, RIGHTSCARE_TEST_SENDER_FILE=str(sender_file)))
        processes.wait_for(lambda: _statuses() == Counter({"sent": 5}), timeout=60, what="every message to be sent", log=log)
        # The task the dead worker was running is put back in the queue and run by the new worker.
        processes.wait_for(
            lambda: DBTaskResult.objects.get(pk=abandoned_task.pk).status == "SUCCESSFUL", timeout=60, what="the abandoned task to be re-run", log=log
        )

        assert processes.stop(second) == 0

    counts = Counter(delivered(sender_file))
    assert counts == {str(m.key): (2 if str(m.key) == accepted else 1) for m in messages}
    # Every message was claimed by the dead worker (one attempt) and again after its lease lapsed.
    assert list(Message.objects.values_list("attempts", "claimed_by", "lease_until")) == [(2, "", None)] * 5
    abandoned_task.refresh_from_db()
    assert len(abandoned_task.worker_ids) == 2
    assert abandoned_task.worker_ids[0] == dead_worker
    heartbeats = {h.worker_id: h for h in WorkerHeartbeat.objects.all()}
    assert heartbeats[dead_worker].stopped_at is None  # killed: it never said goodbye
    assert heartbeats[abandoned_task.worker_ids[1]].stopped_at is not None  # stopped with SIGTERM


def test_a_failing_gateway_is_retried_across_a_killed_worker_until_the_message_fails_visibly(tmp_path, sender_file):
    [message] = _queue("test_failing", 1)
    barrier_file = tmp_path / "barrier"
    log = tmp_path / "workers.log"
    with processes.processes(log) as group:
        first = group.start(
            ["worker"],
            env=processes.child_env(
                **FAST,
                RIGHTSCARE_TEST_SENDER_FILE=str(sender_file),
                RIGHTSCARE_TEST_BARRIER="notifications.send.rejected",
                RIGHTSCARE_TEST_BARRIER_FILE=str(barrier_file),
            ),
        )
        processes.wait_for(lambda: processes.barrier_reached(barrier_file), timeout=60, what="the worker to reach notifications.send.rejected", log=log)
        assert processes.barrier_reached(barrier_file)[0] == "notifications.send.rejected"
        processes.kill(first)
        # Killed between the refusal and recording it: still "sending", one attempt counted.
        message.refresh_from_db()
        assert (message.status, message.attempts, delivered(sender_file)) == ("sending", 1, [str(message.key)])

        second = group.start(["worker"], env=processes.child_env(**FAST, RIGHTSCARE_TEST_SENDER_FILE=str(sender_file)))
        processes.wait_for(lambda: Message.objects.get(pk=message.pk).status == "failed", timeout=60, what="the message to fail", log=log)
        assert processes.stop(second) == 0

    message.refresh_from_db()
    assert (message.status, message.attempts, message.sent_at) == ("failed", 3, None)
    assert message.last_error == "DeliveryError: the test gateway refused the message"
    assert delivered(sender_file) == [str(message.key)] * 3
    entry = AuditEntry.objects.get(event="notifications.message_failed")
    assert (entry.object_id, entry.changes) == (str(message.pk), {"channel": "test_failing", "attempts": 3})
