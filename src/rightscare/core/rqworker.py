"""The RQ worker class that ``rightscare worker`` runs with ``RIGHTSCARE_TASKS_BACKEND=rq``."""

from __future__ import annotations

from typing import Any

from django.db import close_old_connections
from rq.worker import SimpleWorker


class Worker(SimpleWorker):
    """RQ's ``SimpleWorker``: each job runs in the worker's main thread, as with ``db_worker``.

    Not RQ's default worker, which forks a work horse per job: ``rightscare worker``
    runs its scheduler in a second thread, and ``fork()`` copies only the calling
    thread, so a lock the scheduler held at that instant (a module being imported, a
    database driver's) is never released in the horse, which then hangs for ever.
    Around each job, connections that broke or outlived ``CONN_MAX_AGE`` are dropped,
    as Django does around each request.
    """

    def execute_job(self, job: Any, queue: Any) -> None:
        close_old_connections()
        try:
            super().execute_job(job, queue)
        finally:
            close_old_connections()
