"""The scheduler: job intervals, once-per-interval triggering across workers, the tick."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from rightscare.core import scheduler
from rightscare.core.models import PeriodicJob, WorkerHeartbeat
from rightscare.core.scheduler import Job

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


@task()
def noop_job() -> int:
    """A periodic job for these tests."""
    return 1


@task()
def other_job() -> int:
    """Another one."""
    return 2


NOOP = Job("test.noop", "tests.core.test_scheduler.noop_job", every=10)
OTHER = Job("test.other", "tests.core.test_scheduler.other_job", every=60)
BROKEN = Job("test.broken", "tests.core.test_scheduler.no_such_task", every=10)
JOBS = (NOOP, OTHER)


def _enqueued(job: Job) -> int:
    return DBTaskResult.objects.filter(task_path=job.task_path).count()


# --- configuration ------------------------------------------------------------------------


def test_intervals_are_parsed_from_name_equals_seconds():
    assert scheduler.parse_intervals(" audit.seal=60, notifications.send=2.5 ,,") == {"audit.seal": 60.0, "notifications.send": 2.5}
    assert scheduler.parse_intervals("") == {}


@pytest.mark.parametrize("text", ["audit.seal", "=5", "audit.seal=soon", "audit.seal=-1", "audit.seal=nan"])
def test_malformed_intervals_are_refused(text):
    with pytest.raises(ValueError, match="RIGHTSCARE_JOB_INTERVALS"):
        scheduler.parse_intervals(text)


def test_the_configured_interval_wins_over_the_default(settings):
    settings.JOB_INTERVALS = "test.noop=2"
    assert NOOP.interval == timedelta(seconds=2)
    assert OTHER.interval == timedelta(seconds=60)


def test_an_interval_of_zero_switches_the_job_off(settings):
    settings.JOB_INTERVALS = "test.noop=0"
    assert NOOP.interval is None


def test_a_job_may_take_its_default_from_its_apps_setting(settings):
    settings.TEST_JOB_SECONDS = 7
    job = Job("test.set", "tests.core.test_scheduler.noop_job", every=60, setting="TEST_JOB_SECONDS")
    assert job.interval == timedelta(seconds=7)
    settings.JOB_INTERVALS = "test.set=3"
    assert job.interval == timedelta(seconds=3)


def test_the_registry_has_the_platform_jobs():
    assert {job.name: job.task_path for job in scheduler.JOBS} == {
        "notifications.send": "rightscare.notifications.tasks.send_due_messages",
        "tasks.recover": "rightscare.core.tasks.recover_abandoned_tasks",
        "audit.seal": "rightscare.audit.tasks.seal_audit_log",
        "supervision.sweep": "rightscare.supervision.tasks.sweep_deadlines",
        "ratings.sweep": "rightscare.ratings.tasks.sweep_ratings",
        "integrations.deliver": "rightscare.integrations.tasks.send_due_deliveries",
        "wechat.process": "rightscare.wechat.tasks.process_inbound_messages",
    }
    assert scheduler.job_named("audit.seal").every == 60


# --- rows ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rows_are_created_due_at_once_and_kept():
    scheduler.ensure_job_rows(JOBS, now=NOW)
    PeriodicJob.objects.filter(name="test.noop").update(next_run_at=NOW + timedelta(seconds=5))
    scheduler.ensure_job_rows(JOBS, now=NOW)

    assert dict(PeriodicJob.objects.values_list("name", "next_run_at")) == {"test.noop": NOW + timedelta(seconds=5), "test.other": NOW}


@pytest.mark.django_db
def test_a_shortened_interval_pulls_the_next_run_in(settings):
    PeriodicJob.objects.create(name="test.noop", next_run_at=NOW + timedelta(hours=1))
    settings.JOB_INTERVALS = "test.noop=5"

    scheduler.ensure_job_rows((NOOP,), now=NOW)

    assert PeriodicJob.objects.get(name="test.noop").next_run_at == NOW + timedelta(seconds=5)


# --- triggering --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_due_job_is_triggered_once_however_many_workers_ask():
    scheduler.ensure_job_rows(JOBS, now=NOW)
    with time_machine.travel(NOW, tick=False):
        first = scheduler.run_due_jobs(worker_id="worker-a", jobs=JOBS)
        second = scheduler.run_due_jobs(worker_id="worker-b", jobs=JOBS)

    assert sorted(first) == ["test.noop", "test.other"]
    assert second == []
    assert (_enqueued(NOOP), _enqueued(OTHER)) == (1, 1)
    rows = {row.name: row for row in PeriodicJob.objects.all()}
    assert rows["test.noop"].next_run_at == NOW + timedelta(seconds=10)
    assert rows["test.other"].next_run_at == NOW + timedelta(seconds=60)
    assert {(row.claimed_by, row.lease_until, row.last_triggered_at) for row in rows.values()} == {("", None, NOW)}


@pytest.mark.django_db
def test_each_job_runs_once_per_interval():
    scheduler.ensure_job_rows(JOBS, now=NOW)
    triggered = []
    for second in range(0, 61):
        with time_machine.travel(NOW + timedelta(seconds=second), tick=False):
            for worker in ("a", "b", "c"):
                triggered += scheduler.run_due_jobs(worker_id=worker, jobs=JOBS)
        DBTaskResult.objects.filter(status="READY").update(status="SUCCESSFUL")  # a worker ran them

    # Seconds 0, 10, …, 60 for the 10-second job; 0 and 60 for the minute job.
    assert triggered.count("test.noop") == 7
    assert triggered.count("test.other") == 2
    assert (_enqueued(NOOP), _enqueued(OTHER)) == (7, 2)


@pytest.mark.django_db
def test_a_run_still_waiting_in_the_queue_is_not_enqueued_again():
    scheduler.ensure_job_rows((NOOP,), now=NOW)
    noop_job.enqueue()  # waiting: the workers are busy

    with time_machine.travel(NOW, tick=False):
        assert scheduler.run_due_jobs(worker_id="w", jobs=(NOOP,)) == []
    assert _enqueued(NOOP) == 1
    assert PeriodicJob.objects.get(name="test.noop").next_run_at == NOW + timedelta(seconds=10)

    DBTaskResult.objects.update(status="RUNNING")  # started: the next trigger counts again
    with time_machine.travel(NOW + timedelta(seconds=10), tick=False):
        assert scheduler.run_due_jobs(worker_id="w", jobs=(NOOP,)) == ["test.noop"]
    assert _enqueued(NOOP) == 2


@pytest.mark.django_db
def test_a_job_claimed_by_a_worker_that_died_is_taken_over_when_the_lease_lapses(settings):
    settings.JOB_LEASE_SECONDS = 30
    scheduler.ensure_job_rows((NOOP,), now=NOW)
    # The dead worker claimed the row and never enqueued the task nor moved next_run_at.
    PeriodicJob.objects.filter(name="test.noop").update(claimed_by="dead/1", lease_until=NOW + timedelta(seconds=30))

    with time_machine.travel(NOW + timedelta(seconds=29), tick=False):
        assert scheduler.run_due_jobs(worker_id="alive", jobs=(NOOP,)) == []
    with time_machine.travel(NOW + timedelta(seconds=30), tick=False):
        assert scheduler.run_due_jobs(worker_id="alive", jobs=(NOOP,)) == ["test.noop"]
    assert _enqueued(NOOP) == 1


@pytest.mark.django_db
def test_a_switched_off_job_is_not_triggered(settings):
    settings.JOB_INTERVALS = "test.noop=0"
    scheduler.ensure_job_rows(JOBS, now=NOW)
    with time_machine.travel(NOW, tick=False):
        assert scheduler.run_due_jobs(worker_id="w", jobs=JOBS) == ["test.other"]
    assert _enqueued(NOOP) == 0


@pytest.mark.django_db
def test_a_job_that_cannot_be_triggered_is_logged_and_tried_one_interval_later(caplog):
    scheduler.ensure_job_rows((BROKEN, NOOP), now=NOW)
    with time_machine.travel(NOW, tick=False):
        triggered = scheduler.run_due_jobs(worker_id="w", jobs=(BROKEN, NOOP))

    assert triggered == ["test.noop"]
    assert "could not trigger the periodic job test.broken" in caplog.text
    broken = PeriodicJob.objects.get(name="test.broken")
    assert (broken.next_run_at, broken.claimed_by) == (NOW + timedelta(seconds=10), "")


# --- the loop ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tick_beats_the_heartbeat_and_triggers_due_jobs(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 5
    with time_machine.travel(NOW, tick=False):
        loop = scheduler.Scheduler(worker_id="host-1-abcd", jobs=JOBS)
        assert sorted(loop.tick()) == ["test.noop", "test.other"]
    heartbeat = WorkerHeartbeat.objects.get()
    assert (heartbeat.worker_id, heartbeat.started_at, heartbeat.last_seen_at, heartbeat.stopped_at) == ("host-1-abcd", NOW, NOW, None)

    with time_machine.travel(NOW + timedelta(seconds=4), tick=False):
        assert loop.tick() == []
    assert WorkerHeartbeat.objects.get().last_seen_at == NOW
    DBTaskResult.objects.update(status="SUCCESSFUL")
    with time_machine.travel(NOW + timedelta(seconds=10), tick=False):
        assert loop.tick() == ["test.noop"]
    assert WorkerHeartbeat.objects.get().last_seen_at == NOW + timedelta(seconds=10)


@pytest.mark.django_db
def test_a_failing_tick_is_logged_and_does_not_raise(caplog, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database restarting")

    monkeypatch.setattr(scheduler, "run_due_jobs", broken)
    loop = scheduler.Scheduler(worker_id="w", jobs=JOBS)

    assert loop.tick() == []
    assert "scheduler tick failed" in caplog.text


@pytest.mark.django_db
def test_the_loop_ends_when_stopped(monkeypatch):
    loop = scheduler.Scheduler(worker_id="w", jobs=JOBS)
    ticks = []

    def tick() -> list[str]:
        ticks.append(1)
        loop.stop()
        return []

    monkeypatch.setattr(loop, "tick", tick)
    loop.run()

    assert ticks == [1]
    assert loop.stopping


def test_the_worker_refuses_to_start_with_malformed_intervals(settings):
    settings.JOB_INTERVALS = "audit.seal=soon"
    with pytest.raises(CommandError, match="RIGHTSCARE_JOB_INTERVALS"):
        call_command("rightscare_worker", stdout=io.StringIO())


def test_the_worker_is_not_needed_with_the_immediate_backend(settings):
    settings.TASKS_BACKEND = "immediate"
    out = io.StringIO()
    call_command("rightscare_worker", stdout=out)
    assert out.getvalue() == "The task backend runs tasks immediately; no worker is needed.\n"
