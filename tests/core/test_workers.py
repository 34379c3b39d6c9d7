"""Heartbeats, ``rightscare check`` and ``/healthz/worker`` on them, and tasks left RUNNING by dead workers."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tasks_db.models import DBTaskResult

from rightscare.core import checks, workers
from rightscare.core.checks import Finding
from rightscare.core.models import WorkerHeartbeat
from rightscare.core.tasks import recover_abandoned_tasks

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def _heartbeat(worker_id: str, *, seen: datetime, stopped: datetime | None = None) -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(
        worker_id=worker_id, hostname="host", pid=1, started_at=seen - timedelta(hours=1), last_seen_at=seen, stopped_at=stopped
    )


# --- heartbeats --------------------------------------------------------------------------------


def test_the_first_beat_creates_the_row_and_later_ones_move_it_on():
    workers.beat(worker_id="w-1", started_at=NOW, now=NOW)
    workers.beat(worker_id="w-1", started_at=NOW, now=NOW + timedelta(seconds=5))

    row = WorkerHeartbeat.objects.get()
    assert (row.worker_id, row.started_at, row.last_seen_at, row.stopped_at) == ("w-1", NOW, NOW + timedelta(seconds=5), None)
    assert row.pid > 0
    assert row.hostname


def test_worker_ids_name_the_host_and_process_and_never_repeat():
    first, second = workers.new_worker_id(), workers.new_worker_id()
    assert first != second
    assert len(first) < 64  # db_worker refuses longer ids


def test_health_counts_fresh_workers_that_have_not_stopped(settings):
    settings.WORKER_STALE_SECONDS = 60
    _heartbeat("fresh", seen=NOW - timedelta(seconds=59))
    _heartbeat("stale", seen=NOW - timedelta(seconds=61))
    _heartbeat("stopped", seen=NOW, stopped=NOW)

    health = workers.worker_health(now=NOW)

    assert (health.needed, health.alive, health.ok) == (True, 1, True)


def test_no_fresh_worker_is_unhealthy(settings):
    _heartbeat("stale", seen=NOW - timedelta(minutes=5))
    assert workers.worker_health(now=NOW).ok is False


def test_the_immediate_backend_needs_no_worker(settings):
    settings.TASKS_BACKEND = "immediate"
    health = workers.worker_health(now=NOW)
    assert (health.needed, health.ok) == (False, True)


# --- rightscare check ------------------------------------------------------------------------------


def test_check_reports_an_error_without_a_fresh_worker(settings):
    settings.WORKER_STALE_SECONDS = 60
    assert checks.check_worker() == [
        Finding("error", "no worker heartbeat within 60 s: start `rightscare worker` (messages, audit sealing and other periodic jobs wait)")
    ]


def test_check_reports_the_live_workers():
    workers.beat(worker_id="w-1", started_at=NOW)
    assert checks.check_worker() == [Finding("ok", "1 worker(s) alive (heartbeat within 60 s)")]


def test_check_only_warns_with_the_immediate_backend(settings):
    settings.TASKS_BACKEND = "immediate"
    [finding] = checks.check_worker()
    assert finding.level == "warning"
    assert "RIGHTSCARE_TASKS_BACKEND=immediate" in finding.message


def test_check_reports_malformed_intervals(settings):
    settings.JOB_INTERVALS = "audit.seal=soon"
    workers.beat(worker_id="w-1", started_at=NOW)
    assert [f.level for f in checks.check_worker()] == ["error", "ok"]


def test_the_check_command_exits_non_zero_without_a_worker(settings):
    settings.SECRET_KEY_CONFIGURED = True
    out = io.StringIO()
    with pytest.raises(CommandError, match="the configuration has errors"):
        call_command("rightscare_check", stdout=out, stderr=io.StringIO())
    assert "[error] no worker heartbeat within 60 s" in out.getvalue()


def test_the_check_command_reports_a_live_worker(settings):
    settings.SECRET_KEY_CONFIGURED = True
    workers.beat(worker_id="w-1", started_at=NOW)
    out = io.StringIO()
    with contextlib.suppress(CommandError):  # other checks (keys of other parts) may fail in a test configuration
        call_command("rightscare_check", stdout=out, stderr=io.StringIO())
    assert "[ok] 1 worker(s) alive (heartbeat within 60 s)" in out.getvalue()
    assert "no worker heartbeat" not in out.getvalue()


# --- /healthz/worker -----------------------------------------------------------------------------------


def test_healthz_worker_is_503_without_a_worker(client):
    response = client.get("/healthz/worker")
    assert (response.status_code, response.content, response["Content-Type"]) == (503, b"unavailable\n", "text/plain")
    assert "no-cache" in response["Cache-Control"]


def test_healthz_worker_is_200_with_a_fresh_worker_and_says_nothing_more(client):
    workers.beat(worker_id="w-1", started_at=NOW)
    response = client.get("/healthz/worker")
    assert (response.status_code, response.content) == (200, b"ok\n")


def test_healthz_worker_is_503_when_the_only_worker_went_stale(client, settings):
    settings.WORKER_STALE_SECONDS = 60
    _heartbeat("w-1", seen=datetime.now(tz=UTC) - timedelta(seconds=61))
    assert client.get("/healthz/worker").status_code == 503


def test_healthz_worker_is_200_with_the_immediate_backend(client, settings):
    settings.TASKS_BACKEND = "immediate"
    assert client.get("/healthz/worker").status_code == 200


def test_plain_healthz_stays_a_database_check(client):
    assert client.get("/healthz").status_code == 200


def test_healthz_worker_refuses_other_methods(client):
    assert client.post("/healthz/worker").status_code == 405


# --- tasks left RUNNING -------------------------------------------------------------------------------


def _running(*, worker_ids: list[str], started: datetime, task_path: str = "") -> DBTaskResult:
    result = recover_abandoned_tasks.enqueue()
    row = DBTaskResult.objects.get(pk=result.id)
    changes = {"status": "RUNNING", "started_at": started, "worker_ids": worker_ids}
    if task_path:
        changes["task_path"] = task_path
    DBTaskResult.objects.filter(pk=row.pk).update(**changes)
    return DBTaskResult.objects.get(pk=row.pk)


def _state(row: DBTaskResult) -> tuple[str, str]:
    row.refresh_from_db()
    return row.status, row.exception_class_path


@pytest.fixture
def timing(settings):
    settings.WORKER_STALE_SECONDS = 60
    settings.TASK_TIMEOUT_SECONDS = 3600


def test_a_task_of_a_dead_worker_goes_back_to_the_queue(timing):
    _heartbeat("dead", seen=NOW - timedelta(minutes=5))
    row = _running(worker_ids=["dead"], started=NOW - timedelta(minutes=6))

    assert workers.recover_abandoned_tasks(now=NOW) == [str(row.pk)]

    row.refresh_from_db()
    assert (row.status, row.started_at, row.worker_ids) == ("READY", None, ["dead"])


def test_a_task_tried_by_three_workers_is_marked_failed(timing):
    for name in ("w1", "w2", "w3"):
        _heartbeat(name, seen=NOW - timedelta(minutes=5))
    row = _running(worker_ids=["w1", "w2", "w3"], started=NOW - timedelta(minutes=6))

    workers.recover_abandoned_tasks(now=NOW)

    row.refresh_from_db()
    assert (row.status, row.exception_class_path, row.finished_at) == ("FAILED", "rightscare.core.workers.WorkerLost", NOW)
    assert "worker w3 stopped while running this task" in row.traceback


def test_a_task_of_another_package_is_only_marked_failed(timing):
    _heartbeat("dead", seen=NOW - timedelta(minutes=5))
    row = _running(worker_ids=["dead"], started=NOW - timedelta(minutes=6), task_path="somebody.else.task")

    workers.recover_abandoned_tasks(now=NOW)

    assert _state(row) == ("FAILED", "rightscare.core.workers.WorkerLost")


def test_a_task_of_a_live_worker_is_left_alone(timing):
    _heartbeat("alive", seen=NOW - timedelta(seconds=3))
    row = _running(worker_ids=["alive"], started=NOW - timedelta(minutes=30))

    assert workers.recover_abandoned_tasks(now=NOW) == []
    assert _state(row) == ("RUNNING", "")


def test_a_task_just_started_is_left_alone_even_if_its_worker_looks_stale(timing):
    _heartbeat("dead", seen=NOW - timedelta(minutes=5))
    row = _running(worker_ids=["dead"], started=NOW - timedelta(seconds=30))

    assert workers.recover_abandoned_tasks(now=NOW) == []
    assert _state(row) == ("RUNNING", "")


def test_a_task_of_an_unknown_worker_is_recovered_only_after_the_timeout(timing):
    young = _running(worker_ids=["db_worker-without-heartbeat"], started=NOW - timedelta(minutes=59))
    old = _running(worker_ids=["db_worker-without-heartbeat"], started=NOW - timedelta(minutes=61))

    assert workers.recover_abandoned_tasks(now=NOW) == [str(old.pk)]
    assert _state(young) == ("RUNNING", "")
    assert _state(old) == ("READY", "")


def test_finished_and_queued_tasks_are_not_touched(timing):
    _heartbeat("dead", seen=NOW - timedelta(minutes=5))
    row = _running(worker_ids=["dead"], started=NOW - timedelta(minutes=6))
    DBTaskResult.objects.filter(pk=row.pk).update(status="SUCCESSFUL")

    assert workers.recover_abandoned_tasks(now=NOW) == []
    assert _state(row) == ("SUCCESSFUL", "")


def test_nothing_to_recover_with_the_rq_backend(settings, timing):
    _heartbeat("dead", seen=NOW - timedelta(minutes=5))
    row = _running(worker_ids=["dead"], started=NOW - timedelta(minutes=6))
    settings.TASKS_BACKEND = "rq"

    assert workers.recover_abandoned_tasks(now=NOW) == []
    assert _state(row) == ("RUNNING", "")


def test_heartbeats_of_workers_gone_a_week_are_deleted(timing):
    _heartbeat("old", seen=NOW - timedelta(days=7, seconds=1))
    _heartbeat("recent", seen=NOW - timedelta(days=6))

    workers.recover_abandoned_tasks(now=NOW)

    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["recent"]


def test_the_recovery_task_runs_the_sweep(timing):
    _heartbeat("dead", seen=datetime.now(tz=UTC) - timedelta(minutes=5))
    row = _running(worker_ids=["dead"], started=datetime.now(tz=UTC) - timedelta(minutes=6))

    assert recover_abandoned_tasks.call() == 1
    assert _state(row) == ("READY", "")


def test_time_is_read_from_the_clock_by_default(timing):
    _heartbeat("dead", seen=NOW - timedelta(minutes=5))
    row = _running(worker_ids=["dead"], started=NOW - timedelta(minutes=6))
    with time_machine.travel(NOW, tick=False):
        assert workers.recover_abandoned_tasks() == [str(row.pk)]
