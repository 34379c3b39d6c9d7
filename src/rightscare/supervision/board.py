"""Reads of the supervision board: what is overdue in a supervisor's subtree, by unit, with its chases.

The scope is ``services.supervised_work_orders`` (the units and area her supervising
memberships cover, built on :mod:`rightscare.org.access`); "overdue" is a running clock past
its due time (``models.overdue_q``). Counts are aggregated in the database; a page of rows
takes a fixed number of queries plus two per working calendar its units use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone

from rightscare.cases.deadlines import calendar_for
from rightscare.cases.models import WorkOrder
from rightscare.core import workcalendar
from rightscare.org.models import Unit
from rightscare.supervision.chasing import CHASEABLE_STATUSES, highest_level
from rightscare.supervision.models import CHASE_LEVELS, CLOCK_ORDER, Chase, ChaseLevel, ClockKind, WorkOrderClock, overdue_q
from rightscare.supervision.services import supervised_open_work_orders, supervised_work_orders

#: Calendars already read during one page, by region id (each costs two queries).
CalendarCache = dict[int, workcalendar.CalendarSpec]


def overdue_work_orders(*, by: Any, at: datetime | None = None, unit: Unit | None = None) -> QuerySet[WorkOrder]:
    """Work orders in her supervision with a running clock past its due time, the longest overdue first.

    Each carries ``oldest_due_at`` (its earliest missed due time); ``unit`` narrows the list
    to one unit (a unit outside her scope finds nothing).
    """
    at = at or timezone.now()
    late = WorkOrderClock.objects.filter(overdue_q(at), work_order=OuterRef("pk"))
    orders = supervised_open_work_orders(by, CHASEABLE_STATUSES).filter(Exists(late))
    if unit is not None:
        orders = orders.filter(unit=unit)
    oldest = late.order_by("due_at").values("due_at")[:1]
    return orders.annotate(oldest_due_at=Subquery(oldest)).order_by("oldest_due_at", "id")


@dataclass(frozen=True)
class UnitSummary:
    """One unit's line on the board: how many of its work orders are overdue, and how many are chased at each level."""

    unit: Unit
    overdue: int
    reminder: int
    supervision: int
    listed: int


def unit_summaries(*, by: Any, at: datetime | None = None) -> list[UnitSummary]:
    """The board's table by unit, most overdue first (three queries)."""
    at = at or timezone.now()
    orders = overdue_work_orders(by=by, at=at).order_by()
    counts = {row["unit_id"]: row["n"] for row in orders.values("unit_id").annotate(n=Count("id"))}
    if not counts:
        return []
    levels: dict[tuple[int, str], int] = {
        (row["work_order__unit_id"], row["level"]): row["n"]
        for row in Chase.objects.filter(work_order__in=orders.values("pk"))
        .values("work_order__unit_id", "level")
        .annotate(n=Count("work_order_id", distinct=True))
    }
    units = Unit.objects.filter(pk__in=counts).select_related("kind")
    summaries = [UnitSummary(u, counts[u.pk], *(levels.get((u.pk, level), 0) for level in CHASE_LEVELS)) for u in units]
    return sorted(summaries, key=lambda s: (-s.listed, -s.supervision, -s.overdue, s.unit.path))


@dataclass(frozen=True)
class OverdueClock:
    """A clock past its due time, with how far past it (working days on the unit's calendar; days for a 24/7 clock)."""

    kind: str
    due_at: datetime
    overdue_days: Decimal
    working_time: bool

    @property
    def label(self) -> str:
        return str(ClockKind(self.kind).label)


@dataclass(frozen=True)
class OverdueRow:
    """One overdue work order on the board: its late clocks, its chases and the level it reached."""

    order: WorkOrder
    clocks: list[OverdueClock]
    chases: list[Chase]
    level: str

    @property
    def overdue_days(self) -> Decimal:
        return max((c.overdue_days for c in self.clocks), default=Decimal(0))

    @property
    def level_label(self) -> str:
        return str(ChaseLevel(self.level).label) if self.level else ""

    @property
    def awaiting_answer(self) -> list[Chase]:
        return [c for c in self.chases if c.needs_answer and c.answered_at is None]


def with_details(orders: QuerySet[WorkOrder], at: datetime) -> QuerySet[WorkOrder]:
    """``orders`` with what a row shows loaded in bulk: the case, the unit, the late clocks, the chases."""
    return orders.select_related("case__category", "unit__region", "sent_by_unit").prefetch_related(
        Prefetch("clocks", queryset=WorkOrderClock.objects.filter(overdue_q(at)).select_related("policy"), to_attr="late_clocks"),
        Prefetch("chases", queryset=Chase.objects.select_related("by_unit", "by", "answered_by", "clock").order_by("at", "id"), to_attr="chase_list"),
    )


def _working_days(spec: workcalendar.CalendarSpec, first: date, last: date) -> int:
    """How many working days lie in ``first`` ≤ day < ``last`` (weekdays, minus holidays, plus make-up days)."""
    span = (last - first).days
    weeks, rest = divmod(span, 7)
    count = weeks * 5 + sum(1 for offset in range(rest) if (first + timedelta(days=weeks * 7 + offset)).weekday() < 5)
    count -= sum(1 for day in spec.holiday_dates if first <= day < last and day.weekday() < 5 and day not in spec.extra_working_dates)
    count += sum(1 for day in spec.extra_working_dates if first <= day < last and day.weekday() >= 5)
    return count


def working_time_between(spec: workcalendar.CalendarSpec, begin: datetime, end: datetime) -> timedelta:
    """``workcalendar.measure_working_time(spec, begin, end).duration``, in constant time for long spans.

    The generic measure walks every day between: a work order left lying for years costs
    tens of milliseconds per clock on the board. Here only the first and the last day are
    measured, the whole days between are counted.
    """
    first, last = begin.astimezone(spec.zone).date(), end.astimezone(spec.zone).date()
    if end <= begin or (last - first).days < 3:
        return workcalendar.measure_working_time(spec, begin, end).duration
    whole = first + timedelta(days=1)
    head = workcalendar.measure_working_time(spec, begin, spec.local(whole, time(0))).duration
    tail = workcalendar.measure_working_time(spec, spec.local(last, time(0)), end).duration
    return head + tail + spec.working_day_length * _working_days(spec, whole, last)


def overdue_days(clock: WorkOrderClock, unit: Unit, at: datetime, calendars: CalendarCache) -> Decimal:
    """How long ``clock`` has been overdue at ``at``, in working days of the unit's calendar (one decimal)."""
    if clock.policy.runs_on_working_time:
        spec = calendars.get(unit.region_id)
        if spec is None:
            spec = calendars.setdefault(unit.region_id, calendar_for(unit))
        late = working_time_between(spec, clock.due_at, at)
        days = Decimal(late.total_seconds()) / Decimal(spec.working_day_length.total_seconds())
    else:
        days = Decimal((at - clock.due_at).total_seconds()) / Decimal(timedelta(days=1).total_seconds())
    return max(days, Decimal(0)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def row_of(order: WorkOrder, at: datetime, calendars: CalendarCache) -> OverdueRow:
    """The board's row of a work order loaded through :func:`with_details`."""
    late: list[WorkOrderClock] = sorted(getattr(order, "late_clocks", []), key=lambda c: CLOCK_ORDER.index(c.kind))
    chases: list[Chase] = list(getattr(order, "chase_list", []))
    clocks = [OverdueClock(c.kind, c.due_at, overdue_days(c, order.unit, at, calendars), c.policy.runs_on_working_time) for c in late]
    return OverdueRow(order=order, clocks=clocks, chases=chases, level=highest_level(c.level for c in chases))


def recent_answers(*, by: Any, limit: int = 20) -> list[Chase]:
    """The latest answers of the units she supervises (whether or not their work orders are still overdue)."""
    return list(
        Chase.objects.filter(work_order__in=supervised_work_orders(by).values("pk"), answered_at__isnull=False)
        .select_related("work_order__case", "work_order__unit", "by_unit", "by", "answered_by")
        .order_by("-answered_at", "-id")[:limit]
    )
