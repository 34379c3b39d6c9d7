"""``rightscare worker`` as a real process: heartbeat, clean stop, and a sealer killed mid-seal."""

from __future__ import annotations

import itertools
import signal

import pytest
from django_tasks_db.models import DBTaskResult

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.core.models import PeriodicJob, WorkerHeartbeat
from tests import processes

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {
    "RIGHTSCARE_JOB_INTERVALS": "audit.seal=0.5,notifications.send=0,tasks.recover=0.5,supervision.sweep=0,ratings.sweep=0,integrations.deliver=0,wechat.process=0",
    "RIGHTSCARE_SCHEDULER_TICK_SECONDS": "0.2",
    "RIGHTSCARE_WORKER_POLL_SECONDS": "0.2",
    "RIGHTSCARE_WORKER_HEARTBEAT_SECONDS": "0.5",
    "RIGHTSCARE_WORKER_STALE_SECONDS": "2",
    "RIGHTSCARE_JOB_LEASE_SECONDS": "2",
}


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_worker_beats_its_heartbeat_and_stops_cleanly(client, tmp_path, stop_signal):
    log = tmp_path / "worker.log"
    assert client.get("/healthz/worker").status_code == 503
    with processes.processes(log) as group:
        worker = group.start(["worker"], env=processes.child_env(**FAST))
        heartbeat = processes.wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=60, what="the first heartbeat", log=log)
        assert heartbeat.pid == worker.pid
        assert client.get("/healthz/worker").status_code == 200
        processes.wait_for(lambda: PeriodicJob.objects.filter(last_triggered_at__isnull=False).count() == 2, timeout=60, what="the jobs to run", log=log)

        worker.send_signal(stop_signal)
        assert worker.wait(timeout=30) == 0

    heartbeat.refresh_from_db()
    assert heartbeat.stopped_at is not None
    assert client.get("/healthz/worker").status_code == 503
    assert sorted(PeriodicJob.objects.values_list("name", flat=True)) == [
        "audit.seal",
        "integrations.deliver",
        "notifications.send",
        "ratings.sweep",
        "supervision.sweep",
        "tasks.recover",
        "wechat.process",
    ]
    assert PeriodicJob.objects.get(name="notifications.send").last_triggered_at is None  # switched off
    assert f"worker {heartbeat.worker_id} stopped" in group.output()


def test_two_workers_trigger_each_job_once_per_interval(tmp_path):
    log = tmp_path / "workers.log"
    env = processes.child_env(
        **{
            **FAST,
            "RIGHTSCARE_JOB_INTERVALS": "tasks.recover=1.5,audit.seal=0,notifications.send=0,supervision.sweep=0,ratings.sweep=0,integrations.deliver=0,wechat.process=0",
        }
    )
    with processes.processes(log) as group:
        workers = [group.start(["worker"], env=env) for _ in range(2)]
        processes.wait_for(lambda: WorkerHeartbeat.objects.count() == 2, timeout=60, what="two heartbeats", log=log)
        job = processes.wait_for(
            lambda: PeriodicJob.objects.filter(name="tasks.recover", last_triggered_at__isnull=False).first(), timeout=60, what="a trigger"
        )
        first_trigger = job.last_triggered_at
        processes.wait_for(
            lambda: PeriodicJob.objects.get(name="tasks.recover").last_triggered_at != first_trigger, timeout=60, what="the second trigger", log=log
        )
        for worker in workers:
            assert processes.stop(worker) == 0

    # However many ticks both schedulers made in between, one task per interval.
    triggers = list(
        DBTaskResult.objects.filter(task_path="rightscare.core.tasks.recover_abandoned_tasks").order_by("enqueued_at").values_list("enqueued_at", flat=True)
    )
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(triggers)]
    assert len(triggers) >= 2
    assert all(gap >= 1.5 for gap in gaps), gaps


def test_a_worker_killed_mid_seal_loses_no_audit_entry(tmp_path):
    entries = [audit.record(actor=None, action=AuditAction.OTHER, event=f"test.entry{n}", object_type="test", object_id=n) for n in range(6)]
    barrier_file = tmp_path / "barrier"
    log = tmp_path / "workers.log"
    with processes.processes(log) as group:
        first = group.start(
            ["worker"], env=processes.child_env(**FAST, RIGHTSCARE_TEST_BARRIER="audit.seal.claimed", RIGHTSCARE_TEST_BARRIER_FILE=str(barrier_file))
        )
        processes.wait_for(lambda: processes.barrier_reached(barrier_file), timeout=60, what="the worker to reach audit.seal.claimed", log=log)
        assert processes.barrier_reached(barrier_file) == ["audit.seal.claimed", str(first.pid)]
        assert processes.kill(first) == -signal.SIGKILL
        # The sealer's transaction died with it: nothing half-sealed.
        assert AuditEntry.objects.unsealed().count() == len(entries)

        second = group.start(["worker"], env=processes.child_env(**FAST))
        processes.wait_for(lambda: not AuditEntry.objects.unsealed().exists(), timeout=60, what="every entry to be sealed", log=log)
        assert processes.stop(second) == 0

    chain_numbers = list(AuditEntry.objects.order_by("chain_no").values_list("chain_no", flat=True))
    assert chain_numbers == list(range(1, len(chain_numbers) + 1))
    assert set(AuditEntry.objects.values_list("pk", flat=True)) >= {entry.pk for entry in entries}
    verified = processes.run(["audit-verify"], env=processes.child_env())
    assert verified.returncode == 0, verified.stdout + verified.stderr
