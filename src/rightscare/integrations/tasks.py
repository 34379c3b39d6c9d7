"""Background work of the integrations: a trigger that sends the deliveries that are due; safe to run twice."""

from __future__ import annotations

from dataclasses import asdict

from django_tasks import TaskContext, task

from rightscare.core.workers import new_worker_id
from rightscare.integrations.services import deliver_due


@task(takes_context=True)
def send_due_deliveries(context: TaskContext) -> dict[str, int]:
    """Send every due webhook and 12345 report-back (claimed with leases, so runs may overlap).

    Enqueued when a transaction that queued a delivery commits, and every few seconds by
    the scheduler (job ``integrations.deliver``), which also picks up retries whose
    backoff has elapsed and deliveries whose worker died. Takes no arguments: the
    delivery rows are the state. Returns how many were delivered, retried, failed and put back.
    """
    worker_ids = context.task_result.worker_ids
    worker_id = str(worker_ids[-1]) if worker_ids else new_worker_id()
    return asdict(deliver_due(worker_id=worker_id))
