"""``rightscare worker``: the task worker of the configured backend, and the scheduler of periodic jobs.

One process, two threads:

* the **task worker** (django-tasks-db's ``db_worker`` by default, RQ's ``rqworker``
  with ``RIGHTSCARE_TASKS_BACKEND=rq``) runs in the main thread;
* the **scheduler** (:class:`rightscare.core.scheduler.Scheduler`: heartbeat and
  periodic jobs) runs in a daemon thread beside it.

Why this way round, and why not two processes: both task workers install their own
SIGTERM/SIGINT handlers, which Python only allows in the main thread, and both already
stop gracefully (the task in hand finishes, a second signal forces the exit); when
the worker returns, the scheduler is stopped and its heartbeat marked stopped. One
process also dies as one: a SIGKILL (the OOM killer, a crash test) takes the heartbeat
down with the worker, so ``/healthz/worker`` cannot report a scheduler that outlived
its task worker. The scheduler only makes short database writes and enqueues tasks;
it never runs task code (except with the ``immediate`` backend, which needs no worker).
RQ runs with a non-forking worker class (:class:`rightscare.core.rqworker.Worker`):
RQ's default worker forks a work horse per job, and a fork taken while the scheduler
thread holds a lock hangs (seen in practice: an import lock).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rightscare.core import scheduler, workers

logger = logging.getLogger("rightscare.worker")


class Command(BaseCommand):
    help = "Run the task worker (database queue by default, RQ when configured) and the scheduler of periodic jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", action="store_true", help="Trigger the jobs that are due, run what is queued, then exit.")

    def handle(self, *args: Any, batch: bool = False, **options: Any) -> None:
        if not workers.needs_worker():
            self.stdout.write("The task backend runs tasks immediately; no worker is needed.")
            return
        try:
            scheduler.configured_intervals()
        except ValueError as error:
            raise CommandError(str(error)) from error
        worker_id = workers.new_worker_id()
        verbosity = int(options.get("verbosity", 1))
        if batch:
            # A one-off run (cron, tests): no heartbeat, as this is not a standing worker.
            scheduler.ensure_job_rows()
            scheduler.run_due_jobs(worker_id=worker_id)
            self._run_task_worker(worker_id=worker_id, batch=True, verbosity=verbosity)
            return
        loop = scheduler.Scheduler(worker_id=worker_id)
        thread = threading.Thread(target=loop.run, name="rightscare-scheduler", daemon=True)
        logger.info("worker %s starting (tasks: %s)", worker_id, settings.TASKS_BACKEND)
        thread.start()
        try:
            self._run_task_worker(worker_id=worker_id, batch=False, verbosity=verbosity)
        finally:
            loop.stop()
            thread.join(timeout=30)
            try:
                workers.mark_stopped(worker_id=worker_id)
            except Exception:
                logger.exception("could not mark worker %s stopped", worker_id)
            logger.info("worker %s stopped", worker_id)

    def _run_task_worker(self, *, worker_id: str, batch: bool, verbosity: int) -> None:
        if settings.TASKS_BACKEND == "rq":
            extra = ["--burst"] if batch else []
            call_command(
                "rqworker",
                "default",
                "--job-class",
                "django_tasks_rq.Job",
                "--worker-class",
                "rightscare.core.rqworker.Worker",
                "--name",
                worker_id,
                *extra,
                verbosity=verbosity,
            )
        else:
            # The heartbeat's worker id is the one db_worker writes on the tasks it claims,
            # so that tasks left RUNNING by a dead worker can be recognised.
            extra = ["--batch"] if batch else []
            call_command(
                "db_worker",
                "--queue-name",
                "*",
                "--no-reload",
                "--no-startup-delay",
                "--worker-id",
                worker_id,
                "--interval",
                str(settings.WORKER_POLL_SECONDS),
                *extra,
                verbosity=verbosity,
            )
