"""Reads of the deadlines for pages, lists and the API: overdue marks without a loop over rows.

``overdue_work_order_q`` / ``overdue_case_q`` (and the ``annotate_*`` helpers) let any list
filter or mark what is overdue in SQL; ``marks_for_*`` read the clocks of one page of a list
in a single query and say, per row, which deadline is the most pressing and its state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from rightscare.cases.models import Case, WorkOrder
from rightscare.supervision.models import (
    CLOCK_ORDER,
    ClockKind,
    ClockPause,
    ClockState,
    Extension,
    ExtensionStatus,
    WorkOrderClock,
    clock_state,
    overdue_q,
)

#: States that put a row on the late side of a list.
ALARMING = frozenset({ClockState.OVERDUE, ClockState.BREACHED})


def overdue_work_order_q(at: datetime | None = None) -> Exists:
    """An expression for ``WorkOrder`` querysets: the work order has a clock overdue at ``at``."""
    return Exists(WorkOrderClock.objects.filter(work_order=OuterRef("pk")).filter(overdue_q(at or timezone.now())))


def overdue_case_q(at: datetime | None = None) -> Exists:
    """An expression for ``Case`` querysets: one of the case's work orders has a clock overdue at ``at``."""
    return Exists(WorkOrderClock.objects.filter(work_order__case=OuterRef("pk")).filter(overdue_q(at or timezone.now())))


def annotate_work_orders(work_orders: QuerySet[WorkOrder], at: datetime | None = None) -> QuerySet[WorkOrder]:
    """``work_orders`` with ``overdue`` (bool) computed in the database."""
    return work_orders.annotate(overdue=overdue_work_order_q(at))


def annotate_cases(cases: QuerySet[Case], at: datetime | None = None) -> QuerySet[Case]:
    """``cases`` with ``overdue`` (bool) computed in the database."""
    return cases.annotate(overdue=overdue_case_q(at))


@dataclass(frozen=True)
class ClockView:
    """One clock as the pages and the API show it."""

    kind: str
    kind_label: str
    due_at: datetime
    original_due_at: datetime
    state: ClockState
    state_label: str
    paused: bool
    extended_by_days: int
    stopped_at: datetime | None
    breached: bool

    @property
    def alarming(self) -> bool:
        return self.state in ALARMING

    @classmethod
    def of(cls, clock: WorkOrderClock, now: datetime) -> ClockView:
        state = clock_state(clock, now)
        return cls(
            kind=clock.kind,
            kind_label=str(ClockKind(clock.kind).label),
            due_at=clock.due_at,
            original_due_at=clock.original_due_at,
            state=state,
            state_label=str(state.label),
            paused=clock.paused_at is not None,
            extended_by_days=clock.extended_by_days,
            stopped_at=clock.stopped_at,
            breached=clock.breached,
        )


def _ordered(clocks: Iterable[WorkOrderClock], now: datetime) -> list[ClockView]:
    rank = {kind: position for position, kind in enumerate(CLOCK_ORDER)}
    return [ClockView.of(clock, now) for clock in sorted(clocks, key=lambda c: rank.get(c.kind, 99))]


def clocks_of(work_order: WorkOrder, at: datetime | None = None) -> list[ClockView]:
    """The work order's clocks in their usual order (sign-for, first contact, update, resolution)."""
    return _ordered(WorkOrderClock.objects.filter(work_order=work_order), at or timezone.now())


def most_pressing(views: Iterable[ClockView]) -> ClockView | None:
    """The clock a list shows for a work order: the running (or paused) one due first; else the resolution clock's outcome."""
    views = list(views)
    open_views = [v for v in views if v.stopped_at is None]
    if open_views:
        return min(open_views, key=lambda v: (v.paused, v.due_at))
    finished = [v for v in views if v.kind == ClockKind.RESOLUTION] or [v for v in views if v.breached]
    return finished[0] if finished else None


def marks_for_work_orders(work_orders: Iterable[Any], at: datetime | None = None) -> dict[int, ClockView]:
    """For one page of a list of work orders (or of rows with an ``order``): the deadline to show per work order (one query)."""
    ids = [getattr(row, "order", row).pk for row in work_orders]
    now = at or timezone.now()
    grouped: dict[int, list[WorkOrderClock]] = {}
    for clock in WorkOrderClock.objects.filter(work_order_id__in=ids):
        grouped.setdefault(clock.work_order_id, []).append(clock)
    marks = {}
    for work_order_id, clocks in grouped.items():
        mark = most_pressing(_ordered(clocks, now))
        if mark is not None:
            marks[work_order_id] = mark
    return marks


def marks_for_cases(cases: Iterable[Any], at: datetime | None = None) -> dict[int, ClockView]:
    """For one page of a list of cases: the running deadline due first among its work orders (one query)."""
    ids = [case.pk for case in cases]
    now = at or timezone.now()
    first: dict[int, WorkOrderClock] = {}
    running = WorkOrderClock.objects.filter(work_order__case_id__in=ids, stopped_at__isnull=True).annotate(case_pk=F("work_order__case_id"))
    for clock in running:
        case_id = clock.case_pk  # type: ignore[attr-defined]
        best = first.get(case_id)
        if best is None or (clock.paused_at is not None, clock.due_at) < (best.paused_at is not None, best.due_at):
            first[case_id] = clock
    return {case_id: ClockView.of(clock, now) for case_id, clock in first.items()}


@dataclass(frozen=True)
class WorkOrderDeadlines:
    """Everything the case page shows of a work order's deadlines."""

    clocks: list[ClockView]
    pause: ClockPause | None
    pauses: list[ClockPause]
    extensions: list[Extension]

    @property
    def pending_extension(self) -> Extension | None:
        return next((e for e in self.extensions if e.status == ExtensionStatus.PENDING), None)


def deadlines_of(work_order: WorkOrder, at: datetime | None = None) -> WorkOrderDeadlines:
    """The work order's clocks, pauses (the open one apart) and requests for more time (three queries)."""
    pauses = list(ClockPause.objects.filter(work_order=work_order).order_by("started_at", "id"))
    extensions = list(Extension.objects.filter(work_order=work_order).select_related("requested_by", "decided_by").order_by("requested_at", "id"))
    return WorkOrderDeadlines(
        clocks=clocks_of(work_order, at),
        pause=next((p for p in pauses if p.ended_at is None), None),
        pauses=pauses,
        extensions=extensions,
    )
