"""The supervision side of ``rightscare bench-data``: clocks, pauses, extensions, chases, safety follow-ups.

:class:`BenchSupervision` replays, for every generated work order, what the hooks of
:mod:`rightscare.supervision.clocks` and the sweep of :mod:`rightscare.supervision.sweep`
would have written along its history, up to the generator's ``until``:

* the **four clocks** (presets from :func:`~rightscare.supervision.clocks.current_policies` and
  :func:`~rightscare.supervision.clocks.policies_for` by the case's urgency and the order's time
  class), started when the order was sent; sign-for stopped at sign-for, first contact at the
  first contact, every running clock at completion (``done``) or return (``returned``), with
  ``breached`` and the handling time in working seconds as ``clocks._stop`` sets them;
* a **send-back** at review: a closed :class:`ClockPause` (reason ``review``) from completion to
  the send-back, the resolution clock continuing on it, the update clock restarted;
* a few **approved extensions** (3 % of the completed complex orders) with their request and
  decision events and ``extended_by_days`` on the resolution clock;
* clocks still **running at** ``until``: the warnings and the deadline as the sweep leaves them
  (``warned_half_at``, ``warned_late_at``, ``due_notified_at``, ``breached``, ``next_check_at``);
* for every work order **overdue at** ``until``: the automatic reminders (催办) at the due times,
  supervision (督办) by the parent unit ``SUPERVISION_AFTER_WORKING_DAYS`` working days later and
  listing by the city (挂牌督办) ``SUPERVISION_LISTED_AFTER_WORKING_DAYS`` after that, as
  ``sweep._consider_escalation`` climbs, each with its timeline event;
* a **safety follow-up** for every resolved domestic-violence or child-protection case, opened
  by the system at resolution, ended by the dispatching unit's dispatcher with a reason (most
  within two weeks, some after months); one still open at ``until`` keeps the case from closing,
  and its overdue review is reminded and escalated as the sweep does.

Simplifications (documented in the generator's docstring too): progress notes do not restart
the update clock (it restarts at the first contact and at a send-back only); the sweep's history
before ``until`` is not replayed for work that was finished by then (no warning events, no
reminders of deadlines missed by orders completed since, no ``warned_*`` stamps on stopped
clocks); no audit entries and no messages, like the rest of the generator.

The calendar arithmetic is the working calendar's own, computed from a table of cumulative
working time per day (:class:`FastCalendar`) because the generic functions walk day by day
(2 ms per 15-working-day deadline, 0.5 ms per handling time: hours at a million cases);
``tests/cases/test_bench_data.py`` checks every generated instant against
:mod:`rightscare.supervision.clocks`.
"""

from __future__ import annotations

import bisect
import datetime
import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rightscare.core.workcalendar import CalendarSpec
from rightscare.org.divisions import RegionLevel
from rightscare.supervision import chasing, clocks
from rightscare.supervision.models import (
    CLOCK_ORDER,
    Chase,
    ChaseLevel,
    ClockKind,
    ClockPause,
    ClockPolicy,
    ClockUnit,
    DayUnit,
    Extension,
    PauseReason,
    SafetyFollowUp,
    StopReason,
    WorkOrderClock,
)

UTC = datetime.UTC
Interval = tuple[datetime.datetime, datetime.datetime]
ONE_DAY = datetime.timedelta(days=1)

#: Share of completed complex work orders with an approved extension of their resolution clock.
EXTENDED = 0.03
#: Share of safety follow-ups kept for months (the others end within the first review period).
LONG_FOLLOW_UP = 0.15
#: Statuses in which a work order is still with its unit (the sweep chases those).
CHASEABLE = frozenset({"sent", "signed", "in_progress"})
END_REASONS = ("她已搬离施暴者住所，情况稳定。", "人身安全保护令已生效，经回访无新的风险。", "孩子已由监护人妥善照料，社区持续关注。")


class FastCalendar:
    """Working-time arithmetic on one calendar from a table of cumulative working time per local day.

    ``worked(t)`` is the working time (µs) from the table's first day to ``t``; everything else
    follows: the working time between two instants is a difference, and the instant at which an
    amount has run is found by bisection. The results are those of :mod:`rightscare.core.workcalendar`
    (earliest instant, periods end-exclusive) for instants within the table's days.
    """

    def __init__(self, spec: CalendarSpec, first: datetime.date, last: datetime.date) -> None:
        self.spec = spec
        self.first = first
        self.day_us = _us(spec.working_day_length)
        self.cumulative: list[int] = [0]
        self.periods: list[tuple[tuple[datetime.datetime, datetime.datetime, int], ...]] = []
        day = first
        while day <= last:
            periods: tuple[tuple[datetime.datetime, datetime.datetime, int], ...] = ()
            if spec.is_working_day(day):
                bounds = [(spec.local(day, start), spec.local(day, end)) for start, end in spec.working_periods]
                periods = tuple((begin, end, _us(end - begin)) for begin, end in bounds)
            self.periods.append(periods)
            self.cumulative.append(self.cumulative[-1] + sum(length for _b, _e, length in periods))
            day += ONE_DAY

    def _index(self, instant: datetime.datetime) -> int:
        index = (instant.astimezone(self.spec.zone).date() - self.first).days
        if not 0 <= index < len(self.periods):
            raise ValueError(f"{instant} lies outside the bench calendar's table")
        return index

    def worked(self, instant: datetime.datetime) -> int:
        index = self._index(instant)
        total = self.cumulative[index]
        for begin, end, length in self.periods[index]:
            if instant >= end:
                total += length
            elif instant > begin:
                total += _us(instant - begin)
        return total

    def instant(self, worked: int) -> datetime.datetime:
        """The earliest instant by which ``worked`` µs of working time have run."""
        index = bisect.bisect_left(self.cumulative, worked) - 1
        remaining = worked - self.cumulative[index]
        for begin, _end, length in self.periods[index]:
            if remaining <= length:
                return begin + datetime.timedelta(microseconds=remaining)
            remaining -= length
        raise AssertionError("cumulative table out of step")

    def end_of_day(self, instant: datetime.datetime) -> datetime.datetime:
        local = instant.astimezone(self.spec.zone)
        midnight = self.spec.local(local.date(), datetime.time(0))
        return instant if midnight == instant else self.spec.local(local.date() + ONE_DAY, datetime.time(0))

    def between(self, begin: datetime.datetime, end: datetime.datetime, pauses: Sequence[Interval] = ()) -> int:
        """Working µs from ``begin`` to ``end`` (``end`` ≥ ``begin``) outside the pauses."""
        total = self.worked(end) - self.worked(begin)
        for start, stop in _merged(pauses):
            start, stop = max(start, begin), min(stop, end)
            if stop > start:
                total -= self.worked(stop) - self.worked(start)
        return total

    def advance(self, begin: datetime.datetime, amount: int, pauses: Sequence[Interval] = ()) -> datetime.datetime:
        """The earliest instant by which ``amount`` µs of working time after ``begin`` have run outside the pauses."""
        if amount <= 0:
            return begin
        position, remaining = begin, amount
        for start, stop in _merged(pauses):
            if stop <= position:
                continue
            start = max(start, position)
            available = self.worked(start) - self.worked(position)
            if remaining <= available:
                break
            remaining -= available
            position = stop
        return self.instant(self.worked(position) + remaining)


def _us(duration: datetime.timedelta) -> int:
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


def _merged(pauses: Sequence[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, stop in sorted(pauses):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


@dataclass
class _Clock:
    kind: str
    policies: list[ClockPolicy]
    row: dict[str, Any]


@dataclass
class _Chase:
    at: datetime.datetime
    level: str
    clock: _Clock
    by_unit: int
    escalate_at: datetime.datetime | None
    extra: dict[str, Any] = field(default_factory=dict)
    row: dict[str, Any] = field(default_factory=dict)


class BenchSupervision:
    """What the supervision app would have written for the generator's work orders (see the module docstring)."""

    def __init__(self, bench: Any, seed: int) -> None:
        self.bench = bench
        self.rng = random.Random(f"supervision-{seed}")  # its own stream: the cases stay those of earlier runs
        self.until: datetime.datetime = bench.until
        self.spec: CalendarSpec = bench.calendar
        first = (self.until - datetime.timedelta(days=365 * bench.years + 60)).astimezone(self.spec.zone).date()
        self.fast = FastCalendar(self.spec, first, self.until.astimezone(self.spec.zone).date() + datetime.timedelta(days=3 * 365))
        self.policies = clocks.current_policies()
        self.cache: dict[tuple[Any, ...], clocks.Deadline] = {}
        self.supervision_after = int(settings.SUPERVISION_AFTER_WORKING_DAYS)
        self.listed_after = int(settings.SUPERVISION_LISTED_AFTER_WORKING_DAYS)
        self.review_days = int(settings.SAFETY_REVIEW_DAYS)
        self.escalate_after = datetime.timedelta(days=int(settings.SAFETY_ESCALATE_AFTER_DAYS))

    # --- deadlines ---------------------------------------------------------------------------

    def _deadline(self, policy: ClockPolicy, start: datetime.datetime, pauses: Sequence[Interval], extended: int, day_unit: str) -> clocks.Deadline:
        """``clocks.compute_deadline`` on the bench calendar, in table arithmetic where the preset allows it."""
        unit = policy.unit
        working = unit in (ClockUnit.WORKING_DAYS, ClockUnit.WORKING_HOURS)
        if unit == ClockUnit.CALENDAR_DAYS or (extended and (day_unit != DayUnit.WORKING or not working)) or (pauses and not working):
            return clocks.compute_deadline(self.spec, policy, start, pauses=pauses, extended_by_days=extended, day_unit=day_unit)
        if not working:
            amount = datetime.timedelta(minutes=policy.amount) if unit == ClockUnit.MINUTES else datetime.timedelta(hours=policy.amount)
            due = start + amount
            total = due - start
            return clocks.Deadline(policy, due, start + total / 2, start + total * 4 / 5)
        fast = self.fast
        if unit == ClockUnit.WORKING_DAYS:
            begin = fast.end_of_day(start)
            due = fast.advance(begin, policy.amount * fast.day_us, pauses)
        else:
            begin = start
            due = fast.advance(begin, policy.amount * 3_600_000_000, pauses)
        if extended:
            due = fast.advance(fast.end_of_day(due), extended * fast.day_us, pauses)
        begin = min(begin, due)
        total = datetime.timedelta(microseconds=fast.between(begin, due, pauses))
        if total <= datetime.timedelta(0):
            return clocks.Deadline(policy, due, due, due)
        half = fast.advance(begin, _us(total / 2), pauses)
        late = fast.advance(begin, _us(total * 4 / 5), pauses)
        return clocks.Deadline(policy, due, half, late)

    def deadline(
        self, chosen: list[ClockPolicy], start: datetime.datetime, pauses: Sequence[Interval] = (), extended: int = 0, day_unit: str = "working"
    ) -> clocks.Deadline:
        """``clocks.earliest_deadline``; day-based presets without pauses cached by the start's local date."""
        key: tuple[Any, ...] | None = None
        if not pauses and not extended and all(p.unit in (ClockUnit.WORKING_DAYS, ClockUnit.CALENDAR_DAYS) for p in chosen):
            local = start.astimezone(self.spec.zone)
            if local.time() != datetime.time(0):
                key = (tuple(p.pk for p in chosen), local.date())
                found = self.cache.get(key)
                if found is not None:
                    return found
        result = min((self._deadline(p, start, pauses, extended, day_unit) for p in chosen), key=lambda d: d.due_at)
        if key is not None:
            self.cache[key] = result
        return result

    def after_due(self, clock: _Clock, days: int) -> datetime.datetime:
        """``sweep._after_due``: working days after the due time (days of 24 hours for a 24/7 clock)."""
        due = clock.row["due_at"]
        if clock.row["policy"].runs_on_working_time:
            return self.fast.advance(self.fast.end_of_day(due), days * self.fast.day_us)
        return due + datetime.timedelta(days=days)

    def handling(self, begin: datetime.datetime, end: datetime.datetime, pauses: Sequence[Interval]) -> int:
        """``clocks.measure_handling``: working seconds, pauses excluded."""
        return self.fast.between(begin, end, pauses) // 1_000_000 if end >= begin else -(self.fast.between(end, begin, pauses) // 1_000_000)

    # --- the clocks of one work order ------------------------------------------------------

    def _start(self, order: Any, urgency: str, at: datetime.datetime) -> dict[str, _Clock]:
        result = {}
        for kind in CLOCK_ORDER:
            chosen = clocks.policies_for(urgency, order.row["time_class"], kind, self.policies)
            if not chosen:
                continue
            deadline = self.deadline(chosen, at)
            other = next((p for p in chosen if p.pk != deadline.policy.pk), None)
            row = {
                "work_order_id": order.row["id"],
                "kind": kind,
                "policy": deadline.policy,
                "alternative_policy_id": other.pk if other is not None else None,
                "started_at": at,
                "due_at": deadline.due_at,
                "original_due_at": deadline.due_at,
                "half_at": deadline.half_at,
                "late_at": deadline.late_at,
                "stopped_at": None,
                "stop_reason": "",
                "paused_at": None,
                "paused_total": datetime.timedelta(0),
                "extended_by_days": 0,
                "next_check_at": None,
                "warned_half_at": None,
                "warned_late_at": None,
                "due_notified_at": None,
                "elapsed_working_seconds": None,
                "breached": False,
                "restarts": 0,
            }
            result[kind] = _Clock(kind, chosen, row)
        return result

    def _apply(self, clock: _Clock, deadline: clocks.Deadline) -> None:
        clock.row.update(policy=deadline.policy, due_at=deadline.due_at, half_at=deadline.half_at, late_at=deadline.late_at)

    def _stop(self, clock: _Clock, at: datetime.datetime, reason: str, pauses: list[Interval]) -> None:
        row = clock.row
        if row["stopped_at"] is not None:
            return
        row.update(stopped_at=at, stop_reason=reason, breached=row["breached"] or at > row["due_at"])
        row["elapsed_working_seconds"] = self.handling(row["started_at"], at, pauses)

    def _restart_update(self, clock: _Clock | None, at: datetime.datetime, pauses: list[Interval]) -> None:
        if clock is None:
            return
        row = clock.row
        if row["stopped_at"] is not None and row["stop_reason"] == StopReason.DONE:
            row.update(stopped_at=None, stop_reason="", elapsed_working_seconds=None)  # sent back after completion
        elif row["stopped_at"] is not None:
            return
        else:
            row["breached"] = row["breached"] or at > row["due_at"]
        row.update(started_at=at, restarts=row["restarts"] + 1, extended_by_days=0)
        self._apply(clock, self.deadline(clock.policies, at, pauses))

    def work_order(self, order: Any, case: dict[str, Any], event: Callable[..., None]) -> None:
        """Write the clocks (and pause, extension, chases) of one work order whose history is final."""
        bench = self.bench
        rng = self.rng
        history: list[tuple[datetime.datetime, str]] = order.history
        sent_at = history[0][0]
        time_class = order.row["time_class"]
        day_unit = clocks.extension_day_unit(time_class)
        own = self._start(order, case["urgency"], sent_at)
        pauses: list[Interval] = []
        # An extension for some completed complex orders, decided before the (last) completion.
        extension: tuple[datetime.datetime, datetime.datetime, int] | None = None
        statuses = [status for _when, status in history]
        if time_class == "complex" and "completed" in statuses and statuses.count("completed") == 1 and rng.random() < EXTENDED:
            contacted = next(when for when, status in history if status == "in_progress")
            completed = next(when for when, status in history if status == "completed")
            deadline = own[ClockKind.RESOLUTION].row["due_at"] if ClockKind.RESOLUTION in own else completed
            requested = contacted + (min(deadline, completed) - contacted) * rng.uniform(0.3, 0.8)
            decided = requested + datetime.timedelta(hours=rng.uniform(0.5, 20))
            if decided < completed:
                extension = (requested, decided, rng.randint(3, 10))
        previous = "sent"
        steps: list[tuple[datetime.datetime, str]] = list(history[1:])
        if extension is not None:
            steps.append((extension[1], "extended"))
            steps.sort(key=lambda step: step[0])
        last_completed: datetime.datetime | None = None
        for when, status in steps:
            if status == "extended":
                assert extension is not None
                resolution = own.get(ClockKind.RESOLUTION)
                if resolution is not None:
                    row = resolution.row
                    row["extended_by_days"] += extension[2]
                    if row["stopped_at"] is None:
                        self._apply(resolution, self.deadline(resolution.policies, row["started_at"], pauses, row["extended_by_days"], day_unit))
                        if row["due_at"] > when:
                            row["breached"] = False
                continue
            if status == "signed" and ClockKind.SIGN_FOR in own:
                self._stop(own[ClockKind.SIGN_FOR], when, StopReason.DONE, pauses)
            elif status == "in_progress" and previous == "signed":
                if ClockKind.FIRST_CONTACT in own:
                    self._stop(own[ClockKind.FIRST_CONTACT], when, StopReason.DONE, pauses)
                self._restart_update(own.get(ClockKind.UPDATE), when, pauses)
            elif status == "in_progress" and previous == "completed":
                if last_completed is not None and last_completed < when:
                    pauses.append((last_completed, when))
                    bench.writer.add(
                        ClockPause,
                        {
                            "id": bench.ids(ClockPause),
                            "work_order_id": order.row["id"],
                            "reason_code": PauseReason.REVIEW,
                            "reason": "",
                            "started_at": last_completed,
                            "ended_at": when,
                            "started_by_id": None,
                            "ended_by_id": None,
                        },
                    )
                resolution = own.get(ClockKind.RESOLUTION)
                if resolution is not None and resolution.row["stop_reason"] == StopReason.DONE:
                    row = resolution.row
                    row.update(stopped_at=None, stop_reason="", elapsed_working_seconds=None)
                    self._apply(resolution, self.deadline(resolution.policies, row["started_at"], pauses, row["extended_by_days"], day_unit))
                self._restart_update(own.get(ClockKind.UPDATE), when, pauses)
            elif status == "completed":
                last_completed = when
                for clock in own.values():
                    self._stop(clock, when, StopReason.DONE, pauses)
            elif status in ("returned", "transferred"):
                for clock in own.values():
                    self._stop(clock, when, status, pauses)
            previous = status
        if extension is not None:
            self._extension(order, extension, event)
        overdue = order.status in CHASEABLE and any(c.row["stopped_at"] is None and c.row["due_at"] <= self.until for c in own.values())
        for clock in own.values():
            row = clock.row
            if row["stopped_at"] is None:
                # As the sweep leaves a running clock: every threshold passed acted on.
                for instant, stamp in (("half_at", "warned_half_at"), ("late_at", "warned_late_at"), ("due_at", "due_notified_at")):
                    if row[instant] is not None and row[instant] <= self.until:
                        row[stamp] = row[instant]
                if row["due_at"] <= self.until:
                    row["breached"] = True
                row["next_check_at"] = clocks.next_check(SimpleNamespace(**row))  # type: ignore[arg-type]
            elif overdue and row["stopped_at"] > row["due_at"]:
                # Missed while the order is still chased: the sweep saw it when it ran out.
                row.update(warned_half_at=row["half_at"], warned_late_at=row["late_at"], due_notified_at=row["due_at"], breached=True)
        for clock in own.values():
            row = clock.row
            row["id"] = bench.ids(WorkOrderClock)
            row["policy_id"] = row.pop("policy").pk
            bench.writer.add(WorkOrderClock, row)
            row["policy"] = next(p for p in clock.policies if p.pk == row["policy_id"])
        if overdue:
            self._chases(order, case, own, event)
        for clock in own.values():
            del clock.row["policy"]

    def _extension(self, order: Any, extension: tuple[datetime.datetime, datetime.datetime, int], event: Callable[..., None]) -> None:
        bench = self.bench
        requested, decided, days = extension
        pk = bench.ids(Extension)
        handler = order.unit.handler
        decider = order.row["sent_by_id"]
        reason = "需等待劳动仲裁结果，申请延期。"
        with translation.override(settings.LANGUAGE_CODE):
            unit_label = str(DayUnit.WORKING.label)
            asked = _("More time asked for: %(days)d %(unit)s. %(reason)s") % {"days": days, "unit": unit_label, "reason": reason}
            approved = _("More time approved: %(days)d %(unit)s.") % {"days": days, "unit": unit_label}
        bench.writer.add(
            Extension,
            {
                "id": pk,
                "work_order_id": order.row["id"],
                "requested_by_id": handler,
                "requested_at": requested,
                "reason": reason,
                "days": days,
                "day_unit": DayUnit.WORKING,
                "status": "approved",
                "needs_supervisor": False,
                "decided_by_id": decider,
                "decided_at": decided,
                "decision_note": "",
                "created_at": requested,
                "updated_at": decided,
            },
        )
        wo = order.row["id"]
        event(
            requested,
            "extension_requested",
            actor_id=handler,
            unit_id=order.unit.pk,
            work_order_id=wo,
            text=asked,
            data={"supervision": "extension_requested", "extension": pk, "days": days, "day_unit": DayUnit.WORKING},
        )
        event(
            decided,
            "extension_decided",
            actor_id=decider,
            unit_id=order.row["sent_by_unit_id"],
            work_order_id=wo,
            text=approved,
            public_text=gettext_noop("The handling time of your request has been extended."),
            visibility="public",
            data={"supervision": "extension_decided", "extension": pk, "approved": True},
        )

    # --- the sweep's chases -------------------------------------------------------------------

    def parent_unit(self, order: Any) -> int:
        """``chasing.parent_unit`` on the generator's units."""
        unit = order.unit.pk
        parent = self.bench.unit_parent.get(unit)
        if parent is not None:
            return parent
        sender: int = order.row["sent_by_unit_id"]
        return sender if sender != unit else unit

    def city_unit(self, unit: int) -> int:
        """``chasing.city_unit`` on the generator's units."""
        bench = self.bench
        while bench.unit_level[unit] != RegionLevel.CITY and bench.unit_parent.get(unit) is not None:
            unit = bench.unit_parent[unit]
        return unit

    def _chases(self, order: Any, case: dict[str, Any], own: dict[str, _Clock], event: Callable[..., None]) -> None:
        """The reminders and escalations the sweep wrote for an order overdue at ``until``."""
        until = self.until
        chases: list[_Chase] = []
        levels: set[str] = set()
        parent = self.parent_unit(order)
        emergency = case["urgency"] == "emergency"
        queue: list[tuple[datetime.datetime, int, _Chase]] = []
        counter = 0

        def push(chase: _Chase) -> None:
            nonlocal counter
            chases.append(chase)
            if chase.escalate_at is not None and chase.escalate_at <= until:
                counter += 1
                heapq.heappush(queue, (chase.escalate_at, counter, chase))

        missed = sorted((c for c in own.values() if c.row["due_notified_at"] is not None), key=lambda c: (c.row["due_at"], c.row["id"]))
        for clock in missed:
            due = clock.row["due_at"]
            at_once = clock.kind == ClockKind.SIGN_FOR and emergency
            push(_Chase(due, ChaseLevel.REMINDER, clock, parent, None if at_once else self.after_due(clock, self.supervision_after)))
            if at_once and ChaseLevel.SUPERVISION not in levels:
                levels.add(ChaseLevel.SUPERVISION)
                push(_Chase(due, ChaseLevel.SUPERVISION, clock, parent, self.after_due(clock, self.listed_after), extra={"emergency": True, "on_duty": None}))

        def status_at(moment: datetime.datetime) -> str:
            return next(status for when, status in reversed(order.history) if when <= moment)

        while queue:
            moment, _n, chase = heapq.heappop(queue)
            if chase.escalate_at != moment:
                continue
            level = {ChaseLevel.REMINDER: ChaseLevel.SUPERVISION, ChaseLevel.SUPERVISION: ChaseLevel.LISTED}.get(ChaseLevel(chase.level))
            if level is None or status_at(moment) not in CHASEABLE:
                chase.escalate_at = None
                continue
            running = [
                c
                for c in own.values()
                if c.row["started_at"] <= moment and (c.row["stopped_at"] is None or c.row["stopped_at"] > moment) and c.row["due_at"] <= moment
            ]
            if not running:
                chase.escalate_at = None
                continue
            oldest = min(running, key=lambda c: (c.row["due_at"], c.row["id"]))
            target = self.after_due(oldest, self.supervision_after if level == ChaseLevel.SUPERVISION else self.listed_after)
            if target > moment:
                chase.escalate_at = target
                if target <= until:
                    counter += 1
                    heapq.heappush(queue, (target, counter, chase))
                continue
            chase.escalate_at = None
            if level in levels:
                continue
            levels.add(level)
            by_unit = parent if level == ChaseLevel.SUPERVISION else self.city_unit(parent)
            push(_Chase(moment, level, oldest, by_unit, self.after_due(oldest, self.listed_after) if level == ChaseLevel.SUPERVISION else None))
        bench = self.bench
        for chase in sorted(chases, key=lambda c: c.at):
            pk = bench.ids(Chase)
            bench.writer.add(
                Chase,
                {
                    "id": pk,
                    "work_order_id": order.row["id"],
                    "level": chase.level,
                    "by_unit_id": chase.by_unit,
                    "by_id": None,
                    "at": chase.at,
                    "comment": "",
                    "needs_answer": chase.level != ChaseLevel.REMINDER,
                    "answer": "",
                    "answered_at": None,
                    "answered_by_id": None,
                    "automatic": True,
                    "clock_id": chase.clock.row["id"],
                    "clock_due_at": chase.clock.row["due_at"],
                    "escalate_at": chase.escalate_at,
                },
            )
            described = SimpleNamespace(
                automatic=True,
                level=chase.level,
                clock=SimpleNamespace(kind=chase.clock.kind),
                clock_due_at=chase.clock.row["due_at"],
                by_unit=SimpleNamespace(name=bench.units_by_pk[chase.by_unit].name),
                comment="",
            )
            with translation.override(settings.LANGUAGE_CODE):
                text = chasing.chase_text(described)  # type: ignore[arg-type]
            event(
                chase.at,
                "chased",
                unit_id=chase.by_unit,
                work_order_id=order.row["id"],
                text=text,
                data={"supervision": "chase", "chase": pk, "level": chase.level, "automatic": True, **chase.extra},
            )

    # --- safety follow-up ----------------------------------------------------------------------

    def follow_up(self, case: dict[str, Any], unit: Any, resolved_at: datetime.datetime, event: Callable[..., None]) -> datetime.datetime | None:
        """The follow-up opened when a sensitive case was resolved; return when it ended (None: open at ``until``)."""
        bench = self.bench
        rng = self.rng
        until = self.until
        pk = bench.ids(SafetyFollowUp)
        long = rng.random() < LONG_FOLLOW_UP
        ended_at = resolved_at + datetime.timedelta(days=rng.uniform(20, 300) if long else rng.uniform(2, 13))
        ended = ended_at <= until
        next_review = resolved_at + datetime.timedelta(days=self.review_days)
        horizon = ended_at if ended else until
        with translation.override(settings.LANGUAGE_CODE):
            reason = _("The dispute is resolved; her safety is followed up until a person ends the follow-up.")
            opened = _("Safety follow-up opened with %(unit)s; first review due %(due)s.") % {"unit": unit.name, "due": _local(next_review)}
            reminder_text = _("The safety review was due %(due)s: check on her safety.") % {"due": _local(next_review)}
            parent = bench.units_by_pk[bench.unit_parent.get(unit.pk) or unit.pk]
            escalation_text = _("The safety review due %(due)s is overdue; %(unit)s has been told.") % {"due": _local(next_review), "unit": parent.name}
        event(resolved_at, "safety_opened", unit_id=unit.pk, text=f"{opened} {reason}".strip(), data={"safety_follow_up": pk, "automatic": True})
        reminded = next_review if next_review <= horizon else None
        escalated = next_review + self.escalate_after if reminded is not None and next_review + self.escalate_after <= horizon else None
        for when, step, step_unit, text in ((reminded, "reminder", unit, reminder_text), (escalated, "escalation", parent, escalation_text)):
            if when is not None:
                event(when, "deadline_warning", unit_id=step_unit.pk, text=text, data={"safety_follow_up": pk, "step": step, "due_at": next_review.isoformat()})
        row = {
            "id": pk,
            "case_id": case["id"],
            "unit_id": unit.pk,
            "reason": reason,
            "review_every_days": self.review_days,
            "opened_at": resolved_at,
            "opened_by_id": None,
            "next_review_at": next_review,
            "reminded_at": reminded,
            "escalated_at": escalated,
            "next_check_at": None,
            "ended_at": None,
            "ended_by_id": None,
            "end_reason": "",
            "created_at": resolved_at,
            "updated_at": max(filter(None, (resolved_at, reminded, escalated))),
        }
        if ended:
            by = unit.dispatcher or unit.handler
            end_reason = rng.choice(END_REASONS)
            row.update(ended_at=ended_at, ended_by_id=by, end_reason=end_reason, updated_at=ended_at)
            event(ended_at, "safety_ended", actor_id=by, unit_id=unit.pk, text=end_reason, data={"safety_follow_up": pk})
        else:
            row["next_check_at"] = next_review if reminded is None else (next_review + self.escalate_after if escalated is None else None)
        bench.writer.add(SafetyFollowUp, row)
        return ended_at if ended else None


def _local(instant: datetime.datetime) -> str:
    return timezone.localtime(instant).strftime("%Y-%m-%d %H:%M")


def check_against_services(spec: CalendarSpec, clock: Any, pauses: Sequence[Interval], time_class: str) -> list[str]:
    """Differences between a generated clock and what :mod:`rightscare.supervision.clocks` computes (tests use it)."""
    found = []
    policies = [clock.policy, *([clock.alternative_policy] if clock.alternative_policy is not None else [])]
    deadline = clocks.earliest_deadline(
        spec, policies, clock.started_at, pauses=pauses, extended_by_days=clock.extended_by_days, day_unit=clocks.extension_day_unit(time_class)
    )
    for name in ("due_at", "half_at", "late_at"):
        if getattr(deadline, name) != getattr(clock, name):
            found.append(f"clock {clock.pk} ({clock.kind}): {name} {getattr(clock, name)} ≠ {getattr(deadline, name)}")
    if clock.stopped_at is not None:
        elapsed = clocks.measure_handling(spec, clock.started_at, clock.stopped_at, pauses)
        if elapsed != clock.elapsed_working_seconds:
            found.append(f"clock {clock.pk} ({clock.kind}): elapsed {clock.elapsed_working_seconds} ≠ {elapsed}")
    return found
