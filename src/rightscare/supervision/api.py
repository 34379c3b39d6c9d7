"""API operations of the deadlines: the presets, pausing and resuming a work order's clocks,
asking for more time and deciding on it. The same services as the pages.

Work orders are loaded as the cases API loads them (out of scope: 404, exactly like a
missing record); 403 when she may see the work order but not do this; 409 when its state
does not allow it; 422 naming the field. Creating a pause or a request takes an
``Idempotency-Key``.
"""

import datetime
from typing import Any, Literal, get_args

from django.db.models import QuerySet
from django.http import Http404
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from rightscare.cases.api import work_order_in_scope
from rightscare.cases.models import TimeClass, Urgency, WorkOrder
from rightscare.core.api_inputs import IdempotencyKey, RecordId
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.org.http import StaffRequest
from rightscare.supervision import services
from rightscare.supervision.models import (
    HANDLER_PAUSE_REASONS,
    ClockKind,
    ClockPause,
    ClockPolicy,
    ClockUnit,
    DayUnit,
    Extension,
    ExtensionStatus,
    PauseReason,
)

router = Router(tags=["deadlines"])

#: What a handler may say a work order is waiting for (``review`` is written by the system only).
HandlerPauseReason = Literal["petitioner", "court", "arbitration", "other"]
assert set(get_args(HandlerPauseReason)) == {reason.value for reason in HANDLER_PAUSE_REASONS}


class ClockPolicyOut(Schema):
    id: int
    urgency: Urgency
    time_class: TimeClass | None = Field(..., description="Null: any time class.")
    kind: ClockKind
    amount: int
    unit: ClockUnit
    valid_from: datetime.datetime

    @staticmethod
    def resolve_time_class(obj: ClockPolicy) -> str | None:
        return obj.time_class or None


class PauseIn(Input):
    reason_code: HandlerPauseReason
    reason: str = Field("", max_length=2000, description="Details: the court's case number, when the petitioner is back… Required for 'other'.")


class PauseOut(Schema):
    id: int
    work_order_id: int
    reason_code: PauseReason
    reason: str
    started_at: datetime.datetime
    ended_at: datetime.datetime | None


class ExtensionIn(Input):
    days: int = Field(..., ge=1, le=365, description="Working days; calendar days for a letters-and-visits work order (at most 30).")
    reason: str = Field(..., min_length=1, max_length=2000)


class ExtensionOut(Schema):
    id: int
    work_order_id: int
    days: int
    day_unit: DayUnit
    reason: str
    status: ExtensionStatus
    needs_supervisor: bool = Field(..., description="A second extension or more than 10 working days: only a supervisor may approve it.")
    requested_at: datetime.datetime
    decided_at: datetime.datetime | None
    decision_note: str


class ExtensionDecisionIn(Input):
    approve: bool
    note: str = Field("", max_length=2000, description="Required when refusing.")


def _extension(request: StaffRequest, extension_id: int) -> Extension:
    """A request for more time on a work order she may see, or 404."""
    extension = Extension.objects.filter(pk=extension_id).select_related("work_order").first()
    if extension is None:
        raise Http404
    work_order_in_scope(request, extension.work_order_id)
    return extension


@router.get("/clock-policies", response=list[ClockPolicyOut], summary="The deadline presets in force")
@paginate(Pagination)
def list_clock_policies(request: StaffRequest) -> QuerySet[ClockPolicy]:
    """One row per urgency, time class (null: any) and clock; changed on the administrators' pages."""
    return ClockPolicy.objects.current().order_by("urgency", "time_class", "kind", "id")


@router.post("/work-orders/{work_order_id}/pause", response={201: PauseOut, 200: PauseOut}, summary="Pause a work order's clocks")
def pause(request: StaffRequest, work_order_id: RecordId, payload: PauseIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """For the handling unit while waiting for the petitioner or an outside process (201); 409 when already paused or not being handled."""
    order = work_order_in_scope(request, work_order_id)

    def create() -> str:
        return str(services.pause_clocks(work_order=order, by=request.user, reason_code=payload.reason_code, reason=payload.reason).pk)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:pause_clocks:{order.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, ClockPause.objects.get(pk=int(result)))


@router.post("/work-orders/{work_order_id}/resume", response=PauseOut, summary="Resume a work order's paused clocks")
def resume(request: StaffRequest, work_order_id: RecordId) -> ClockPause:
    """For the handling unit or the unit that sent it; the due times move by the time paused; 409 when not paused."""
    return services.resume_clocks(work_order=work_order_in_scope(request, work_order_id), by=request.user)


@router.get("/work-orders/{work_order_id}/extensions", response=list[ExtensionOut], summary="A work order's requests for more time")
@paginate(Pagination)
def list_extensions(request: StaffRequest, work_order_id: RecordId) -> QuerySet[Extension]:
    """Oldest first, decided or waiting."""
    order: WorkOrder = work_order_in_scope(request, work_order_id)
    return Extension.objects.filter(work_order=order).order_by("requested_at", "id")


@router.post("/work-orders/{work_order_id}/extensions", response={201: ExtensionOut, 200: ExtensionOut}, summary="Ask for more time")
def request_extension(request: StaffRequest, work_order_id: RecordId, payload: ExtensionIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """For the handling unit, with a reason (201); the sending unit decides. 409 while another request waits."""
    order = work_order_in_scope(request, work_order_id)

    def create() -> str:
        return str(services.request_extension(work_order=order, by=request.user, days=payload.days, reason=payload.reason).pk)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:request_extension:{order.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, Extension.objects.get(pk=int(result)))


@router.post("/extensions/{extension_id}/decision", response=ExtensionOut, summary="Approve or refuse more time")
def decide_extension(request: StaffRequest, extension_id: RecordId, payload: ExtensionDecisionIn) -> Extension:
    """For the unit that sent the work order; beyond 10 working days or a second time, only a supervisor approves. 409 once decided."""
    extension = _extension(request, extension_id)
    return services.decide_extension(extension=extension, by=request.user, approve=payload.approve, note=payload.note)
