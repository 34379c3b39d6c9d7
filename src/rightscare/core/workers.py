"""Workers' heartbeats, their health, and tasks that a dead worker left running.

Every ``rightscare worker`` writes a :class:`~rightscare.core.models.WorkerHeartbeat`
row every few seconds from its scheduler loop. ``rightscare check`` and
``GET /healthz/worker`` call a worker alive when its row was written within
``WORKER_STALE_SECONDS`` and it has not stopped.

django-tasks has no retries, and a worker killed in the middle of a task leaves that
task ``RUNNING`` for ever. :func:`recover_abandoned_tasks` (a periodic job) finds such
tasks of the database backend: RUNNING, and either claimed by a worker whose heartbeat
went stale, or started longer ago than ``TASK_TIMEOUT_SECONDS``. Every RightsCare task
is a trigger that is safe to run twice (STYLE.md, tasks.py), so such a task is put back
in the queue (its status returns to READY; its ``worker_ids`` keep the name of every
worker that tried it) up to :data:`MAX_TASK_TRIES` tries; after that, and always for
tasks of other packages, it is marked FAILED.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from rightscare.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

#: How many workers may start a lost task before it is marked failed instead of re-run.
MAX_TASK_TRIES = 3

#: Heartbeats of workers gone this long are deleted.
HEARTBEAT_RETENTION = timedelta(days=7)

#: Recorded as the exception of a task whose worker died while running it.
WORKER_LOST = "rightscare.core.workers.WorkerLost"


class WorkerLost(Exception):
    """The worker running a task stopped without finishing it."""


def new_worker_id() -> str:
    """A name for this worker process, unique across machines and restarts."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


def stale_after() -> timedelta:
    """How long without a heartbeat before a worker counts as gone."""
    return timedelta(seconds=float(settings.WORKER_STALE_SECONDS))


def beat(*, worker_id: str, started_at: datetime, now: datetime | None = None) -> None:
    """Write this worker's heartbeat (creating its row on the first beat)."""
    now = now or timezone.now()
    updated = WorkerHeartbeat.objects.filter(worker_id=worker_id).update(last_seen_at=now, stopped_at=None)
    if not updated:
        WorkerHeartbeat.objects.create(worker_id=worker_id, hostname=socket.gethostname()[:255], pid=os.getpid(), started_at=started_at, last_seen_at=now)


def mark_stopped(*, worker_id: str, now: datetime | None = None) -> None:
    """Note that this worker stopped cleanly: it no longer counts as alive."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).update(stopped_at=now or timezone.now())


def needs_worker() -> bool:
    """Whether tasks need a worker at all (not with the ``immediate`` backend, which runs them inline)."""
    return bool(settings.TASKS_BACKEND != "immediate")


@dataclass(frozen=True)
class WorkerHealth:
    """What the health check and ``rightscare check`` say about the workers."""

    needed: bool
    alive: int

    @property
    def ok(self) -> bool:
        return not self.needed or self.alive > 0


def worker_health(*, now: datetime | None = None) -> WorkerHealth:
    """How many workers are alive now; raises ``DatabaseError`` when the database cannot tell."""
    if not needs_worker():
        return WorkerHealth(needed=False, alive=0)
    return WorkerHealth(needed=True, alive=WorkerHeartbeat.objects.fresh(now=now, stale_after=stale_after()).count())


def _is_rightscare_task(task_path: str) -> bool:
    return task_path.startswith("rightscare.")


def recover_abandoned_tasks(*, now: datetime | None = None, limit: int = 100) -> list[str]:
    """Put back in the queue (or fail) database tasks whose worker died while running them.

    Only the database backend keeps running tasks where we can see them; with RQ, RQ's
    own registries move the jobs of dead workers to its failed registry, and the sweeps
    redo the durable work anyway. Returns the ids of the task results it changed.
    """
    if settings.TASKS_BACKEND != "db":
        return []
    from django_tasks_db.models import DBTaskResult  # only installed with the database backend

    now = now or timezone.now()
    stale = stale_after()
    timeout = timedelta(seconds=float(settings.TASK_TIMEOUT_SECONDS))
    known = set(WorkerHeartbeat.objects.values_list("worker_id", flat=True))
    alive = set(WorkerHeartbeat.objects.fresh(now=now, stale_after=stale).values_list("worker_id", flat=True))
    changed: list[str] = []
    # A task started less than one staleness period ago cannot belong to a worker known to be dead.
    for result in DBTaskResult.objects.running().filter(started_at__lt=now - stale).order_by("started_at")[:limit]:
        worker_ids: list[Any] = list(result.worker_ids or [])
        last_worker = str(worker_ids[-1]) if worker_ids else ""
        worker_dead = last_worker in known and last_worker not in alive
        timed_out = result.started_at is not None and result.started_at < now - timeout
        if not (worker_dead or timed_out):
            continue
        retry = _is_rightscare_task(result.task_path) and len(worker_ids) < MAX_TASK_TRIES
        reason = f"worker {last_worker or '?'} stopped while running this task" if worker_dead else f"still running after {timeout}"
        with transaction.atomic():
            base = DBTaskResult.objects.filter(pk=result.pk, status="RUNNING", started_at=result.started_at)
            if retry:
                done = base.update(status="READY", started_at=None)
            else:
                done = base.update(
                    status="FAILED", finished_at=now, exception_class_path=WORKER_LOST, traceback=f"{WORKER_LOST}: {reason}\n", return_value=None
                )
        if done:
            changed.append(str(result.pk))
            logger.warning("task %s (%s): %s; %s", result.pk, result.task_path, reason, "queued again" if retry else "marked failed")
    WorkerHeartbeat.objects.filter(last_seen_at__lt=now - HEARTBEAT_RETENTION).delete()
    return changed


def database_health() -> bool:
    """Whether the worker tables answer (for callers that must not raise)."""
    try:
        WorkerHeartbeat.objects.exists()
    except DatabaseError:
        return False
    return True
