"""Chasing overdue work: reminders (催办), supervision (督办), listing for supervision (挂牌督办), and answers.

A supervisor sends a reminder from the supervision board (:func:`send_reminder`); the deadline
sweep writes the automatic ones (:mod:`rightscare.supervision.sweep`) through
:func:`open_chase`. A chase with something to answer stays in the unit's inbox until a
member of the unit answers it (:func:`answer_chase`); the answer shows on the board and on
the case timeline.

Every chase and every answer is a timeline event on the case (kinds ``chased`` and
``chase_answered``, visible to the handling units), an audit entry and messages
in the inboxes concerned, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.audit.services import new_entry, record
from rightscare.cases.events import record_event, system_text
from rightscare.cases.models import CaseEvent, EventKind, Visibility, WorkOrder, WorkOrderStatus
from rightscare.core.errors import Conflict
from rightscare.org import access
from rightscare.org.divisions import RegionLevel
from rightscare.org.models import Unit
from rightscare.org.roles import Capability
from rightscare.supervision import notices
from rightscare.supervision.models import CHASE_LEVELS, Chase, ChaseLevel, ClockKind, WorkOrderClock
from rightscare.supervision.services import may_handle, may_supervise

#: Work orders a unit is still working on: the ones worth chasing.
CHASEABLE_STATUSES = (WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS)

#: The longest comment or answer accepted (the same bound as the case pages' text fields).
MAX_TEXT = 4000


# --- who chases ------------------------------------------------------------------------------


def parent_unit(work_order: WorkOrder) -> Unit:
    """The unit that supervises a work order (督办): the parent of the unit it was sent to.

    A unit at the top of its own tree (a department, a neighbourhood committee, which hang
    under no federation) is supervised by the unit that sent it the work order; a unit that
    leads its own case and has no parent supervises itself.
    """
    unit = work_order.unit
    if unit.parent_id is not None:
        return Unit.objects.select_related("region").get(pk=unit.parent_id)
    if work_order.sent_by_unit_id != unit.pk:
        return Unit.objects.select_related("region").get(pk=work_order.sent_by_unit_id)
    return unit


def parent_units(work_orders: Iterable[WorkOrder]) -> dict[int, Unit]:
    """:func:`parent_unit` of each work order, by the work order's id: the units read in one query."""
    orders = list(work_orders)
    wanted: dict[int, int] = {}
    for order in orders:
        unit = order.unit
        if unit.parent_id is not None:
            wanted[order.pk] = unit.parent_id
        elif order.sent_by_unit_id != unit.pk:
            wanted[order.pk] = order.sent_by_unit_id
    units = Unit.objects.select_related("region").in_bulk(set(wanted.values())) if wanted else {}
    return {order.pk: units[wanted[order.pk]] if order.pk in wanted else order.unit for order in orders}


def city_unit(unit: Unit) -> Unit:
    """The unit that lists work for supervision (挂牌督办): the city-level unit at or above ``unit``.

    The top of ``unit``'s tree when none of its ancestors sits at city level.
    """
    current = Unit.objects.select_related("region").get(pk=unit.pk)
    while current.region.level != RegionLevel.CITY and current.parent_id is not None:
        current = Unit.objects.select_related("region").get(pk=current.parent_id)
    return current


def chasing_unit(user: Any, work_order: WorkOrder) -> Unit:
    """The unit a supervisor chases for: her supervising membership that covers the work order's unit."""
    unit = access.acting_unit(user, work_order.unit, capability=Capability.SUPERVISE)
    if unit is None:
        raise PermissionDenied
    return unit


def highest_level(levels: Any) -> str:
    """The most serious of ``levels`` ("" when there is none)."""
    present = set(levels)
    return next((level for level in reversed(CHASE_LEVELS) if level in present), "")


# --- writing a chase ------------------------------------------------------------------------------


def _local(instant: datetime) -> str:
    return timezone.localtime(instant).strftime("%Y-%m-%d %H:%M")


def chase_text(chase: Chase) -> str:
    """What the timeline says about a chase, in the active language (units by their own names, as the other events name them)."""
    level = ChaseLevel(chase.level).label
    if not chase.automatic:
        text = _("%(level)s from %(unit)s.") % {"level": level, "unit": chase.by_unit.name}
    elif chase.level == ChaseLevel.REMINDER and chase.clock is not None and chase.clock_due_at is not None:
        text = _("%(level)s: the %(clock)s deadline (%(due)s) has passed.") % {
            "level": level,
            "clock": ClockKind(chase.clock.kind).label,
            "due": _local(chase.clock_due_at),
        }
    else:
        text = _("%(level)s by %(unit)s: the work order is overdue.") % {"level": level, "unit": chase.by_unit.name}
    return f"{text}\n{chase.comment}" if chase.comment else text


def open_chase(
    *,
    work_order: WorkOrder,
    level: str,
    by_unit: Unit,
    by: Any = None,
    comment: str = "",
    needs_answer: bool = False,
    clock: WorkOrderClock | None = None,
    escalate_at: datetime | None = None,
    at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Chase:
    """Write a chase with its timeline event and audit entry; call it inside the caller's transaction.

    ``by`` None makes it an automatic chase (the sweep's), tied to ``clock`` and the due time
    it missed. The caller queues the messages (they differ per step).
    """
    chase = new_chase(
        work_order=work_order,
        level=level,
        by_unit=by_unit,
        by=by,
        comment=comment,
        needs_answer=needs_answer,
        clock=clock,
        escalate_at=escalate_at,
        at=at,
    )
    chase.save(force_insert=True)
    chase_event(chase, extra).save(force_insert=True)
    chase_audit_entry(chase, extra).save(force_insert=True)
    return chase


def new_chase(
    *,
    work_order: WorkOrder,
    level: str,
    by_unit: Unit,
    by: Any = None,
    comment: str = "",
    needs_answer: bool = False,
    clock: WorkOrderClock | None = None,
    escalate_at: datetime | None = None,
    at: datetime | None = None,
) -> Chase:
    """The chase :func:`open_chase` writes, not written yet (the sweep writes a batch's chases with one ``INSERT``).

    Once it is written, :func:`chase_event` and :func:`chase_audit_entry` are its timeline
    event and audit entry, to be written in the same transaction.
    """
    return Chase(
        work_order=work_order,
        level=level,
        by_unit=by_unit,
        by=by,
        at=at or timezone.now(),
        comment=comment,
        needs_answer=needs_answer,
        automatic=by is None,
        clock=clock,
        clock_due_at=clock.due_at if clock is not None else None,
        escalate_at=escalate_at,
    )


def chase_event(chase: Chase, extra: dict[str, Any] | None = None) -> CaseEvent:
    """The timeline event of a written chase (kind ``chased``, for the handling units), not written yet: as ``record_event`` makes it."""
    by = chase.by
    return CaseEvent(
        case=chase.work_order.case,
        kind=EventKind.CHASED,
        actor=by if getattr(by, "is_authenticated", False) else None,
        unit=chase.by_unit,
        work_order=chase.work_order,
        text=system_text(lambda: chase_text(chase)),
        public_text="",
        visibility=Visibility.HANDLING,
        data={"supervision": "chase", "chase": chase.pk, "level": chase.level, "automatic": by is None, **(extra or {})},
    )


def chase_audit_entry(chase: Chase, extra: dict[str, Any] | None = None) -> AuditEntry:
    """The audit entry of a written chase, not written yet (``audit.services.record_many`` or ``save``)."""
    clock, by = chase.clock, chase.by
    return new_entry(
        actor=by,
        action=AuditAction.CREATE,
        event=f"supervision.{chase.level}",
        obj=chase,
        unit=chase.by_unit,
        changes={
            "work_order": chase.work_order_id,
            "level": chase.level,
            "automatic": by is None,
            "needs_answer": chase.needs_answer,
            "clock": clock.kind if clock is not None else None,
            "clock_due_at": clock.due_at.isoformat() if clock is not None else None,
            **(extra or {}),
        },
        reason=chase.comment,
    )


# --- a supervisor's reminder ------------------------------------------------------------------------


def send_reminder(*, work_order: WorkOrder, by: Any, comment: str = "") -> Chase:
    """A supervisor reminds the unit of a work order (催办), optionally with a comment it must answer.

    For supervisors over the work order's unit or area (``services.may_supervise``); the
    work order must still be with its unit (sent, signed for or in progress). The reminder
    goes to the inboxes of the unit's handling staff; with a comment it stays in the unit's
    work-order inbox until answered. Records a timeline event and an audit entry.
    """
    work_order = WorkOrder.objects.select_related("case", "unit", "sent_by_unit").get(pk=work_order.pk)
    if not may_supervise(by, work_order):
        raise PermissionDenied
    comment = comment.strip()
    if len(comment) > MAX_TEXT:
        raise ValidationError({"comment": [_("Ensure this value has at most %(max)d characters.") % {"max": MAX_TEXT}]})
    by_unit = chasing_unit(by, work_order)
    with transaction.atomic():
        locked = WorkOrder.objects.select_for_update(of=("self",)).select_related("case", "unit").get(pk=work_order.pk)
        if locked.status not in CHASEABLE_STATUSES:
            raise Conflict(_("Only a work order its unit is still handling can be chased."))
        chase = open_chase(work_order=locked, level=ChaseLevel.REMINDER, by_unit=by_unit, by=by, comment=comment, needs_answer=bool(comment))
        notices.send(
            notices.REMINDER,
            notices.members_with(locked.unit, notices.HANDLING_CAPABILITIES),
            {"case_number": locked.case.number, "unit": locked.unit, "chasing_unit": by_unit, "comment": comment},
        )
    return chase


# --- the unit's answer --------------------------------------------------------------------------------


def may_answer(user: Any, chase: Chase) -> bool:
    """Whether she answers for the unit the chased work order was sent to."""
    return may_handle(user, chase.work_order)


def answer_chase(*, chase: Chase, by: Any, answer: str) -> Chase:
    """The chased unit answers a reminder or supervision: why the work is late and when it will be done.

    For the handling staff of the work order's unit, once per chase (409 when already
    answered or when the chase asks for no answer). The answer goes to the supervisor who
    sent the reminder (for an automatic chase, to the chasing unit's supervisors and
    dispatchers). Records a timeline event and an audit entry.
    """
    chase = Chase.objects.select_related("work_order__case", "work_order__unit", "by_unit", "by").get(pk=chase.pk)
    if not may_answer(by, chase):
        raise PermissionDenied
    answer = answer.strip()
    if not answer:
        raise ValidationError({"answer": [_("Write the answer.")]})
    if len(answer) > MAX_TEXT:
        raise ValidationError({"answer": [_("Ensure this value has at most %(max)d characters.") % {"max": MAX_TEXT}]})
    with transaction.atomic():
        locked = Chase.objects.select_for_update().get(pk=chase.pk)
        if not locked.needs_answer:
            raise Conflict(_("This reminder does not ask for an answer."))
        if locked.answered_at is not None:
            raise Conflict(_("This has already been answered."))
        now = timezone.now()
        Chase.objects.filter(pk=chase.pk).update(answer=answer, answered_at=now, answered_by=by)
        chase.answer, chase.answered_at, chase.answered_by = answer, now, by
        order = chase.work_order
        level = ChaseLevel(chase.level).label
        record_event(
            case=order.case,
            kind=EventKind.CHASE_ANSWERED,
            actor=by,
            unit=order.unit,
            work_order=order,
            text=system_text(lambda: _("Answer to the %(level)s of %(unit)s:") % {"level": level, "unit": chase.by_unit.name}) + f"\n{answer}",
            visibility=Visibility.HANDLING,
            data={"supervision": "chase_answered", "chase": chase.pk, "level": chase.level},
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="supervision.answer_chase",
            obj=chase,
            unit=order.unit,
            changes={"answered_at": [None, now.isoformat()]},
            reason=answer,
        )
        recipients = [chase.by] if chase.by is not None else notices.members_with(chase.by_unit, notices.SUPERVISING_CAPABILITIES)
        notices.send(notices.CHASE_ANSWERED, recipients, {"case_number": order.case.number, "unit": order.unit, "level": level, "answer": answer})
    return chase


# --- reads ----------------------------------------------------------------------------------------------


def visible_chases(user: Any) -> QuerySet[Chase]:
    """Chases of the work orders she may see (a case outside her scope: none of its chases)."""
    return Chase.objects.filter(work_order__in=WorkOrder.objects.visible_to(user))


def chases_to_answer(*, by: Any) -> QuerySet[Chase]:
    """Chases her units must still answer, oldest first (her work-order inbox shows them)."""
    units = access.units_with_capability(by, Capability.HANDLE_WORK_ORDERS) | access.units_with_capability(by, Capability.DISPATCH_CASES)
    return (
        Chase.objects.awaiting_answer()
        .filter(work_order__unit__in=units)
        .select_related("work_order__case", "work_order__unit", "by_unit", "by", "clock")
        .order_by("at", "id")
    )
