"""A worker killed with SIGKILL mid-sweep loses nothing: the next sweep does the work exactly once.

A real ``rightscare worker`` runs the scheduler's ``supervision.sweep`` job against the
committed test database, stops at the test-only barrier right after it claimed the due
clocks (asserting it got there), and is killed. Its transaction dies with it; a second
worker then sends the one automatic reminder.
"""

from __future__ import annotations

import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from rightscare.audit.models import AuditEntry
from rightscare.cases.models import CaseEvent, Category
from rightscare.cases.taxonomy import seed_categories
from rightscare.notifications.models import Message
from rightscare.supervision.models import Chase, ClockKind, WorkOrderClock
from rightscare.supervision.sweep import CLAIMED_BARRIER, sweep
from tests import processes
from tests.supervision.chasing_helpers import dispatched_order

pytestmark = [pytest.mark.django_db(transaction=True)]

FAST = {
    "RIGHTSCARE_JOB_INTERVALS": "supervision.sweep=0.5,notifications.send=0,tasks.recover=0,audit.seal=0,ratings.sweep=0,integrations.deliver=0,wechat.process=0",
    "RIGHTSCARE_SCHEDULER_TICK_SECONDS": "0.2",
    "RIGHTSCARE_WORKER_POLL_SECONDS": "0.2",
    "RIGHTSCARE_WORKER_HEARTBEAT_SECONDS": "0.5",
    "RIGHTSCARE_JOB_LEASE_SECONDS": "2",
}


def written() -> tuple[int, int, int, int]:
    """Chases, reminder messages, chase timeline events and chase audit entries."""
    return (
        Chase.objects.count(),
        Message.objects.filter(event="supervision.deadline_missed").count(),
        CaseEvent.objects.filter(data__supervision="chase").count(),
        AuditEntry.objects.filter(event="supervision.reminder").count(),
    )


def test_a_worker_killed_after_claiming_loses_nothing_and_the_next_sweeps_once(org, personas, tmp_path):
    # A transactional test before this one may have flushed the taxonomy its migration seeded.
    seed_categories(Category)
    order = dispatched_order(org, personas)
    # The worker runs in real time: put the sign-for deadline a minute in the past.
    past = timezone.now() - timedelta(minutes=1)
    WorkOrderClock.objects.filter(work_order=order, kind=ClockKind.SIGN_FOR).update(
        half_at=past - timedelta(hours=2), late_at=past - timedelta(hours=1), due_at=past, next_check_at=past - timedelta(hours=2)
    )
    barrier_file = tmp_path / "barrier"
    log = tmp_path / "workers.log"
    with processes.processes(log) as group:
        first = group.start(
            ["worker"], env=processes.child_env(**FAST, RIGHTSCARE_TEST_BARRIER=CLAIMED_BARRIER, RIGHTSCARE_TEST_BARRIER_FILE=str(barrier_file))
        )
        processes.wait_for(lambda: processes.barrier_reached(barrier_file), timeout=60, what=f"the worker to reach {CLAIMED_BARRIER}", log=log)
        assert processes.barrier_reached(barrier_file) == [CLAIMED_BARRIER, str(first.pid)]
        assert processes.kill(first) == -signal.SIGKILL

        # The claim's transaction died with the worker: nothing was written, the clock is still due.
        assert written() == (0, 0, 0, 0)
        sign_for = WorkOrderClock.objects.get(work_order=order, kind=ClockKind.SIGN_FOR)
        assert (sign_for.due_notified_at, sign_for.warned_half_at, sign_for.breached, sign_for.next_check_at) == (None, None, False, past - timedelta(hours=2))

        second = group.start(["worker"], env=processes.child_env(**FAST))
        processes.wait_for(lambda: written() == (1, 1, 1, 1), timeout=60, what="the reminder to be sent", log=log)
        assert processes.stop(second) == 0

    sign_for.refresh_from_db()
    assert (sign_for.due_notified_at is not None, sign_for.breached, sign_for.next_check_at) == (True, True, None)
    assert list(Chase.objects.values_list("level", "clock_id", "clock_due_at", "automatic")) == [("reminder", sign_for.pk, past, True)]
    assert list(Message.objects.filter(event="supervision.deadline_missed").values_list("to_user__username", flat=True)) == ["handler"]
    # However often it runs now, nothing is sent twice.
    assert sweep().reminders == 0
    assert written() == (1, 1, 1, 1)
