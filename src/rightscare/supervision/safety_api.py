"""API operations of safety follow-up: list the open ones, open one on a case, record a review, end one.

The same services as the pages (:mod:`rightscare.supervision.safety`). Cases and follow-ups
are loaded through the cases she may open (out of scope: 404, exactly like a missing record);
403 when she may see the case but not act on its follow-up; 409 when its state does not allow
it; 422 naming the field. Opening a follow-up and recording a review take an ``Idempotency-Key``.
"""

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from rightscare.cases.models import Case
from rightscare.core.api_inputs import IdempotencyKey, RecordId, fields_renamed
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.org.http import StaffRequest
from rightscare.org.models import Unit
from rightscare.supervision import safety
from rightscare.supervision.models import RiskLevel, SafetyFollowUp, SafetyReview

router = Router(tags=["safety follow-up"])


class SafetyFollowUpOut(Schema):
    id: int
    case_id: int
    unit_id: int
    reason: str
    review_every_days: int
    opened_at: datetime.datetime
    automatic: bool = Field(..., description="Opened by the system when the case was resolved.")
    next_review_at: datetime.datetime
    overdue: bool = Field(..., description="The next review is late.")
    ended_at: datetime.datetime | None
    end_reason: str

    @staticmethod
    def resolve_automatic(obj: SafetyFollowUp) -> bool:
        return obj.opened_by_id is None

    @staticmethod
    def resolve_overdue(obj: SafetyFollowUp) -> bool:
        return obj.is_overdue(timezone.now())


class SafetyOpenIn(Input):
    reason: str = Field(..., min_length=1, max_length=2000)
    review_every_days: int = Field(14, ge=1, le=safety.MAX_REVIEW_DAYS)
    unit_id: RecordId | None = Field(None, description="The responsible unit (a unit that dispatched or handles the case); default: the unit you act for.")


class SafetyReviewIn(Input):
    risk: RiskLevel
    note: str = Field(..., min_length=1, max_length=4000)
    next_review_in_days: int = Field(..., ge=1, le=safety.MAX_REVIEW_DAYS)


class SafetyReviewOut(Schema):
    id: int
    follow_up_id: int
    at: datetime.datetime
    unit_id: int
    risk: RiskLevel
    note: str
    next_review_at: datetime.datetime


class SafetyEndIn(Input):
    reason: str = Field(..., min_length=1, max_length=2000)


class SafetyFilters(Schema):
    overdue: bool = Field(False, description="Only follow-ups whose review is late.")


def _case(request: StaffRequest, case_id: int) -> Case:
    case = Case.objects.visible_to(request.user).select_related("category").filter(pk=case_id).first()
    if case is None:
        raise Http404
    return case


def _follow_up(request: StaffRequest, follow_up_id: int) -> SafetyFollowUp:
    follow_up = SafetyFollowUp.objects.select_related("case__category", "unit").filter(pk=follow_up_id, case__in=Case.objects.visible_to(request.user)).first()
    if follow_up is None:
        raise Http404
    return follow_up


@router.get("/safety-follow-ups", response=list[SafetyFollowUpOut], summary="Open safety follow-ups in your scope")
@paginate(Pagination)
def list_follow_ups(request: StaffRequest, filters: Query[SafetyFilters]) -> Any:
    """The review due first; 403 for those who neither handle, dispatch nor supervise cases."""
    if not safety.may_list(request.user):
        raise PermissionDenied
    rows = safety.follow_ups_visible_to(request.user).open()
    if filters.overdue:
        rows = rows.filter(next_review_at__lte=timezone.now())
    return rows.order_by("next_review_at", "id")


@router.get("/cases/{case_id}/safety-follow-ups", response=list[SafetyFollowUpOut], summary="A case's safety follow-ups")
@paginate(Pagination)
def case_follow_ups(request: StaffRequest, case_id: RecordId) -> Any:
    """Open and ended, newest first."""
    return SafetyFollowUp.objects.filter(case=_case(request, case_id)).order_by("-opened_at", "-id")


@router.post("/cases/{case_id}/safety-follow-ups", response={201: SafetyFollowUpOut, 200: SafetyFollowUpOut}, summary="Open a safety follow-up")
def open_follow_up(request: StaffRequest, case_id: RecordId, payload: SafetyOpenIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """For a domestic-violence or child-protection case, by a unit that dispatched or handles it (201); 409 when one is open or the case is finished."""
    case = _case(request, case_id)

    def create() -> str:
        unit = Unit.objects.filter(pk=payload.unit_id).first() if payload.unit_id is not None else None
        if payload.unit_id is not None and unit is None:
            raise ValidationError({"unit_id": [_("Choose a unit that dispatched or handles this case.")]})
        with fields_renamed(unit="unit_id"):
            follow_up = safety.open_follow_up(case=case, by=request.user, reason=payload.reason, review_every_days=payload.review_every_days, unit=unit)
        return str(follow_up.pk)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:safety_open:{case.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, SafetyFollowUp.objects.get(pk=int(result)))


@router.post("/safety-follow-ups/{follow_up_id}/reviews", response={201: SafetyReviewOut, 200: SafetyReviewOut}, summary="Record a safety review")
def record_review(request: StaffRequest, follow_up_id: RecordId, payload: SafetyReviewIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """For the responsible unit or the dispatching unit (201): the next review is due in ``next_review_in_days``; 409 once ended."""
    follow_up = _follow_up(request, follow_up_id)

    def create() -> str:
        review = safety.record_review(
            follow_up=follow_up, by=request.user, risk=payload.risk, note=payload.note, next_review_in_days=payload.next_review_in_days
        )
        return str(review.pk)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:safety_review:{follow_up.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, SafetyReview.objects.get(pk=int(result)))


@router.post("/safety-follow-ups/{follow_up_id}/end", response=SafetyFollowUpOut, summary="End a safety follow-up")
def end_follow_up(request: StaffRequest, follow_up_id: RecordId, payload: SafetyEndIn) -> SafetyFollowUp:
    """With a reason; afterwards the case may be closed. 409 when already ended."""
    return safety.end_follow_up(follow_up=_follow_up(request, follow_up_id), by=request.user, reason=payload.reason)
