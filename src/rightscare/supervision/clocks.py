"""The clock machinery: start, stop, restart, pause, extend and recompute the clocks of work orders.

The case services call the ``work_order_*`` hooks below inside their own transactions
(dispatch, forward, sign-for, first contact, note, completion, review, return, transfer,
close), so every work order's clocks move with its life cycle without any other caller.

Semantics (docs/user-guide/deadlines.md explains them to users):

* All four clocks start when the work order is **sent** (dispatched, forwarded or
  received by transfer), as Zammad's first-response and solution clocks start with the
  ticket and as 12345 counts its deadlines from dispatch.
* ``sign_for`` stops at sign-for; ``first_contact`` at the first contact with the
  petitioner; ``update`` restarts at the first contact and at every progress note (due =
  last note + the gap) and stops at completion; ``resolution`` stops at completion.
* Sent back for more work: the resolution clock **continues** where it stopped. The time
  the work order waited for the sending unit's review is written as a closed pause with
  the reason ``review``, so the handling unit neither gains nor loses time; the update
  clock restarts from the send-back.
* Returned, transferred away, or the case closed: every running clock stops (``stop_reason``
  says why); a clock that was already past its due time counts as missed.
* Durations: minutes and hours run 24/7; working hours and working days on the working
  calendar of the unit's region; "days" as the law counts them (from the day after, a last
  day that is not a working day moving to the next working day: Civil Code art. 201, 203),
  which is how the Regulation on Letters and Visits counts its 15 and 60 days.
* An urgent letters-and-visits order takes, per clock, the earlier of the urgent preset and
  the letters-and-visits preset (both versions are kept on the clock).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from rightscare.cases.models import TimeClass, Urgency
from rightscare.core import workcalendar
from rightscare.core.workcalendar import CalendarSpec
from rightscare.supervision.models import (
    CLOCK_ORDER,
    ClockKind,
    ClockPause,
    ClockPolicy,
    ClockUnit,
    PauseReason,
    StopReason,
    WorkOrderClock,
)

logger = logging.getLogger(__name__)

Interval = tuple[datetime, datetime]

#: The presets of the issue (urgency, time class or "" for any, clock, amount, unit).
PRESETS: tuple[tuple[str, str, str, int, str], ...] = (
    # Emergencies run 24/7: 30 minutes, 2 hours, 24 hours, 3 days (72 hours).
    (Urgency.EMERGENCY, "", ClockKind.SIGN_FOR, 30, ClockUnit.MINUTES),
    (Urgency.EMERGENCY, "", ClockKind.FIRST_CONTACT, 2, ClockUnit.HOURS),
    (Urgency.EMERGENCY, "", ClockKind.UPDATE, 24, ClockUnit.HOURS),
    (Urgency.EMERGENCY, "", ClockKind.RESOLUTION, 72, ClockUnit.HOURS),
    (Urgency.URGENT, "", ClockKind.SIGN_FOR, 4, ClockUnit.WORKING_HOURS),
    (Urgency.URGENT, "", ClockKind.FIRST_CONTACT, 1, ClockUnit.WORKING_DAYS),
    (Urgency.URGENT, "", ClockKind.UPDATE, 2, ClockUnit.WORKING_DAYS),
    (Urgency.URGENT, "", ClockKind.RESOLUTION, 5, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.STANDARD, ClockKind.SIGN_FOR, 1, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.STANDARD, ClockKind.FIRST_CONTACT, 2, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.STANDARD, ClockKind.UPDATE, 5, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.STANDARD, ClockKind.RESOLUTION, 5, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.COMPLEX, ClockKind.SIGN_FOR, 1, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.COMPLEX, ClockKind.FIRST_CONTACT, 2, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.COMPLEX, ClockKind.UPDATE, 5, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.COMPLEX, ClockKind.RESOLUTION, 15, ClockUnit.WORKING_DAYS),
    # 信访工作条例: acceptance notice within 15 days, handled within 60 days (art. 32, 35).
    (Urgency.NORMAL, TimeClass.LETTERS_AND_VISITS, ClockKind.SIGN_FOR, 1, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.LETTERS_AND_VISITS, ClockKind.FIRST_CONTACT, 15, ClockUnit.CALENDAR_DAYS),
    (Urgency.NORMAL, TimeClass.LETTERS_AND_VISITS, ClockKind.UPDATE, 10, ClockUnit.WORKING_DAYS),
    (Urgency.NORMAL, TimeClass.LETTERS_AND_VISITS, ClockKind.RESOLUTION, 60, ClockUnit.CALENDAR_DAYS),
)

#: When the seeded presets take effect: before any case, so that history reads them.
PRESETS_VALID_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def ensure_presets(model: Any = ClockPolicy) -> int:
    """Create the issue's presets when there are no presets at all; return how many were created.

    The data migration calls it with the historical model; the services call it for a
    database emptied since (tests that flush tables). Presets an administrator changed are
    never touched: only a completely empty table is filled.
    """
    if model.objects.exists():
        return 0
    model.objects.bulk_create(
        [
            model(urgency=urgency, time_class=time_class, kind=kind, amount=amount, unit=unit, valid_from=PRESETS_VALID_FROM)
            for urgency, time_class, kind, amount, unit in PRESETS
        ]
    )
    return len(PRESETS)


# --- which presets apply ----------------------------------------------------------------


def current_policies() -> dict[tuple[str, str, str], ClockPolicy]:
    """The presets in force, by (urgency, time class, clock) — one query."""
    policies = {(p.urgency, p.time_class, p.kind): p for p in ClockPolicy.objects.current()}
    if not policies and ensure_presets():
        policies = {(p.urgency, p.time_class, p.kind): p for p in ClockPolicy.objects.current()}
    return policies


def policies_for(urgency: str, time_class: str, kind: str, policies: dict[tuple[str, str, str], ClockPolicy]) -> list[ClockPolicy]:
    """The presets a clock runs on: the one for its urgency and time class (else "any class").

    An urgent letters-and-visits order has two: the urgent one and the letters-and-visits
    one of normal urgency; the clock is due at the earlier of the two.
    """

    def lookup(wanted_urgency: str, wanted_class: str) -> ClockPolicy | None:
        return policies.get((wanted_urgency, wanted_class, kind)) or policies.get((wanted_urgency, "", kind))

    found = lookup(urgency, time_class)
    result = [found] if found is not None else []
    if urgency == Urgency.URGENT and time_class == TimeClass.LETTERS_AND_VISITS:
        letters = policies.get((Urgency.NORMAL, TimeClass.LETTERS_AND_VISITS, kind))
        if letters is not None and letters not in result:
            result.append(letters)
    return result


# --- arithmetic -----------------------------------------------------------------------------


def _pauses_of(pauses: Iterable[ClockPause]) -> list[Interval]:
    return [(p.started_at, p.ended_at) for p in pauses if p.ended_at is not None]


def _effective_start(spec: CalendarSpec, unit: str, start: datetime) -> datetime:
    """Where the clock starts counting: day counts begin at the end of the start's day (Civil Code art. 201)."""
    if unit not in (ClockUnit.WORKING_DAYS, ClockUnit.CALENDAR_DAYS):
        return start
    local = start.astimezone(spec.zone)
    midnight = spec.local(local.date(), time(0))
    if midnight == start:
        return start
    return spec.local(local.date() + timedelta(days=1), time(0))


def _base_due(spec: CalendarSpec, policy: ClockPolicy, start: datetime, pauses: Sequence[Interval]) -> datetime:
    amount, unit = policy.amount, policy.unit
    if unit == ClockUnit.MINUTES:
        return workcalendar.add_calendar_time(spec, start, timedelta(minutes=amount), pauses=pauses).instant
    if unit == ClockUnit.HOURS:
        return workcalendar.add_calendar_time(spec, start, timedelta(hours=amount), pauses=pauses).instant
    if unit == ClockUnit.WORKING_HOURS:
        return workcalendar.add_working_hours(spec, start, amount, pauses=pauses).instant
    if unit == ClockUnit.WORKING_DAYS:
        return workcalendar.add_working_days(spec, start, amount, pauses=pauses).instant
    return workcalendar.add_calendar_days(spec, start, amount, pauses=pauses, extend_past_days_off=True).instant


def extension_day_unit(time_class: str) -> str:
    """Extensions of letters and visits count calendar days (the regulation's 30 days); all others working days."""
    return "calendar" if time_class == TimeClass.LETTERS_AND_VISITS else "working"


def _extended(spec: CalendarSpec, due: datetime, days: int, day_unit: str, pauses: Sequence[Interval]) -> datetime:
    if days <= 0:
        return due
    if day_unit == "calendar":
        return workcalendar.add_calendar_days(spec, due, days, pauses=pauses, extend_past_days_off=True).instant
    return workcalendar.add_working_days(spec, due, days, pauses=pauses).instant


def _measure(spec: CalendarSpec, working: bool, begin: datetime, end: datetime, pauses: Sequence[Interval]) -> timedelta:
    if working:
        return workcalendar.measure_working_time(spec, begin, end, pauses=pauses).duration
    return workcalendar.measure_calendar_time(spec, begin, end, pauses=pauses).duration


def _advance(spec: CalendarSpec, working: bool, begin: datetime, duration: timedelta, pauses: Sequence[Interval]) -> datetime:
    if working:
        return workcalendar.add_working_time(spec, begin, duration, pauses=pauses).instant
    return workcalendar.add_calendar_time(spec, begin, duration, pauses=pauses).instant


@dataclass(frozen=True)
class Deadline:
    """A clock's due time and the instants at which 50 % and 80 % of its time have run."""

    policy: ClockPolicy
    due_at: datetime
    half_at: datetime
    late_at: datetime


def compute_deadline(
    spec: CalendarSpec, policy: ClockPolicy, start: datetime, *, pauses: Sequence[Interval] = (), extended_by_days: int = 0, day_unit: str = "working"
) -> Deadline:
    """When a clock on ``policy`` started at ``start`` is due, with its 50 % and 80 % instants.

    Pauses push every instant later by the time they cover (working time for a
    working-time clock); an extension adds ``extended_by_days`` days after the base due
    time. The fractions are of the clock's own time: working time for working hours and
    days, real time otherwise, counted from where the clock starts counting.
    """
    due = _extended(spec, _base_due(spec, policy, start, pauses), extended_by_days, day_unit, pauses)
    working = policy.runs_on_working_time
    begin = min(_effective_start(spec, policy.unit, start), due)
    total = _measure(spec, working, begin, due, pauses)
    utc = UTC
    if total <= timedelta(0):
        return Deadline(policy, due.astimezone(utc), due.astimezone(utc), due.astimezone(utc))
    half = _advance(spec, working, begin, total / 2, pauses)
    late = _advance(spec, working, begin, total * 4 / 5, pauses)
    return Deadline(policy, due.astimezone(utc), half.astimezone(utc), late.astimezone(utc))


def earliest_deadline(
    spec: CalendarSpec,
    policies: Sequence[ClockPolicy],
    start: datetime,
    *,
    pauses: Sequence[Interval] = (),
    extended_by_days: int = 0,
    day_unit: str = "working",
) -> Deadline:
    """The earliest of the deadlines the presets give (one preset: its deadline)."""
    deadlines = [compute_deadline(spec, p, start, pauses=pauses, extended_by_days=extended_by_days, day_unit=day_unit) for p in policies]
    return min(deadlines, key=lambda deadline: deadline.due_at)


def next_check(clock: WorkOrderClock) -> datetime | None:
    """The next instant the sweep must look at a running clock: the first threshold not acted on yet."""
    if clock.stopped_at is not None or clock.paused_at is not None:
        return None
    pending = [
        instant
        for instant, done in ((clock.half_at, clock.warned_half_at), (clock.late_at, clock.warned_late_at), (clock.due_at, clock.due_notified_at))
        if instant is not None and done is None
    ]
    return min(pending, default=None)


def measure_handling(spec: CalendarSpec, begin: datetime, end: datetime, pauses: Sequence[Interval]) -> int:
    """Working seconds between ``begin`` and ``end`` on the calendar, pauses excluded (the assessment's handling time)."""
    return int(workcalendar.measure_working_time(spec, begin, end, pauses=pauses).duration.total_seconds())


# --- loading what a work order's clocks need ------------------------------------------------


def _spec(work_order: Any) -> CalendarSpec:
    from rightscare.cases.deadlines import calendar_for

    return calendar_for(work_order.unit)


def _closed_pauses(work_order: Any) -> list[Interval]:
    return _pauses_of(ClockPause.objects.filter(work_order_id=work_order.pk, ended_at__isnull=False))


def _locked_clocks(work_order: Any) -> dict[str, WorkOrderClock]:
    # Only the clock rows: PostgreSQL cannot lock the nullable side of the outer join to the alternative policy.
    clocks = WorkOrderClock.objects.select_for_update(of=("self",)).filter(work_order_id=work_order.pk).select_related("policy", "alternative_policy")
    return {clock.kind: clock for clock in clocks}


def _policies_of(clock: WorkOrderClock) -> list[ClockPolicy]:
    return [clock.policy, *([clock.alternative_policy] if clock.alternative_policy is not None else [])]


def _apply(clock: WorkOrderClock, deadline: Deadline, now: datetime) -> None:
    """Put a recomputed deadline on the clock; thresholds that moved into the future count again."""
    clock.policy = deadline.policy
    clock.due_at, clock.half_at, clock.late_at = deadline.due_at, deadline.half_at, deadline.late_at
    if clock.half_at is not None and clock.half_at > now:
        clock.warned_half_at = None
    if clock.late_at is not None and clock.late_at > now:
        clock.warned_late_at = None
    if clock.due_at > now:
        clock.due_notified_at = None
    clock.next_check_at = next_check(clock)


def _recompute(clock: WorkOrderClock, spec: CalendarSpec, pauses: Sequence[Interval], now: datetime, *, time_class: str) -> None:
    deadline = earliest_deadline(
        spec, _policies_of(clock), clock.started_at, pauses=pauses, extended_by_days=clock.extended_by_days, day_unit=extension_day_unit(time_class)
    )
    _apply(clock, deadline, now)


def _stop(clock: WorkOrderClock, spec: CalendarSpec, pauses: Sequence[Interval], at: datetime, reason: str) -> None:
    if clock.paused_at is not None:
        clock.paused_total += max(at - clock.paused_at, timedelta(0))
        clock.paused_at = None
    clock.stopped_at = at
    clock.stop_reason = reason
    clock.next_check_at = None
    clock.breached = clock.breached or at > clock.due_at
    clock.elapsed_working_seconds = measure_handling(spec, clock.started_at, at, pauses)


# --- the hooks the case services call ----------------------------------------------------------


def work_order_sent(work_order: Any, *, at: datetime | None = None) -> list[WorkOrderClock]:
    """Start the four clocks of a work order just sent to its unit (dispatch, forward, transfer).

    Presets come from the case's urgency and the work order's time class; a clock without
    a preset (an administrator removed every matching one) is not started. Idempotent: a
    work order that already has clocks keeps them.
    """
    at = at or work_order.created_at or timezone.now()
    with transaction.atomic():
        if WorkOrderClock.objects.filter(work_order_id=work_order.pk).exists():
            return list(WorkOrderClock.objects.filter(work_order_id=work_order.pk))
        policies = current_policies()
        spec = _spec(work_order)
        urgency = work_order.case.urgency
        clocks = []
        for kind in CLOCK_ORDER:
            chosen = policies_for(urgency, work_order.time_class, kind, policies)
            if not chosen:
                logger.warning("no deadline preset for %s / %s / %s: clock not started", urgency, work_order.time_class, kind)
                continue
            deadline = earliest_deadline(spec, chosen, at)
            other = next((p for p in chosen if p.pk != deadline.policy.pk), None)
            clock = WorkOrderClock(
                work_order_id=work_order.pk,
                kind=kind,
                policy=deadline.policy,
                alternative_policy=other,
                started_at=at,
                due_at=deadline.due_at,
                original_due_at=deadline.due_at,
                half_at=deadline.half_at,
                late_at=deadline.late_at,
            )
            clock.next_check_at = next_check(clock)
            clocks.append(clock)
        return WorkOrderClock.objects.bulk_create(clocks)


def _stop_kinds(work_order: Any, kinds: Iterable[str], *, at: datetime, reason: str = StopReason.DONE) -> list[WorkOrderClock]:
    with transaction.atomic():
        clocks = _locked_clocks(work_order)
        wanted = [clocks[kind] for kind in kinds if kind in clocks and clocks[kind].stopped_at is None]
        if not wanted:
            return []
        spec, pauses = _spec(work_order), _closed_pauses(work_order)
        for clock in wanted:
            _stop(clock, spec, pauses, at, reason)
            clock.save()
        return wanted


def work_order_signed(work_order: Any, *, at: datetime) -> None:
    """Stop the sign-for clock (签收)."""
    _stop_kinds(work_order, [ClockKind.SIGN_FOR], at=at)


def restart_update_clock(work_order: Any, *, at: datetime) -> WorkOrderClock | None:
    """Restart the update clock at ``at`` (a progress note): due again one gap later.

    A gap that had already run out before the note counts as missed (``breached`` stays
    set: the update clock measures the longest gap). A stopped update clock (the work
    order is completed) or a paused one is left alone.
    """
    with transaction.atomic():
        clock = _locked_clocks(work_order).get(ClockKind.UPDATE)
        if clock is None or clock.stopped_at is not None or clock.paused_at is not None:
            return None
        clock.breached = clock.breached or at > clock.due_at
        clock.started_at = at
        clock.restarts += 1
        clock.extended_by_days = 0
        clock.warned_half_at = clock.warned_late_at = clock.due_notified_at = None
        spec = _spec(work_order)
        deadline = earliest_deadline(spec, _policies_of(clock), at, pauses=_closed_pauses(work_order))
        _apply(clock, deadline, at)
        clock.save()
        return clock


def work_order_first_contact(work_order: Any, *, at: datetime) -> None:
    """Stop the first-contact clock (响应) and restart the update clock from the contact."""
    _stop_kinds(work_order, [ClockKind.FIRST_CONTACT], at=at)
    restart_update_clock(work_order, at=at)


def work_order_noted(work_order: Any, *, at: datetime) -> None:
    """A progress note: the update clock starts its next gap."""
    restart_update_clock(work_order, at=at)


def work_order_completed(work_order: Any, *, at: datetime) -> None:
    """Completion (办结): an open pause ends, and every clock still running stops as done.

    The resolution clock's handling time in working seconds is stored for the assessment.
    """
    with transaction.atomic():
        ClockPause.objects.filter(work_order_id=work_order.pk, ended_at__isnull=True).update(ended_at=at)
        _stop_kinds(work_order, CLOCK_ORDER, at=at)


def work_order_sent_back(work_order: Any, *, at: datetime, completed_at: datetime | None) -> None:
    """Sent back for more work: the resolution clock continues, the update clock restarts.

    The time between completion and the send-back (the sending unit's review) is written
    as a closed pause with the reason ``review``, so it counts for nobody.
    """
    with transaction.atomic():
        if completed_at is not None and completed_at < at:
            ClockPause.objects.create(work_order_id=work_order.pk, reason_code=PauseReason.REVIEW, started_at=completed_at, ended_at=at)
        clocks = _locked_clocks(work_order)
        spec, pauses = _spec(work_order), _closed_pauses(work_order)
        resolution = clocks.get(ClockKind.RESOLUTION)
        if resolution is not None and resolution.stopped_at is not None and resolution.stop_reason == StopReason.DONE:
            resolution.stopped_at = None
            resolution.stop_reason = ""
            resolution.elapsed_working_seconds = None
            _recompute(resolution, spec, pauses, at, time_class=work_order.time_class)
            resolution.save()
        update = clocks.get(ClockKind.UPDATE)
        if update is not None and update.stopped_at is not None and update.stop_reason == StopReason.DONE:
            update.stopped_at = None
            update.stop_reason = ""
            update.elapsed_working_seconds = None
            update.started_at = at
            update.restarts += 1
            update.warned_half_at = update.warned_late_at = update.due_notified_at = None
            _apply(update, earliest_deadline(spec, _policies_of(update), at, pauses=pauses), at)
            update.save()


def work_order_reworked(work_order: Any, *, at: datetime) -> None:
    """Sent back for rework (重办) after the petitioner's rating: a new resolution clock and a new update gap.

    Unlike a send-back at review, the resolution clock does not continue: the rework is a
    new task with its full time from ``at`` (no extension carried over, warnings counted
    again, a past miss forgotten for the new clock). Sign-for and first contact stay as they
    were. Works whether the clocks stopped as done or because the case was closed.
    """
    with transaction.atomic():
        clocks = _locked_clocks(work_order)
        spec, pauses = _spec(work_order), _closed_pauses(work_order)
        for kind in (ClockKind.RESOLUTION, ClockKind.UPDATE):
            clock = clocks.get(kind)
            if clock is None:
                continue
            clock.started_at = at
            clock.stopped_at = None
            clock.stop_reason = ""
            clock.paused_at = None
            clock.paused_total = timedelta(0)
            clock.breached = False
            clock.elapsed_working_seconds = None
            clock.extended_by_days = 0
            clock.restarts += 1
            clock.warned_half_at = clock.warned_late_at = clock.due_notified_at = None
            deadline = earliest_deadline(spec, _policies_of(clock), at, pauses=pauses)
            _apply(clock, deadline, at)
            clock.original_due_at = deadline.due_at
            clock.save()


def work_order_left(work_order: Any, *, at: datetime, reason: str) -> None:
    """The work order left its unit (returned, transferred away): every running clock stops, an open pause ends."""
    with transaction.atomic():
        ClockPause.objects.filter(work_order_id=work_order.pk, ended_at__isnull=True).update(ended_at=at)
        _stop_kinds(work_order, CLOCK_ORDER, at=at, reason=reason)


def case_finished(case: Any, *, at: datetime, reason: str = StopReason.CLOSED) -> None:
    """The case is closed, merged or not accepted: the clocks of its work orders stop (none should still run)."""
    from rightscare.cases.models import WorkOrder

    running = WorkOrder.objects.filter(case_id=case.pk, clocks__stopped_at__isnull=True).select_related("unit").distinct()
    for work_order in running:
        work_order_left(work_order, at=at, reason=reason)


# --- pauses and extensions (the supervision services call these) -----------------------------


def pause_running_clocks(work_order: Any, *, at: datetime) -> list[WorkOrderClock]:
    """Stop the running clocks (all but sign-for) from counting, from ``at``."""
    with transaction.atomic():
        clocks = [c for c in _locked_clocks(work_order).values() if c.is_running and c.kind != ClockKind.SIGN_FOR]
        for clock in clocks:
            clock.paused_at = at
            clock.next_check_at = None
            clock.save(update_fields=["paused_at", "next_check_at"])
        return clocks


def resume_paused_clocks(work_order: Any, *, at: datetime) -> list[WorkOrderClock]:
    """Let paused clocks run again: each due time moves by the paused (working) time."""
    with transaction.atomic():
        clocks = [c for c in _locked_clocks(work_order).values() if c.stopped_at is None and c.paused_at is not None]
        spec, pauses = _spec(work_order), _closed_pauses(work_order)
        for clock in clocks:
            assert clock.paused_at is not None
            clock.paused_total += max(at - clock.paused_at, timedelta(0))
            clock.paused_at = None
            _recompute(clock, spec, pauses, at, time_class=work_order.time_class)
            clock.save()
        return clocks


def extend_resolution_clock(work_order: Any, *, days: int, at: datetime) -> WorkOrderClock | None:
    """Add an approved extension to the resolution clock and recompute its due time.

    The extension was asked for before the deadline (``request_extension`` refuses later
    requests); when the decision comes after the old deadline passed, the clock is judged
    against the approved one: no longer missed while the new due time lies ahead.
    """
    with transaction.atomic():
        clock = _locked_clocks(work_order).get(ClockKind.RESOLUTION)
        if clock is None:
            return None
        clock.extended_by_days += days
        # A paused clock is recomputed when it resumes (its open pause has no end yet).
        if clock.is_running:
            _recompute(clock, _spec(work_order), _closed_pauses(work_order), at, time_class=work_order.time_class)
            if clock.due_at > at:
                clock.breached = False
        clock.save()
        return clock


# --- the working calendar changed ----------------------------------------------------------------


def on_calendar_changed(change: Any) -> None:
    """Listener of :func:`rightscare.org.calendar_services.on_calendar_change`: recompute in the background.

    Quick and never failing (it runs after the calendar edit committed): it only enqueues
    :func:`rightscare.supervision.tasks.recompute_deadlines`.
    """
    from rightscare.supervision.tasks import recompute_deadlines

    dates = sorted(day.isoformat() for day in change.dates) if change.dates is not None else None
    try:
        recompute_deadlines.enqueue(calendar_id=change.calendar_id, region_path=change.region_path, dates=dates)
    except Exception:  # the calendar edit stands; the next change or a manual run recomputes
        logger.exception("could not enqueue the recomputation of deadlines after a calendar change")


#: Work orders recomputed per transaction after a calendar change.
RECOMPUTE_BATCH = 500


@dataclass(frozen=True)
class Recomputed:
    """What a recomputation after a calendar change did."""

    open_clocks: int
    moved: int
    stopped_clocks: int


def _affected(region_path: str | None, dates: Sequence[date] | None) -> Any:
    clocks = WorkOrderClock.objects.all()
    if region_path:
        clocks = clocks.filter(work_order__unit__region__path__startswith=region_path)
    if dates:
        # A date changes a clock only between its start and its end (with a day's margin either side
        # for the time zone and for a last day moved past days off).
        first = datetime.combine(min(dates) - timedelta(days=2), time(0), tzinfo=UTC)
        last = datetime.combine(max(dates) + timedelta(days=2), time(0), tzinfo=UTC)
        clocks = clocks.filter(started_at__lt=last).exclude(due_at__lt=first, stopped_at__isnull=True).exclude(stopped_at__lt=first)
    return clocks


def recompute_after_calendar_change(*, region_path: str | None, dates: Sequence[date] | None, calendar_id: int | None = None) -> Recomputed:
    """Recompute the deadlines of the regions a calendar change affects, and audit that it did.

    Open, unpaused clocks get a new due time (and 50 %/80 % instants) on the changed
    calendar; stopped clocks get their handling time in working seconds measured again (the
    assessment reads it). Paused clocks are recomputed when they resume. One audit entry
    (``supervision.recompute_deadlines``) says how many clocks moved. Safe to run twice.
    """
    from rightscare.audit.models import AuditAction
    from rightscare.audit.services import record
    from rightscare.cases.models import WorkOrder

    now = timezone.now()
    affected = _affected(region_path, dates)
    open_ids = set(affected.filter(stopped_at__isnull=True, paused_at__isnull=True).values_list("work_order_id", flat=True).distinct())
    stopped_ids = set(affected.filter(stopped_at__isnull=False).values_list("work_order_id", flat=True).distinct())
    ids = sorted(open_ids | stopped_ids)
    moved = opened = stopped = 0
    specs: dict[int, CalendarSpec] = {}
    # One transaction per batch: a national change touches every open clock, and the work
    # orders must not stay locked for the whole run. A run that stops half-way is simply run again.
    for first in range(0, len(ids), RECOMPUTE_BATCH):
        with transaction.atomic():
            batch = WorkOrder.objects.filter(pk__in=ids[first : first + RECOMPUTE_BATCH]).select_related("unit", "case").order_by("pk")
            for work_order in batch:
                spec = specs.get(work_order.unit.region_id) or specs.setdefault(work_order.unit.region_id, _spec(work_order))
                pauses = _closed_pauses(work_order)
                for clock in _locked_clocks(work_order).values():
                    if clock.stopped_at is not None:
                        elapsed = measure_handling(spec, clock.started_at, clock.stopped_at, pauses)
                        if elapsed != clock.elapsed_working_seconds:
                            clock.elapsed_working_seconds = elapsed
                            clock.save(update_fields=["elapsed_working_seconds"])
                        stopped += 1
                    elif clock.paused_at is None:
                        before = clock.due_at
                        _recompute(clock, spec, pauses, now, time_class=work_order.time_class)
                        clock.save()
                        opened += 1
                        moved += clock.due_at != before
    with transaction.atomic():
        record(
            actor=None,
            action=AuditAction.UPDATE,
            event="supervision.recompute_deadlines",
            object_type="org.workingcalendar",
            object_id=calendar_id or "",
            object_label=f"calendar {calendar_id} {region_path or 'national'}",
            changes={
                "dates": [day.isoformat() for day in sorted(dates)] if dates else None,
                "open_clocks": opened,
                "due_times_moved": moved,
                "stopped_clocks": stopped,
            },
            reason="working calendar changed",
        )
    return Recomputed(opened, moved, stopped)
