"""API operations of chasing: the supervision board's overdue list, a reminder, the chases to answer, an answer.

The same services and reads as the pages. A work order or chase is loaded through its
scoped queryset (404 outside her scope, like a missing record); 403 when she may see it but
not do this; a reminder takes an ``Idempotency-Key`` so a retry sends it once.
"""

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from rightscare.cases.models import Urgency, WorkOrder, WorkOrderStatus
from rightscare.core import memo
from rightscare.core.api_inputs import IdempotencyKey, RecordId
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.roles import Capability
from rightscare.supervision import board, chasing
from rightscare.supervision.board_views import access_chase, access_work_order
from rightscare.supervision.models import Chase, ChaseLevel, ClockKind
from rightscare.supervision.services import may_supervise

router = Router(tags=["supervision"])


class UnitRef(Schema):
    id: int
    name: str


class ChaseOut(Schema):
    id: int
    work_order_id: int
    case_number: str = Field(..., alias="work_order.case.number")
    level: ChaseLevel
    by_unit: UnitRef
    by_id: int | None = Field(..., description="Who sent it; null for an automatic chase of the deadline sweep.")
    at: datetime.datetime
    automatic: bool
    clock: ClockKind | None = Field(..., description="The clock whose deadline was missed (automatic chases).")
    clock_due_at: datetime.datetime | None
    comment: str
    needs_answer: bool
    answer: str
    answered_at: datetime.datetime | None
    answered_by_id: int | None

    @staticmethod
    def resolve_clock(obj: Chase) -> str | None:
        return obj.clock.kind if obj.clock is not None else None


class OverdueClockOut(Schema):
    kind: ClockKind
    due_at: datetime.datetime
    overdue_days: Decimal = Field(..., description="How long past due: working days on the unit's calendar (days for a clock that runs 24/7).")
    working_time: bool


class OverdueWorkOrderOut(Schema):
    id: int
    case_id: int
    case_number: str
    urgency: Urgency
    unit: UnitRef
    status: WorkOrderStatus
    level: ChaseLevel | None = Field(..., description="The most serious chase so far, null when none.")
    clocks: list[OverdueClockOut]
    chases: list[ChaseOut]


class OverdueFilters(Schema):
    unit_id: RecordId | None = Field(None, description="Only this unit's work orders (a unit outside my scope finds nothing).")


class ReminderIn(Input):
    comment: str = Field("", max_length=chasing.MAX_TEXT, description="Optional: what the unit must answer.")


class AnswerIn(Input):
    answer: str = Field(..., min_length=1, max_length=chasing.MAX_TEXT)


def _overdue_item(row: board.OverdueRow) -> dict[str, Any]:
    order = row.order
    return {
        "id": order.pk,
        "case_id": order.case_id,
        "case_number": order.case.number,
        "urgency": order.case.urgency,
        "unit": {"id": order.unit_id, "name": order.unit.name},
        "status": order.status,
        "level": row.level or None,
        "clocks": [{"kind": c.kind, "due_at": c.due_at, "overdue_days": c.overdue_days, "working_time": c.working_time} for c in row.clocks],
        "chases": row.chases,
    }


class _LazyRows:
    """The overdue work orders as the pagination slices them: only the page's rows are loaded and measured."""

    def __init__(self, orders: QuerySet[WorkOrder], now: datetime.datetime, calendars: board.CalendarCache) -> None:
        self.orders, self.now, self.calendars = orders, now, calendars

    def __len__(self) -> int:
        return self.orders.count()

    def __getitem__(self, bounds: slice) -> list[dict[str, Any]]:
        return [_overdue_item(board.row_of(order, self.now, self.calendars)) for order in self.orders[bounds]]


@router.get("/supervision/overdue", response=list[OverdueWorkOrderOut], summary="Overdue work orders in the units I supervise")
@paginate(Pagination)
@memo.one_read_each()
def list_overdue(request: StaffRequest, filters: Query[OverdueFilters]) -> _LazyRows | list[dict[str, Any]]:
    """The supervision board: work orders with a running clock past due in my supervision, the longest overdue first."""
    if not access.has_capability(request.user, Capability.SUPERVISE):
        raise PermissionDenied
    now = timezone.now()
    unit = access.visible_units(request.user).filter(pk=filters.unit_id).first() if filters.unit_id else None
    if filters.unit_id and unit is None:
        return []
    orders = board.with_details(board.overdue_work_orders(by=request.user, at=now, unit=unit), now)
    calendars: board.CalendarCache = {}
    return _LazyRows(orders, now, calendars)


@router.post("/work-orders/{work_order_id}/chases", response={201: ChaseOut, 200: ChaseOut}, summary="Send a reminder about a work order")
def send_reminder(request: StaffRequest, work_order_id: RecordId, payload: ReminderIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """For a supervisor over the work order's unit (403 otherwise); 409 unless its unit still handles it. With a comment, the unit must answer."""
    order = access_work_order(request.user, work_order_id)
    if not may_supervise(request.user, order):
        raise PermissionDenied
    result, ran = run_once(
        user_id=request.user.pk,
        scope=f"api:send_reminder:{order.pk}",
        key=idempotency_key,
        create=lambda: str(chasing.send_reminder(work_order=order, by=request.user, comment=payload.comment).pk),
    )
    return Status(201 if ran else 200, _chase(int(result)))


@router.get("/chases", response=list[ChaseOut], summary="Reminders and supervision my units must answer")
@paginate(Pagination)
def list_chases_to_answer(request: StaffRequest) -> QuerySet[Chase]:
    """Oldest first: chases of work orders sent to the units where I handle work, not yet answered."""
    if not (access.has_capability(request.user, Capability.HANDLE_WORK_ORDERS) or access.has_capability(request.user, Capability.DISPATCH_CASES)):
        raise PermissionDenied
    return chasing.chases_to_answer(by=request.user)


@router.post("/chases/{chase_id}/answer", response=ChaseOut, summary="Answer a reminder or supervision for my unit")
def answer_chase(request: StaffRequest, chase_id: RecordId, payload: AnswerIn) -> Chase:
    """For the handling staff of the chased unit (403 otherwise); 409 when already answered or when it asks for no answer."""
    chase = access_chase(request.user, chase_id)
    if not chasing.may_answer(request.user, chase):
        raise PermissionDenied
    chasing.answer_chase(chase=chase, by=request.user, answer=payload.answer)
    return _chase(chase.pk)


def _chase(pk: int) -> Chase:
    try:
        return Chase.objects.select_related("work_order__case", "by_unit", "clock").get(pk=pk)
    except Chase.DoesNotExist as error:  # pragma: no cover - just written
        raise Http404 from error
