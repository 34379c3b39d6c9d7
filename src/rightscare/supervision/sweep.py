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

**A batch at a time.** The clocks of a claimed batch are worked a table at a time
(:func:`_check_clocks`): their work orders, the reminders already sent, the parent units, the
working calendars and the members to tell are read with one query each, and the chases,
timeline events, audit entries (unsealed, like every writer's: the sealer chains them later in
id order) and messages are written with one ``INSERT`` each and the clocks with one ``UPDATE``
— what the clocks one after the other wrote, in the same order. Should the batch fail, it rolls
back to its savepoint and its clocks are done one at a time, each in its own savepoint (see
:func:`_check_clock_batch`). Due chases and safety reviews, a handful per run, go one at a time.

**Exactly once.** A batch of due rows is claimed with ``SELECT … FOR UPDATE SKIP LOCKED``
(PostgreSQL; concurrent sweeps take different rows) or under SQLite's write lock, and
everything the steps write — the clock's ``warned_*`` and ``due_notified_at`` stamps and its
next check time, the chases, timeline events, audit entries and outbox rows — commits in the
claim's own transaction. A worker killed after the claim leaves nothing behind (the
transaction rolls back) and the next sweep finds the same rows due; a second sweep finds
nothing due. The chases' unique constraints back this up.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.audit.services import new_entry, record, record_many
from rightscare.cases.deadlines import calendar_for
from rightscare.cases.events import record_event, system_text
from rightscare.cases.models import CaseEvent, EventKind, Urgency, Visibility, WorkOrder
from rightscare.cases.selectors import emergency_route
from rightscare.core import leasing, memo, workcalendar
from rightscare.core.barriers import barrier
from rightscare.notifications.models import Message
from rightscare.notifications.services import queue_messages
from rightscare.org.models import Unit
from rightscare.supervision import chasing, clocks, notices, safety
from rightscare.supervision.models import Chase, ChaseLevel, ClockKind, SafetyFollowUp, WorkOrderClock

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)
T = TypeVar("T")

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


#: What handles a claimed batch: its rows, ``now``, the ids of rows that failed this run (to add to), the report.
BatchStep = Callable[[list[M], datetime, set[int], SweepReport], None]


def sweep(*, now: datetime | None = None, batch_size: int | None = None, max_batches: int = 100) -> SweepReport:
    """Act on every clock and chase that is due at ``now``, a batch (``SUPERVISION_SWEEP_BATCH``) per transaction.

    Safe to run twice and in several workers at once (see the module docstring). A row whose
    step fails is logged, left as it was (its savepoint rolls back) and skipped for the rest
    of the run, so one bad row cannot hold up the others; the next run tries it again. (A
    batch of clocks is first tried whole; only when that fails is each clock tried alone.)
    """
    now = now or timezone.now()
    size = int(batch_size or settings.SUPERVISION_SWEEP_BATCH)
    report = SweepReport()
    _run_batches(due_clocks(now), CLOCK_ORDER_BY, _check_clock_batch, now=now, size=size, limit=max_batches, report=report)
    _run_batches(due_chases(now), CHASE_ORDER_BY, _one_by_one(_consider_escalation), now=now, size=size, limit=max_batches, report=report)
    _run_batches(due_safety_reviews(now), SAFETY_ORDER_BY, _one_by_one(_check_safety), now=now, size=size, limit=max_batches, report=report)
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
    handle: BatchStep[M],
    *,
    now: datetime,
    size: int,
    limit: int,
    report: SweepReport,
) -> None:
    failed: set[int] = set()
    for _batch in range(limit):
        handled = _run_batch(due, order, handle, now=now, size=size, failed=failed, report=report)
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
    handle: BatchStep[M],
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
            handle(claimed, now, failed, report)
    return len(claimed)


def _one_by_one(step: Callable[[M, datetime, SweepReport], None]) -> BatchStep[M]:
    """A batch handled a row at a time, each row in its own savepoint.

    A row whose step fails is logged, rolled back to its savepoint, counted as failed and
    left out of the rest of the run; the other rows of the batch go on.
    """

    def handle(rows: list[M], now: datetime, failed: set[int], report: SweepReport) -> None:
        for row in rows:
            try:
                with transaction.atomic():
                    step(row, now, report)
            except Exception:
                logger.exception("deadline sweep: %s %s failed; it is tried again on the next run", row._meta.label, row.pk)
                failed.add(int(row.pk))
                report.failed += 1

    return handle


# --- clocks: 50 %, 80 %, due ----------------------------------------------------------------------------


def _work_order(pk: int) -> WorkOrder:
    return WorkOrder.objects.select_related("case", "unit__region", "sent_by_unit").get(pk=pk)


#: The clock's columns a step writes (with one ``UPDATE`` for the whole batch).
CLOCK_FIELDS = ("next_check_at", "warned_half_at", "warned_late_at", "due_notified_at", "breached")

#: What the steps never read of a work order and its case: long texts, the case's address (decrypted when read).
UNREAD = (
    "instructions",
    "result",
    "review_comment",
    "return_reason",
    "case__summary",
    "case__address",
    "case__reply",
    "case__not_accepted_reason",
)

#: The step of a clock whose deadline passed (the others are the warning's share, 50 or 80).
DEADLINE = "deadline"


def _check_clock_batch(rows: list[WorkOrderClock], now: datetime, failed: set[int], report: SweepReport) -> None:
    """The steps of a batch of claimed clocks: all at once, or one at a time when that fails.

    The whole batch is first tried in one savepoint (:func:`_check_clocks`: a constant number
    of statements whatever the batch's size). Should anything in it fail, that savepoint rolls
    back, the clocks are read again as they were claimed, and each is tried on its own in its
    own savepoint, exactly as the batch would have done it: the row that fails is logged,
    counted as failed and left for the next run, and the others are written. The report
    counts what was written, never a batch attempt that rolled back.
    """
    if len(rows) > 1:
        error = _counted_unless_it_fails(partial(_check_clocks, rows, now), report)
        if error is None:
            return
        logger.warning("deadline sweep: a batch of %d clocks failed; trying them one at a time", len(rows), exc_info=error)
        claimed = WorkOrderClock.objects.select_related("policy").in_bulk([row.pk for row in rows])
        rows = [claimed[row.pk] for row in rows if row.pk in claimed]
    for row in rows:
        error = _counted_unless_it_fails(partial(_check_clocks, [row], now), report)
        if error is not None:
            logger.error("deadline sweep: %s %s failed; it is tried again on the next run", row._meta.label, row.pk, exc_info=error)
            failed.add(int(row.pk))
            report.clocks += 1
            report.failed += 1


def _counted_unless_it_fails(work: Callable[[SweepReport], None], report: SweepReport) -> Exception | None:
    """Run ``work`` in a savepoint, counting into a copy of ``report``; the error when it failed, else None.

    The copy's counts are added to ``report`` only when ``work`` succeeded: a failed attempt
    rolls back, and the report must not count what was not written.
    """
    attempt = dataclasses.replace(report)
    try:
        with transaction.atomic():
            work(attempt)
    except Exception as error:
        return error
    for field in dataclasses.fields(report):
        setattr(report, field.name, getattr(attempt, field.name))
    return None


def _step_of(clock: WorkOrderClock, now: datetime) -> str | int | None:
    """The step a claimed clock is due for — the deadline, else the 80 % warning, else the 50 % one — with its stamps set."""
    if clock.stopped_at is not None or clock.paused_at is not None:
        return None
    if clock.due_notified_at is None and clock.due_at <= now:
        # Warnings the deadline overtook are not sent any more.
        clock.warned_half_at = clock.warned_half_at or (now if clock.half_at is not None else None)
        clock.warned_late_at = clock.warned_late_at or (now if clock.late_at is not None else None)
        clock.due_notified_at, clock.breached = now, True
        return DEADLINE
    if clock.warned_late_at is None and clock.late_at is not None and clock.late_at <= now:
        clock.warned_half_at = clock.warned_half_at or now
        clock.warned_late_at = now
        return 80
    if clock.warned_half_at is None and clock.half_at is not None and clock.half_at <= now:
        clock.warned_half_at = now
        return 50
    return None


@dataclass
class _Reminder:
    """An automatic reminder to write for a missed deadline, and for an unsigned emergency its supervision."""

    clock: WorkOrderClock
    order: WorkOrder
    parent: Any
    chase: Chase
    escalation: Chase | None = None
    escalation_extra: dict[str, Any] | None = None
    on_duty: Any = None


def _check_clocks(rows: list[WorkOrderClock], now: datetime, report: SweepReport) -> None:
    """The steps of claimed clocks, read and written a table at a time (call it inside a savepoint).

    Reads: the work orders with their cases and units, the reminders already sent for the
    missed deadlines, the parent units, the emergencies already under supervision and the
    members to tell — one query each, whatever the number of clocks (plus, per unsigned
    emergency, the duty roster). Writes: the chases, the timeline events, the audit entries
    and the messages with one ``INSERT`` each, the clocks with one ``UPDATE``. What is
    written, and in which order, is what the steps of the clocks one after the other wrote.
    """
    report.clocks += len(rows)
    steps = [(clock, _step_of(clock, now)) for clock in rows]
    for clock in rows:
        clock.next_check_at = clocks.next_check(clock)
    acting = [(clock, step) for clock, step in steps if step is not None]
    orders = WorkOrder.objects.select_related("case", "unit__region").defer(*UNREAD).in_bulk({c.work_order_id for c, _step in acting}) if acting else {}
    _remember_calendars(order.unit for order in orders.values())

    # Missed deadlines: one automatic reminder per deadline (the unique constraint backs this up).
    missed = [clock for clock, step in acting if step == DEADLINE]
    sent = set()
    if missed:
        sent = set(Chase.objects.filter(clock__in=missed, automatic=True, level=ChaseLevel.REMINDER).values_list("clock_id", "clock_due_at"))
    to_remind = [clock for clock in missed if (clock.pk, clock.due_at) not in sent]
    parents = chasing.parent_units(orders[clock.work_order_id] for clock in to_remind) if to_remind else {}
    urgent = [clock for clock in to_remind if clock.kind == ClockKind.SIGN_FOR and orders[clock.work_order_id].case.urgency == Urgency.EMERGENCY]
    supervised = set()
    if urgent:
        supervised = set(
            Chase.objects.filter(work_order_id__in={clock.work_order_id for clock in urgent}, level=ChaseLevel.SUPERVISION, automatic=True).values_list(
                "work_order_id", flat=True
            )
        )
    supervision_after, listed_after = _thresholds()
    reminders: dict[int, _Reminder] = {}
    for clock in to_remind:
        order = orders[clock.work_order_id]
        parent = parents[order.pk]
        at_once = clock in urgent
        reminder = _Reminder(
            clock=clock,
            order=order,
            parent=parent,
            chase=chasing.new_chase(
                work_order=order,
                level=ChaseLevel.REMINDER,
                by_unit=parent,
                clock=clock,
                escalate_at=None if at_once else _after_due(clock, order, supervision_after),
                at=now,
            ),
        )
        if at_once and order.pk not in supervised:
            supervised.add(order.pk)
            _route_unit, shift = emergency_route(parent, now)
            reminder.on_duty = shift.user if shift is not None else None
            reminder.escalation_extra = {"emergency": True, "on_duty": shift.user_id if shift is not None else None}
            reminder.escalation = chasing.new_chase(
                work_order=order,
                level=ChaseLevel.SUPERVISION,
                by_unit=parent,
                clock=clock,
                needs_answer=True,
                escalate_at=_after_due(clock, order, listed_after),
                at=now,
            )
        reminders[clock.pk] = reminder
    Chase.objects.bulk_create([chase for r in reminders.values() for chase in (r.chase, r.escalation) if chase is not None])

    members = notices.Members(
        [orders[clock.work_order_id].unit for clock, _step in acting] + [r.parent for r in reminders.values() if r.escalation is not None],
        notices.HANDLING_CAPABILITIES + notices.SUPERVISING_CAPABILITIES,
    )
    events: list[CaseEvent] = []
    entries: list[AuditEntry] = []
    messages: list[Message] = []

    def tell(event: Any, recipients: list[Any], context: dict[str, Any]) -> None:
        written = notices.messages(event, recipients, context)
        messages.extend(written)
        report.messages += len(written)

    for clock, step in acting:
        order = orders[clock.work_order_id]
        handlers = members.with_(order.unit, notices.HANDLING_CAPABILITIES)
        if step != DEADLINE:
            assert isinstance(step, int)
            events.append(_warning_event(clock, order, step))
            entries.append(_warning_entry(clock, order, step))
            report.warnings += 1
            tell(notices.DEADLINE_WARNING, handlers, {**_clock_context(clock, order), "share": f"{step} %"})
            continue
        if clock.pk not in reminders:
            continue  # this deadline's reminder was sent before
        reminder = reminders[clock.pk]
        events.append(chasing.chase_event(reminder.chase))
        entries.append(chasing.chase_audit_entry(reminder.chase))
        report.reminders += 1
        tell(notices.DEADLINE_MISSED, handlers, _clock_context(clock, order))
        if reminder.escalation is not None:
            # An emergency not signed for within its 30 minutes: supervision by the parent unit and the person on duty, now.
            events.append(chasing.chase_event(reminder.escalation, reminder.escalation_extra))
            entries.append(chasing.chase_audit_entry(reminder.escalation, reminder.escalation_extra))
            report.supervisions += 1
            report.emergencies += 1
            recipients = members.with_(reminder.parent, notices.SUPERVISING_CAPABILITIES)
            if reminder.on_duty is not None:
                recipients.append(reminder.on_duty)
            tell(notices.EMERGENCY_UNSIGNED, recipients, {**_clock_context(clock, order), "chasing_unit": reminder.parent})
    CaseEvent.objects.bulk_create(events)
    record_many(entries)
    queue_messages(messages)
    _write_clocks(rows)


def _write_clocks(rows: list[WorkOrderClock]) -> None:
    """``bulk_update(rows, CLOCK_FIELDS)`` as one ``UPDATE … FROM`` a list of rows.

    Django's ``bulk_update`` writes ``CASE WHEN id = … THEN …`` for every row and column,
    and building those expressions cost as much Python as the rest of a batch together
    (bench/results/2026-12-06-sweep-batched.md). On PostgreSQL the new values travel as one
    array per column (``unnest``), on SQLite as a ``VALUES`` list (``UPDATE … FROM`` needs
    SQLite 3.33); elsewhere ``bulk_update`` does it.
    """
    if not rows:
        return
    meta = WorkOrderClock._meta
    by_name = {field.name: field for field in meta.concrete_fields}
    fields = [by_name[name] for name in CLOCK_FIELDS]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(str(by_name["id"].column))
    columns = [quote(str(field.column)) for field in fields]
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    values = [[row.pk, *(field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields)] for row in rows]
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
        sql = f"UPDATE {table} SET {assignments} FROM unnest(%s::bigint[], {arrays}) AS v({pk}, {', '.join(columns)}) WHERE {table}.{pk} = v.{pk}"  # noqa: S608 - quoted identifiers
        params: list[Any] = [list(column) for column in zip(*values, strict=True)]
    elif connection.vendor == "sqlite" and connection.Database.sqlite_version_info >= (3, 33):  # type: ignore[attr-defined]
        row_values = ", ".join("(" + ", ".join(["%s"] * (len(fields) + 1)) + ")" for _row in rows)
        sql = f"WITH v({pk}, {', '.join(columns)}) AS (VALUES {row_values}) UPDATE {table} SET {assignments} FROM v WHERE {table}.{pk} = v.{pk}"  # noqa: S608 - quoted identifiers
        params = [value for row_value in values for value in row_value]
    else:
        WorkOrderClock.objects.bulk_update(rows, CLOCK_FIELDS)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _clock_context(clock: WorkOrderClock, order: WorkOrder) -> dict[str, Any]:
    return {"case_number": order.case.number, "unit": order.unit, "clock": ClockKind(clock.kind).label, "due_at": clock.due_at}


def _warning_event(clock: WorkOrderClock, order: WorkOrder, share: int) -> CaseEvent:
    """The timeline event of a warning that ``share`` % of a clock's time is used (within the unit), not written yet."""
    text = system_text(
        lambda: (
            gettext("%(share)d %% of the time for %(clock)s is used; it is due %(due)s.")
            % {"share": share, "clock": ClockKind(clock.kind).label, "due": chasing._local(clock.due_at)}
        )
    )
    return CaseEvent(
        case=order.case,
        kind=EventKind.DEADLINE_WARNING,
        actor=None,
        unit=order.unit,
        work_order=order,
        text=text,
        public_text="",
        visibility=Visibility.UNIT,
        data={"supervision": "deadline_warning", "clock": clock.kind, "share": share},
    )


def _warning_entry(clock: WorkOrderClock, order: WorkOrder, share: int) -> AuditEntry:
    """The audit entry of a warning, not written yet."""
    return new_entry(
        actor=None,
        action=AuditAction.OTHER,
        event="supervision.deadline_warning",
        obj=clock,
        unit=order.unit,
        changes={"work_order": order.pk, "clock": clock.kind, "share": share, "due_at": clock.due_at.isoformat()},
    )


def _remember_calendars(units: Iterable[Unit]) -> None:
    """Read the working calendars of the units' regions at once, for ``calendar_for`` to find in the batch's memo.

    ``calendar_for`` reads a region's calendars (one query) and their exceptions (another)
    the first time a batch asks for that region; a batch of a hundred clocks spans dozens of
    regions, most of them governed by the same few calendars. Here the calendars of every
    region are read with one query, and the exceptions once per distinct chain of calendars.
    A region's chain is what ``org.calendars.calendar_chain`` returns: the national calendar,
    then those of its ancestors and its own, from the top down (a test compares the two).
    Only inside a ``core.memo.one_read_each`` block; outside it, nothing is read.
    """
    if not memo.active():
        return
    try:
        from rightscare.org.calendar_models import WorkingCalendar
        from rightscare.org.calendars import spec_of_chain
    except ImportError:  # the calendar tables are not installed: calendar_for needs nothing
        return
    regions = {unit.region.pk: unit.region for unit in units if unit.region is not None}
    if not regions:
        return
    paths = {pk: region.ancestor_ids() or [pk] for pk, region in regions.items()}
    calendars = list(
        WorkingCalendar.objects.filter(Q(region__isnull=True) | Q(region_id__in={pk for path in paths.values() for pk in path})).select_related("region")
    )
    for region_pk, path in paths.items():
        rank = {ancestor: position for position, ancestor in enumerate(path, start=1)}
        chain = sorted(
            (calendar for calendar in calendars if calendar.region_id is None or calendar.region_id in rank),
            key=lambda calendar: rank.get(calendar.region_id, 0) if calendar.region_id else 0,
        )
        spec = memo.remembered(("calendar chain", tuple(calendar.pk for calendar in chain)), partial(spec_of_chain, chain))
        memo.remembered(("calendar", region_pk), partial(_same, spec))


def _same(value: T) -> T:
    return value


def _after_due(clock: WorkOrderClock, order: WorkOrder, days: int) -> datetime:
    """``days`` working days after the clock's due time on the unit's calendar (days of 24 hours for a 24/7 clock)."""
    if clock.policy.runs_on_working_time:
        return workcalendar.add_working_days(calendar_for(order.unit), clock.due_at, days).instant
    return clock.due_at + timedelta(days=days)


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
