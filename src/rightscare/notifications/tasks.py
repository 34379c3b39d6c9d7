"""Background work of the outbox: a trigger that sends whatever is due; safe to run twice."""

from __future__ import annotations

from dataclasses import asdict

from django_tasks import TaskContext, task

from rightscare.core.workers import new_worker_id
from rightscare.notifications.services import deliver_due_messages


@task(takes_context=True)
def send_due_messages(context: TaskContext) -> dict[str, int]:
    """Deliver every due message (claimed with leases, so any number of runs may overlap).

    Enqueued when a transaction that queued a message commits, and every few seconds by
    the scheduler (job ``notifications.send``), which also picks up retries whose backoff
    has elapsed and messages whose worker died. Takes no arguments: the outbox rows are
    the state. Claims are made in the name of the worker running the task. Returns how
    many messages were sent, retried, failed and put back.
    """
    worker_ids = context.task_result.worker_ids
    worker_id = str(worker_ids[-1]) if worker_ids else new_worker_id()
    return asdict(deliver_due_messages(worker_id=worker_id))
