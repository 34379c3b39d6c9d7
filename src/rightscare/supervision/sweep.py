"""The deadline sweep: warnings, reminders and the chain 催办 → 督办 → 挂牌督办 (PRODUCT.md C4, C6).

The worker's scheduler runs :func:`sweep` every ``SUPERVISION_SWEEP_SECONDS`` (job
``supervision.sweep``). It reads only what is due, through two partial indexes:

* clocks whose ``next_check_at`` has passed (index ``clock_next_check``): at 50 % and 80 % of
  a clock's time a warning goes to the inboxes of the unit's handling staff; when the clock
  runs out, an automatic reminder (催办, a :class:`~rightscare.supervision.models.Chase`)
  goes to the unit. A warning overtaken by a later step (the sweep was down) is not sent.
  An emergency not signed for in time (30 minutes) is at once under supervision by the
  parent unit, and the person on duty there (or above) is told.
* chases whose ``escalate_at`` has passed (index ``chase_escalate_at``): a work order still
  overdue ``SUPERVISION_AFTER_WORKING_DAYS`` working days after its oldest missed deadline goes
  to its parent unit for supervision (督办); ``SUPERVISION_LISTED_AFTER_WORKING_DAYS`` after it,
  the city lists it for supervision (挂牌督办). Clocks that run 24/7 count those thresholds in
  days of 24 hours. Each work order climbs to each level once; a work order that is no
  longer overdue stops climbing.

Each step writes a timeline event on the case, an audit entry and its inbox messages.

**Exactly once.** A batch of due rows is claimed with ``SELECT … FOR UPDATE SKIP LOCKED``
(PostgreSQL; concurrent sweeps take different rows) or under SQLite's write lock, and
everything the steps write — the clock's ``warned_*`` and ``due_notified_at`` stamps and its
next check time, the chases, timeline events, audit entries and outbox rows — commits in the
claim's own transaction. A worker killed after the claim leaves nothing behind (the
transaction rolls back) and the next sweep finds the same rows due; a second sweep finds
nothing due. The chases' unique constraints back this up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from rightscare.audit.models import AuditAction
from rightscare.audit.services import record
from rightscare.cases.deadlines import calendar_for
from rightscare.cases.events import record_event, system_text
from rightscare.cases.models import EventKind, Urgency, Visibility, WorkOrder
from rightscare.cases.selectors import emergency_route
from rightscare.core import leasing, memo, workcalendar
from rightscare.core.barriers import barrier
from rightscare.supervision import chasing, clocks, notices, safety
from rightscare.supervision.models import Chase, ChaseLevel, ClockKind, SafetyFollowUp, WorkOrderClock

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)

#: A paused clock that was already overdue is looked at again after this long (a pause stops the chain).
PAUSED_RECHECK = timedelta(hours=1)

#: The name of the test-only barrier right after a batch of clocks is claimed (see core/barriers.py).
CLAIMED_BARRIER = "supervision.sweep.claimed"


@dataclass
class SweepReport:
    """What one run of the sweep did."""

    clocks: int = 0
    chases: int = 0
    warnings: int = 0
    reminders: int = 0
    supervisions: int = 0
    listings: int = 0
    emergencies: int = 0
    safety_reminders: int = 0
    safety_escalations: int = 0
    messages: int = 0
    failed: int = 0


def _thresholds() -> tuple[int, int]:
    return int(settings.SUPERVISION_AFTER_WORKING_DAYS), int(settings.SUPERVISION_LISTED_AFTER_WORKING_DAYS)


def sweep(*, now: datetime | None = None, batch_size: int | None = None, max_batches: int = 100) -> SweepReport:
    """Act on every clock and chase that is due at ``now``, a batch (``SUPERVISION_SWEEP_BATCH``) per transaction.

    Safe to run twice and in several workers at once (see the module docstring). A row whose
    step fails is logged, left as it was (its savepoint rolls back) and skipped for the rest
    of the run, so one bad row cannot hold up the others; the next run tries it again.
    """
    now = now or timezone.now()
    size = int(batch_size or settings.SUPERVISION_SWEEP_BATCH)
    report = SweepReport()
    _run_batches(due_clocks(now), CLOCK_ORDER_BY, _check_clock, now=now, size=size, limit=max_batches, report=report)
    _run_batches(due_chases(now), CHASE_ORDER_BY, _consider_escalation, now=now, size=size, limit=max_batches, report=report)
    _run_batches(due_safety_reviews(now), SAFETY_ORDER_BY, _check_safety, now=now, size=size, limit=max_batches, report=report)
    return report


#: The order in which due rows are claimed: the longest waiting first.
CLOCK_ORDER_BY = ("next_check_at", "id")
CHASE_ORDER_BY = ("escalate_at", "id")
SAFETY_ORDER_BY = ("next_check_at", "id")


def due_clocks(now: datetime) -> models.QuerySet[WorkOrderClock]:
    """Clocks whose next check has come (the partial index ``clock_next_check``)."""
    return WorkOrderClock.objects.due_for_check(now).select_related("policy")


def due_safety_reviews(now: datetime) -> models.QuerySet[SafetyFollowUp]:
    """Open safety follow-ups whose review reminder or escalation has come (the partial index ``safety_next_check``)."""
    return SafetyFollowUp.objects.due_for_check(now)


def due_chases(now: datetime) -> models.QuerySet[Chase]:
    """Chases whose next step of the chain must be considered (the partial index ``chase_escalate_at``)."""
    return Chase.objects.due_for_escalation(now)


def _run_batches(
    due: models.QuerySet[M],
    order: tuple[str, ...],
    step: Callable[[M, datetime, SweepReport], None],
    *,
    now: datetime,
    size: int,
    limit: int,
    report: SweepReport,
) -> None:
    failed: set[int] = set()
    for _batch in range(limit):
        handled = _run_batch(due, order, step, now=now, size=size, failed=failed, report=report)
        if handled < size:
            return


def claim_query(due: models.QuerySet[M], order: tuple[str, ...], size: int, failed: set[int] | frozenset[int] = frozenset()) -> models.QuerySet[M]:
    """The next ``size`` due rows, to be locked for the claiming transaction (rows others hold are skipped).

    ``SELECT … FOR UPDATE SKIP LOCKED`` where the database has it (PostgreSQL); SQLite has no
    row locks, and the claim runs under its database-wide write lock instead.
    """
    rows = due.exclude(pk__in=failed) if failed else due
    rows = rows.order_by(*order)
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return rows[:size]


def _run_batch(
    due: models.QuerySet[M],
    order: tuple[str, ...],
    step: Callable[[M, datetime, SweepReport], None],
    *,
    now: datetime,
    size: int,
    failed: set[int],
    report: SweepReport,
) -> int:
    with leasing.write_transaction():
        claimed = list(claim_query(due, order, size, failed))
        if not claimed:
            return 0
        # A crash test kills the worker here: the rows are claimed, nothing is written yet.
        barrier(CLAIMED_BARRIER)
        # The batch's rows share a few regions' calendars and a few messages' wordings: read once each.
        with memo.one_read_each():
            for row in claimed:
                try:
                    with transaction.atomic():
                        step(row, now, report)
                except Exception:
                    logger.exception("deadline sweep: %s %s failed; it is tried again on the next run", row._meta.label, row.pk)
                    failed.add(int(row.pk))
                    report.failed += 1
    return len(claimed)


# --- clocks: 50 %, 80 %, due ----------------------------------------------------------------------------


def _work_order(pk: int) -> WorkOrder:
    return WorkOrder.objects.select_related("case", "unit__region", "sent_by_unit").get(pk=pk)


def _check_clock(clock: WorkOrderClock, now: datetime, report: SweepReport) -> None:
    """The step a claimed clock is due for: the deadline, else the 80 % warning, else the 50 % one."""
    report.clocks += 1
    fields = ["next_check_at"]
    if clock.stopped_at is None and clock.paused_at is None:
        order = _work_order(clock.work_order_id)
        if clock.due_notified_at is None and clock.due_at <= now:
            # Warnings the deadline overtook are not sent any more.
            clock.warned_half_at = clock.warned_half_at or (now if clock.half_at is not None else None)
            clock.warned_late_at = clock.warned_late_at or (now if clock.late_at is not None else None)
            clock.due_notified_at, clock.breached = now, True
            fields += ["warned_half_at", "warned_late_at", "due_notified_at", "breached"]
            _deadline_missed(clock, order, now, report)
        elif clock.warned_late_at is None and clock.late_at is not None and clock.late_at <= now:
            clock.warned_half_at = clock.warned_half_at or now
            clock.warned_late_at = now
            fields += ["warned_half_at", "warned_late_at"]
            _warn(clock, order, 80, now, report)
        elif clock.warned_half_at is None and clock.half_at is not None and clock.half_at <= now:
            clock.warned_half_at = now
            fields += ["warned_half_at"]
            _warn(clock, order, 50, now, report)
    clock.next_check_at = clocks.next_check(clock)
    clock.save(update_fields=fields)


def _clock_context(clock: WorkOrderClock, order: WorkOrder) -> dict[str, Any]:
    return {"case_number": order.case.number, "unit": order.unit, "clock": ClockKind(clock.kind).label, "due_at": clock.due_at}


def _warn(clock: WorkOrderClock, order: WorkOrder, share: int, now: datetime, report: SweepReport) -> None:
    """Tell the unit that ``share`` % of a clock's time is used: its inboxes, its timeline (within the unit), the audit log."""
    text = system_text(
        lambda: (
            gettext("%(share)d %% of the time for %(clock)s is used; it is due %(due)s.")
            % {"share": share, "clock": ClockKind(clock.kind).label, "due": chasing._local(clock.due_at)}
        )
    )
    record_event(
        case=order.case,
        kind=EventKind.DEADLINE_WARNING,
        unit=order.unit,
        work_order=order,
        text=text,
        visibility=Visibility.UNIT,
        data={"supervision": "deadline_warning", "clock": clock.kind, "share": share},
    )
    record(
        actor=None,
        action=AuditAction.OTHER,
        event="supervision.deadline_warning",
        obj=clock,
        unit=order.unit,
        changes={"work_order": order.pk, "clock": clock.kind, "share": share, "due_at": clock.due_at.isoformat()},
    )
    report.warnings += 1
    report.messages += notices.send(
        notices.DEADLINE_WARNING,
        notices.members_with(order.unit, notices.HANDLING_CAPABILITIES),
        {**_clock_context(clock, order), "share": f"{share} %"},
    )


def _after_due(clock: WorkOrderClock, order: WorkOrder, days: int) -> datetime:
    """``days`` working days after the clock's due time on the unit's calendar (days of 24 hours for a 24/7 clock)."""
    if clock.policy.runs_on_working_time:
        return workcalendar.add_working_days(calendar_for(order.unit), clock.due_at, days).instant
    return clock.due_at + timedelta(days=days)


def _deadline_missed(clock: WorkOrderClock, order: WorkOrder, now: datetime, report: SweepReport) -> None:
    """The automatic reminder (催办) for a missed deadline; for an unsigned emergency, supervision at once."""
    if Chase.objects.filter(clock=clock, clock_due_at=clock.due_at, automatic=True, level=ChaseLevel.REMINDER).exists():
        return
    parent = chasing.parent_unit(order)
    supervised_at_once = clock.kind == ClockKind.SIGN_FOR and order.case.urgency == Urgency.EMERGENCY
    supervision_after, _listed_after = _thresholds()
    chasing.open_chase(
        work_order=order,
        level=ChaseLevel.REMINDER,
        by_unit=parent,
        clock=clock,
        escalate_at=None if supervised_at_once else _after_due(clock, order, supervision_after),
        at=now,
    )
    report.reminders += 1
    report.messages += notices.send(notices.DEADLINE_MISSED, notices.members_with(order.unit, notices.HANDLING_CAPABILITIES), _clock_context(clock, order))
    if supervised_at_once:
        _escalate_emergency(clock, order, parent, now, report)


def _escalate_emergency(clock: WorkOrderClock, order: WorkOrder, parent: Any, now: datetime, report: SweepReport) -> None:
    """An emergency not signed for within its 30 minutes: supervision by the parent unit and the person on duty, now."""
    _route_unit, shift = emergency_route(parent, now)
    extra = {"emergency": True, "on_duty": shift.user_id if shift is not None else None}
    chase = _open_escalation(order, ChaseLevel.SUPERVISION, parent, clock, now, report, extra=extra)
    if chase is None:
        return
    report.emergencies += 1
    recipients = notices.members_with(parent, notices.SUPERVISING_CAPABILITIES)
    if shift is not None:
        recipients.append(shift.user)
    report.messages += notices.send(notices.EMERGENCY_UNSIGNED, recipients, {**_clock_context(clock, order), "chasing_unit": parent})


# --- chases: climbing the chain --------------------------------------------------------------------------


def _open_escalation(
    order: WorkOrder, level: str, by_unit: Any, clock: WorkOrderClock, now: datetime, report: SweepReport, *, extra: dict[str, Any] | None = None
) -> Chase | None:
    """Put the work order under ``level`` (once per work order); None when it already is."""
    if Chase.objects.filter(work_order=order, level=level, automatic=True).exists():
        return None
    _supervision_after, listed_after = _thresholds()
    chase = chasing.open_chase(
        work_order=order,
        level=level,
        by_unit=by_unit,
        clock=clock,
        needs_answer=True,
        escalate_at=_after_due(clock, order, listed_after) if level == ChaseLevel.SUPERVISION else None,
        at=now,
        extra=extra,
    )
    if level == ChaseLevel.SUPERVISION:
        report.supervisions += 1
    else:
        report.listings += 1
    return chase


#: The level a chase leads to when its work order stays overdue.
NEXT_LEVEL = {ChaseLevel.REMINDER: ChaseLevel.SUPERVISION, ChaseLevel.SUPERVISION: ChaseLevel.LISTED}


def _consider_escalation(chase: Chase, now: datetime, report: SweepReport) -> None:
    """Whether the chased work order climbs to the next level now, later, or never.

    Measured from the work order's oldest missed deadline among its running clocks: a work
    order whose clocks were met, extended past now or stopped climbs no further; one whose
    overdue clock is paused is looked at again later.
    """
    report.chases += 1
    level = NEXT_LEVEL.get(ChaseLevel(chase.level))
    order = _work_order(chase.work_order_id)
    if level is None or order.status not in chasing.CHASEABLE_STATUSES:
        _reschedule(chase, None)
        return
    order_clocks = list(WorkOrderClock.objects.filter(work_order=order, stopped_at__isnull=True).select_related("policy"))
    overdue = sorted((c for c in order_clocks if c.paused_at is None and c.due_at <= now), key=lambda c: (c.due_at, c.pk))
    if not overdue:
        waiting = any(c.paused_at is not None and c.due_at <= now for c in order_clocks)
        _reschedule(chase, now + PAUSED_RECHECK if waiting else None)
        return
    oldest = overdue[0]
    supervision_after, listed_after = _thresholds()
    target = _after_due(oldest, order, supervision_after if level == ChaseLevel.SUPERVISION else listed_after)
    if target > now:
        _reschedule(chase, target)
        return
    _reschedule(chase, None)
    by_unit = chasing.parent_unit(order) if level == ChaseLevel.SUPERVISION else chasing.city_unit(chasing.parent_unit(order))
    escalation = _open_escalation(order, level, by_unit, oldest, now, report)
    if escalation is None:
        return
    event = notices.SUPERVISION if level == ChaseLevel.SUPERVISION else notices.LISTED
    recipients = notices.members_with(by_unit, notices.SUPERVISING_CAPABILITIES) + notices.members_with(order.unit, notices.HANDLING_CAPABILITIES)
    report.messages += notices.send(event, recipients, {**_clock_context(oldest, order), "chasing_unit": by_unit})


def _reschedule(chase: Chase, at: datetime | None) -> None:
    chase.escalate_at = at
    chase.save(update_fields=["escalate_at"])


# --- safety follow-up: the review clock ----------------------------------------------------------------


def _check_safety(follow_up: SafetyFollowUp, now: datetime, report: SweepReport) -> None:
    """A safety review fell due: remind the responsible unit; still not done later: tell its parent unit.

    Never closes or ends anything: only a person ends a follow-up.
    """
    follow_up = SafetyFollowUp.objects.select_related("case", "unit__parent").get(pk=follow_up.pk)
    if follow_up.ended_at is not None:
        follow_up.next_check_at = None
        follow_up.save(update_fields=["next_check_at"])
        return
    context = {"case_number": follow_up.case.number, "unit": follow_up.unit, "due_at": follow_up.next_review_at}
    if follow_up.reminded_at is None and follow_up.next_review_at <= now:
        follow_up.reminded_at = now
        step, event, unit, recipients = (
            "reminder",
            notices.SAFETY_REVIEW_DUE,
            follow_up.unit,
            notices.members_with(follow_up.unit, notices.HANDLING_CAPABILITIES),
        )
        text = system_text(lambda: gettext("The safety review was due %(due)s: check on her safety.") % {"due": chasing._local(follow_up.next_review_at)})
        report.safety_reminders += 1
    elif follow_up.escalated_at is None and follow_up.next_review_at + safety.escalate_after() <= now:
        follow_up.escalated_at = now
        parent = follow_up.unit.parent or follow_up.unit
        context["chasing_unit"] = parent
        step, event, unit = "escalation", notices.SAFETY_REVIEW_OVERDUE, parent
        recipients = notices.members_with(parent, notices.SUPERVISING_CAPABILITIES) + notices.members_with(follow_up.unit, notices.HANDLING_CAPABILITIES)
        text = system_text(
            lambda: (
                gettext("The safety review due %(due)s is overdue; %(unit)s has been told.")
                % {"due": chasing._local(follow_up.next_review_at), "unit": parent.display_name}
            )
        )
        report.safety_escalations += 1
    else:
        follow_up.next_check_at = safety.next_check(follow_up)
        follow_up.save(update_fields=["next_check_at"])
        return
    follow_up.next_check_at = safety.next_check(follow_up)
    follow_up.save(update_fields=["reminded_at", "escalated_at", "next_check_at"])
    record_event(
        case=follow_up.case,
        kind=EventKind.DEADLINE_WARNING,
        unit=unit,
        text=text,
        visibility=Visibility.HANDLING,
        data={"safety_follow_up": follow_up.pk, "step": step, "due_at": follow_up.next_review_at.isoformat()},
    )
    record(
        actor=None,
        action=AuditAction.OTHER,
        event=f"supervision.safety_review_{step}",
        obj=follow_up,
        unit=unit,
        changes={"case": follow_up.case_id, "due_at": follow_up.next_review_at.isoformat()},
    )
    report.messages += notices.send(event, recipients, context)
