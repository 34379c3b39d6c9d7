"""The periodic jobs and the scheduler loop that ``rightscare worker`` runs beside its task worker.

django-tasks has no periodic schedule, so the worker triggers the sweeps itself: every
tick the loop writes the worker's heartbeat and claims the jobs that are due. Each job
has one :class:`~rightscare.core.models.PeriodicJob` row shared by all workers; a worker
claims a due row with a lease (:mod:`rightscare.core.leasing`), enqueues the job's task
outside that transaction and then moves ``next_run_at`` one interval on. However many
workers run, each job is triggered once per interval. A worker that dies between the
claim and the enqueue only delays the job: the lease lapses and another worker takes it.

The jobs themselves are tasks that sweep durable state (outbox rows, unsealed audit
entries), so a trigger that is late, or that comes twice, does no harm.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django.utils.module_loading import import_string

from rightscare.core import leasing, workers
from rightscare.core.models import PeriodicJob

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A task the scheduler triggers every ``every`` seconds (overridable by name in settings)."""

    name: str
    task_path: str
    every: float
    #: A setting that may hold the app's own default interval (overridden by RIGHTSCARE_JOB_INTERVALS).
    setting: str = ""

    @property
    def interval(self) -> timedelta | None:
        """The configured interval, or None when the job is switched off (an interval of 0)."""
        default = float(getattr(settings, self.setting, self.every)) if self.setting else self.every
        seconds = configured_intervals().get(self.name, default)
        return timedelta(seconds=seconds) if seconds > 0 else None

    def trigger(self) -> bool:
        """Enqueue the job's task (it takes no arguments: it sweeps whatever is due).

        With the database backend a run still waiting in the queue is enough: while the
        workers are busy (or one is stuck), triggers do not pile up behind it. Returns
        whether a task was enqueued.
        """
        task = import_string(self.task_path)
        if settings.TASKS_BACKEND == "db" and _waiting_in_queue(task.module_path):
            return False
        task.enqueue()
        return True


def _waiting_in_queue(task_path: str) -> bool:
    from django_tasks_db.models import DBTaskResult  # only installed with the database backend

    return DBTaskResult.objects.filter(status="READY", task_path=task_path).exists()


#: Every periodic job, one line each. ``RIGHTSCARE_JOB_INTERVALS="name=seconds,…"`` overrides
#: the intervals (0 switches a job off).
JOBS: tuple[Job, ...] = (
    Job("notifications.send", "rightscare.notifications.tasks.send_due_messages", every=5),
    Job("tasks.recover", "rightscare.core.tasks.recover_abandoned_tasks", every=60),
    Job("audit.seal", "rightscare.audit.tasks.seal_audit_log", every=60, setting="AUDIT_SEAL_INTERVAL_SECONDS"),
    Job("supervision.sweep", "rightscare.supervision.tasks.sweep_deadlines", every=60, setting="SUPERVISION_SWEEP_SECONDS"),
    Job("ratings.sweep", "rightscare.ratings.tasks.sweep_ratings", every=300, setting="RATINGS_SWEEP_SECONDS"),
    Job("integrations.deliver", "rightscare.integrations.tasks.send_due_deliveries", every=10),
    Job("wechat.process", "rightscare.wechat.tasks.process_inbound_messages", every=60),
)


def job_named(name: str) -> Job:
    """The registered job called ``name`` (KeyError when there is none)."""
    return {job.name: job for job in JOBS}[name]


def configured_intervals() -> dict[str, float]:
    """The intervals set by ``RIGHTSCARE_JOB_INTERVALS`` (settings.JOB_INTERVALS), by job name."""
    return parse_intervals(str(settings.JOB_INTERVALS or ""))


def parse_intervals(text: str) -> dict[str, float]:
    """``"audit.seal=60, notifications.send=5"`` → ``{"audit.seal": 60.0, "notifications.send": 5.0}``."""
    intervals: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, seconds = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"RIGHTSCARE_JOB_INTERVALS: {item!r} is not name=seconds")
        try:
            value = float(seconds)
        except ValueError:
            value = float("nan")
        if value < 0 or value != value:  # NaN
            raise ValueError(f"RIGHTSCARE_JOB_INTERVALS: {item!r} is not a number of seconds")
        intervals[name.strip()] = value
    return intervals


def ensure_job_rows(jobs: tuple[Job, ...] = JOBS, *, now: datetime | None = None) -> None:
    """Create the row of every registered job (due at once), and pull in rows due after one interval.

    A job whose interval was shortened in the configuration runs within the new interval
    instead of waiting out the old one.
    """
    now = now or timezone.now()
    PeriodicJob.objects.bulk_create([PeriodicJob(name=job.name, next_run_at=now) for job in jobs], ignore_conflicts=True)
    for job in jobs:
        interval = job.interval
        if interval is not None:
            PeriodicJob.objects.filter(name=job.name, next_run_at__gt=now + interval).update(next_run_at=now + interval)


def run_due_jobs(*, worker_id: str, jobs: tuple[Job, ...] = JOBS, now: datetime | None = None) -> list[str]:
    """Trigger every job that is due and not claimed by another worker; returns the names of those enqueued.

    A due job whose previous run still waits in the queue is not enqueued again, but its
    next run moves on all the same.
    """
    enabled = {job.name: job for job in jobs if job.interval is not None}
    if not enabled:
        return []
    now = now or timezone.now()
    lease = timedelta(seconds=float(settings.JOB_LEASE_SECONDS))
    claimed = leasing.claim(
        PeriodicJob.objects.filter(name__in=enabled, next_run_at__lte=now), owner=worker_id, lease=lease, limit=len(enabled), order_by=("next_run_at", "name")
    )
    triggered = []
    for row in claimed:
        job = enabled[row.name]
        try:
            if job.trigger():
                triggered.append(job.name)
        except Exception:
            # The queue (Redis, the database) may be down: try again one interval later.
            logger.exception("could not trigger the periodic job %s", job.name)
        interval = job.interval or timedelta(seconds=job.every)
        finished_at = timezone.now()
        leasing.finish(row, next_run_at=finished_at + interval, last_triggered_at=finished_at)
    return triggered


def _recycle_connections() -> None:
    """Drop this thread's connections that broke or outlived ``CONN_MAX_AGE`` (as Django does per request).

    Never inside a transaction (a test's, or a caller's): closing would end it.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


class Scheduler:
    """The loop that beats the heartbeat and triggers due jobs, until :meth:`stop`.

    It runs in a thread of the worker process (see the ``rightscare_worker`` command),
    with its own database connection.
    """

    def __init__(self, *, worker_id: str, jobs: tuple[Job, ...] = JOBS) -> None:
        self.worker_id = worker_id
        self.jobs = jobs
        self.started_at = timezone.now()
        self.tick_seconds = float(settings.SCHEDULER_TICK_SECONDS)
        self.heartbeat_every = timedelta(seconds=float(settings.WORKER_HEARTBEAT_SECONDS))
        self._stopping = threading.Event()
        self._last_beat: datetime | None = None
        self._rows_ready = False

    def stop(self) -> None:
        """Ask the loop to end after the tick in hand."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def tick(self) -> list[str]:
        """One round: the heartbeat when due, then the due jobs. Errors are logged, never raised."""
        _recycle_connections()
        triggered: list[str] = []
        try:
            now = timezone.now()
            if self._last_beat is None or now - self._last_beat >= self.heartbeat_every:
                workers.beat(worker_id=self.worker_id, started_at=self.started_at, now=now)
                self._last_beat = now
            if not self._rows_ready:
                ensure_job_rows(self.jobs, now=now)
                self._rows_ready = True
            triggered = run_due_jobs(worker_id=self.worker_id, jobs=self.jobs)
        except Exception:
            # A database that is restarting must not end the loop; the next tick tries again.
            logger.exception("scheduler tick failed")
        finally:
            _recycle_connections()
        return triggered

    def run(self) -> None:
        """Tick every ``SCHEDULER_TICK_SECONDS`` until stopped; the thread's body."""
        try:
            while not self._stopping.is_set():
                self.tick()
                self._stopping.wait(self.tick_seconds)
        finally:
            connections.close_all()
