"""API operations of the ratings: the rounds of a case, the return-visit queue, a return-visit call
(with the rating by phone), and rework. The same services as the pages.

Cases are loaded through ``Case.objects.visible_to`` (out of scope: 404, exactly like a missing
record); 403 when she may see the case but not do this (with the reason when her unit handles
the case and may not take its rating); 409 when the state does not allow it; 422 naming the
field. Recording a call takes an ``Idempotency-Key``.
"""

import datetime
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from ninja import Field, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from rightscare.cases.models import Case, CaseStatus, WorkOrderStatus
from rightscare.core.api_inputs import IdempotencyKey, RecordId
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.roles import Capability
from rightscare.ratings import services
from rightscare.ratings.models import RatingChannel, RatingRound, ReturnVisitAttempt, ReturnVisitReason, RoundStatus, Solved

router = Router(tags=["ratings"])


class RatingOut(Schema):
    solved: Solved
    speed: int
    quality: int
    comment: str
    channel: RatingChannel
    satisfied: bool = Field(..., description="False when speed or quality was rated 1 or 2.")
    created_at: datetime.datetime


class AttemptOut(Schema):
    id: int
    number: int
    at: datetime.datetime
    reached: bool
    note: str
    unit_id: int


class RoundOut(Schema):
    id: int
    case_id: int
    case_number: str
    number: int
    status: RoundStatus
    opened_at: datetime.datetime
    rating_due_at: datetime.datetime
    closed_at: datetime.datetime | None
    return_visit_reason: ReturnVisitReason | None = Field(..., description="Why a return visit is (or was) due; null: none.")
    return_visit_since: datetime.datetime | None
    return_visit_done_at: datetime.datetime | None
    rating: RatingOut | None
    attempts: list[AttemptOut]

    @staticmethod
    def resolve_case_number(obj: RatingRound) -> str:
        return obj.case.number

    @staticmethod
    def resolve_return_visit_reason(obj: RatingRound) -> str | None:
        return obj.return_visit_reason or None

    @staticmethod
    def resolve_rating(obj: RatingRound) -> Any:
        ratings = list(obj.ratings.all())
        return ratings[0] if ratings else None

    @staticmethod
    def resolve_attempts(obj: RatingRound) -> list[ReturnVisitAttempt]:
        return list(obj.attempts.all())


class CallIn(Input):
    reached: bool
    note: str = Field("", max_length=2000)
    solved: Literal["yes", "partly", "no"] | None = Field(None, description="Her rating, required when she was reached and the round is not rated yet.")
    speed: int | None = Field(None, ge=1, le=5)
    quality: int | None = Field(None, ge=1, le=5)
    comment: str = Field("", max_length=2000)


class ReworkIn(Input):
    reason: str = Field(..., min_length=1, max_length=2000, description="What must be done again.")


class ReworkOut(Schema):
    work_order_id: int
    work_order_status: WorkOrderStatus
    case_status: CaseStatus


def _case(request: StaffRequest, case_id: int) -> Case:
    try:
        return Case.objects.visible_to(request.user).select_related("region").get(pk=case_id)
    except Case.DoesNotExist as error:
        raise Http404 from error


def _rounds() -> QuerySet[RatingRound]:
    return RatingRound.objects.select_related("case").prefetch_related("ratings", "attempts")


@router.get("/ratings/return-visits", response=list[RoundOut], summary="Return visits due in my reach")
@paginate(Pagination)
def list_return_visits(request: StaffRequest) -> QuerySet[RatingRound]:
    """For return-visit officers (403 otherwise): rounds waiting for a call, longest waiting first; cases her units handle left out."""
    if not access.has_capability(request.user, Capability.TAKE_RATINGS):
        raise PermissionDenied
    return services.return_visit_queue(request.user).prefetch_related("ratings", "attempts")


@router.get("/ratings/cases/{case_id}", response=list[RoundOut], summary="A case's rating rounds")
def list_case_rounds(request: StaffRequest, case_id: RecordId) -> list[RatingRound]:
    """Every round of a case she may open, oldest first, with its rating and return-visit calls."""
    case = _case(request, case_id)
    return list(_rounds().filter(case=case).order_by("number"))


@router.post("/ratings/rounds/{round_id}/calls", response={201: RoundOut, 200: RoundOut}, summary="Record a return-visit call")
def record_call(request: StaffRequest, round_id: RecordId, payload: CallIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """For a return-visit officer of a unit not handling the case (201). Reached on an unrated round: her rating is required.
    The last call without reaching her closes the round (and the case, unless under safety follow-up) as unreachable."""
    round_ = _rounds().filter(pk=round_id, case__in=Case.objects.visible_to(request.user)).first()
    if round_ is None:
        raise Http404
    rating = None
    if payload.solved is not None or payload.speed is not None or payload.quality is not None:
        rating = services.RatingInput(solved=payload.solved or "", speed=payload.speed or 0, quality=payload.quality or 0, comment=payload.comment)

    def create() -> str:
        return str(services.record_return_visit(round_=round_, by=request.user, reached=payload.reached, note=payload.note, rating=rating).pk)

    _result, ran = run_once(user_id=request.user.pk, scope=f"api:return_visit:{round_.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, _rounds().get(pk=round_.pk))


@router.post("/ratings/cases/{case_id}/rework", response=ReworkOut, summary="Send a case back for rework")
def rework(request: StaffRequest, case_id: RecordId, payload: ReworkIn) -> ReworkOut:
    """For the dispatchers of the unit that dispatched it, after an unsatisfied or unsolved rating (409 otherwise):
    the lead work order is in progress again with a new resolution deadline."""
    case = _case(request, case_id)
    order = services.send_back_for_rework(case=case, by=request.user, reason=payload.reason)
    case.refresh_from_db()
    return ReworkOut(work_order_id=order.pk, work_order_status=WorkOrderStatus(order.status), case_status=CaseStatus(case.status))
