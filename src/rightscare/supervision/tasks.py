"""Background work of the deadlines: triggered after commit, safe to run twice."""

from __future__ import annotations

from datetime import date

from django_tasks import task

from rightscare.supervision import clocks


@task()
def recompute_deadlines(*, calendar_id: int | None = None, region_path: str | None = None, dates: list[str] | None = None) -> int:
    """Recompute the deadlines a working-calendar change affects; return how many due times moved.

    Enqueued by the calendar-change listener (``clocks.on_calendar_changed``) with the
    region path of the changed calendar (None: the national one) and the ISO dates whose
    status changed (None: working hours or coverage changed, so any date may matter).
    """
    days = [date.fromisoformat(day) for day in dates] if dates is not None else None
    return clocks.recompute_after_calendar_change(region_path=region_path, dates=days, calendar_id=calendar_id).moved


@task()
def sweep_deadlines() -> int:
    """Warn, remind and escalate what the deadlines say is due; return how many clocks and chases it looked at.

    Triggered by the scheduler (job ``supervision.sweep``, every ``SUPERVISION_SWEEP_SECONDS``).
    Safe to run twice and in several workers at once: see :mod:`rightscare.supervision.sweep`.
    """
    from rightscare.supervision.sweep import sweep

    report = sweep()
    return report.clocks + report.chases
