"""Tasks of the platform itself."""

from __future__ import annotations

from django_tasks import task

from rightscare.core import workers


@task()
def recover_abandoned_tasks() -> int:
    """Re-queue (or fail) database tasks left RUNNING by a worker that died; safe to run twice.

    Triggered by the scheduler (job ``tasks.recover``). Returns how many tasks it changed.
    """
    return len(workers.recover_abandoned_tasks())
