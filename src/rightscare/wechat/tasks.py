"""Background work of the WeChat callback: record waiting text messages as contacts; safe to run twice."""

from __future__ import annotations

from dataclasses import asdict

from django_tasks import task

from rightscare.wechat.services import process_pending_messages


@task()
def process_inbound_messages() -> dict[str, int]:
    """Record the text messages the callback stored as contacts in the intake queue, and apply the log's retention.

    Enqueued when the callback's transaction that stored a text message commits, and every
    minute by the scheduler (job ``wechat.process``) for anything left over. Takes no
    arguments: the stored messages are the state (and their text stays out of the task queue).
    """
    return asdict(process_pending_messages())
