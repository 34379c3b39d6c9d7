"""Safety follow-up of domestic-violence and child-protection cases (PRODUCT.md C4, C6).

When the dispute of such a case is resolved, the danger may not be over: the woman still
lives near the man who beat her, the girl still goes home to the same house. The case then
stays open for *safety follow-up*: a responsible unit looks at her situation again every so
many days (:class:`~rightscare.supervision.models.SafetyReview`), and the case is never closed
— not by the return-visit rules, not by hand — until someone ends the follow-up and says why.

* :func:`case_resolved` (called by ``cases.services.refresh_case_status``) opens one
  automatically when a case of a sensitive category (domestic violence or child protection)
  is resolved, with the unit that dispatched it as the responsible unit.
* :func:`open_follow_up`, :func:`record_review` and :func:`end_follow_up` are the use cases
  behind the case page and the API; each writes a timeline event (visible to the handling
  units only) and an audit entry in its own transaction.
* The review clock is separate from the work orders' clocks: those stopped when the work
  was completed, so a follow-up never counts against resolution time. The sweep
  (:func:`rightscare.supervision.sweep.sweep`) reminds the unit when a review falls due and
  tells its parent unit ``SAFETY_ESCALATE_AFTER_DAYS`` days later if it is still not done.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.audit.models import AuditAction
from rightscare.audit.services import record
from rightscare.cases.events import record_event, system_text
from rightscare.cases.models import FINAL_CASE_STATUSES, Case, EventKind, Role, Visibility, WorkOrderStatus
from rightscare.core.errors import Conflict
from rightscare.org import access
from rightscare.org.models import Unit
from rightscare.org.roles import Capability
from rightscare.supervision.models import RiskLevel, SafetyFollowUp, SafetyFollowUpQuerySet, SafetyReview

#: A review may be planned at most this many days ahead.
MAX_REVIEW_DAYS = 90


def default_review_days() -> int:
    """The default interval between reviews (``RIGHTSCARE_SAFETY_REVIEW_DAYS``)."""
    return int(settings.SAFETY_REVIEW_DAYS)


def escalate_after() -> timedelta:
    """How long a review may be overdue before the parent unit is told."""
    return timedelta(days=int(settings.SAFETY_ESCALATE_AFTER_DAYS))


def is_eligible(case: Case) -> bool:
    """Only domestic-violence and child-protection cases are followed up for safety."""
    return bool(case.category.is_sensitive)


def open_follow_up_of(case: Case) -> SafetyFollowUp | None:
    """The case's open follow-up, if any."""
    return SafetyFollowUp.objects.open().filter(case=case).select_related("unit").first()


def has_open_follow_up(case: Case) -> bool:
    """Whether the case is under safety follow-up now (then nothing may close it)."""
    return SafetyFollowUp.objects.open().filter(case_id=case.pk).exists()


def next_check(follow_up: SafetyFollowUp) -> datetime | None:
    """When the sweep must look again: the due review's reminder, then its escalation."""
    if follow_up.ended_at is not None:
        return None
    if follow_up.reminded_at is None:
        return follow_up.next_review_at
    if follow_up.escalated_at is None:
        return follow_up.next_review_at + escalate_after()
    return None


def _schedule(follow_up: SafetyFollowUp, next_review_at: datetime) -> None:
    """Set the next review; its reminder and escalation count again."""
    follow_up.next_review_at = next_review_at
    follow_up.reminded_at = None
    follow_up.escalated_at = None
    follow_up.next_check_at = next_check(follow_up)


def _dispatching_units(case: Case) -> list[int]:
    """Units that sent the case's top-level work orders (the dispatching unit), or registered it."""
    sent = list(case.work_orders.filter(parent__isnull=True).values_list("sent_by_unit_id", flat=True).distinct())
    return sent or [case.registering_unit_id]


def _handling_units(case: Case) -> list[int]:
    """Units whose work orders on the case were not returned or transferred away."""
    gone = [WorkOrderStatus.RETURNED, WorkOrderStatus.TRANSFERRED]
    return list(case.work_orders.exclude(status__in=gone).values_list("unit_id", flat=True).distinct())


def _acting_units(user: Any) -> set[int]:
    grants = access.grants_of(user)
    wanted = {Capability.HANDLE_WORK_ORDERS, Capability.DISPATCH_CASES}
    return {g.unit_id for g in grants if wanted & set(g.capabilities)}


def acting_unit(user: Any, case: Case, follow_up: SafetyFollowUp | None = None, *, to_end: bool = False) -> Unit | None:
    """The unit in whose name she acts on the case's follow-up, or None when she may not.

    The responsible unit of the follow-up and the unit that dispatched the case may do
    everything; a unit handling the case may also open one and record reviews (it is often
    the one nearest her), but only the first two end a follow-up. She must handle or
    dispatch work in that unit.
    """
    mine = _acting_units(user)
    candidates: list[int] = []
    if follow_up is not None:
        candidates.append(follow_up.unit_id)
    candidates += _dispatching_units(case)
    if not to_end:
        candidates += _handling_units(case)
    for unit_id in candidates:
        if unit_id in mine:
            return Unit.objects.get(pk=unit_id)
    return None


def may_open(user: Any, case: Case) -> bool:
    return is_eligible(case) and case.status not in FINAL_CASE_STATUSES and not has_open_follow_up(case) and acting_unit(user, case) is not None


def may_act(user: Any, follow_up: SafetyFollowUp) -> bool:
    """Whether she may record a review of the open follow-up."""
    return follow_up.is_open and acting_unit(user, follow_up.case, follow_up) is not None


def may_end(user: Any, follow_up: SafetyFollowUp) -> bool:
    """Whether she may end the open follow-up (the responsible or the dispatching unit)."""
    return follow_up.is_open and acting_unit(user, follow_up.case, follow_up, to_end=True) is not None


#: Who may list follow-ups: those who handle, dispatch or supervise cases.
LIST_CAPABILITIES = (Capability.HANDLE_WORK_ORDERS, Capability.DISPATCH_CASES, Capability.SUPERVISE)


def may_list(user: Any) -> bool:
    return any(access.has_capability(user, capability) for capability in LIST_CAPABILITIES)


def follow_ups_visible_to(user: Any) -> SafetyFollowUpQuerySet:
    """Follow-ups of cases she may open (a list: built on ``Case.objects.listed_for``)."""
    return SafetyFollowUp.objects.filter(case__in=Case.objects.listed_for(user).values("pk"))


def _lead_dispatcher_of(case: Case) -> int | None:
    """The unit that sent the case's top-level lead work order."""
    return (
        case.work_orders.filter(parent__isnull=True, role=Role.LEAD)
        .exclude(status__in=[WorkOrderStatus.RETURNED, WorkOrderStatus.TRANSFERRED])
        .values_list("sent_by_unit_id", flat=True)
        .first()
    )


def _check_days(days: Any, field: str) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_REVIEW_DAYS:
        raise ValidationError({field: [_("Choose between 1 and %(max)d days.") % {"max": MAX_REVIEW_DAYS}]})
    return days


def _create(case: Case, *, unit_id: int, by: Any, reason: str, days: int, at: datetime) -> SafetyFollowUp:
    follow_up = SafetyFollowUp(case=case, unit_id=unit_id, reason=reason, review_every_days=days, opened_at=at, opened_by=by)
    _schedule(follow_up, at + timedelta(days=days))
    follow_up.save()
    unit = Unit.objects.get(pk=unit_id)
    text = system_text(
        lambda: _("Safety follow-up opened with %(unit)s; first review due %(due)s.") % {"unit": unit.display_name, "due": _local(follow_up.next_review_at)}
    )
    record_event(
        case=case,
        kind=EventKind.SAFETY_OPENED,
        actor=by,
        unit=unit,
        text=f"{text} {reason}".strip(),
        visibility=Visibility.HANDLING,
        data={"safety_follow_up": follow_up.pk, "automatic": by is None},
    )
    record(
        actor=by,
        action=AuditAction.CREATE,
        event="supervision.open_safety_follow_up",
        obj=follow_up,
        unit=unit,
        changes={"case": case.pk, "unit": unit_id, "review_every_days": days, "next_review_at": follow_up.next_review_at.isoformat()},
        reason=reason,
    )
    return follow_up


def _local(instant: datetime) -> str:
    return timezone.localtime(instant).strftime("%Y-%m-%d %H:%M")


def case_resolved(case: Case, *, at: datetime | None = None) -> SafetyFollowUp | None:
    """Open the follow-up of a sensitive case that has just been resolved (none if one is open).

    Called inside the transaction that resolves the case. The unit that dispatched the case
    becomes responsible; it may hand the reviews to the unit nearest her by ending this one
    and opening another.
    """
    case = Case.objects.select_related("category").get(pk=case.pk)
    if not is_eligible(case) or has_open_follow_up(case):
        return None
    unit_id = _lead_dispatcher_of(case) or case.registering_unit_id
    reason = system_text(lambda: _("The dispute is resolved; her safety is followed up until a person ends the follow-up."))
    return _create(case, unit_id=unit_id, by=None, reason=reason, days=default_review_days(), at=at or timezone.now())


def open_follow_up(*, case: Case, by: Any, reason: str, review_every_days: int | None = None, unit: Unit | None = None) -> SafetyFollowUp:
    """Open a safety follow-up by hand (before or after resolution), with a reason.

    For a domestic-violence or child-protection case that is not finished, by someone who
    dispatches or handles it; ``unit`` (default: the unit she acts for) must be one of the
    case's dispatching or handling units.
    """
    case = Case.objects.select_related("category").get(pk=case.pk)
    acting = acting_unit(by, case)
    if acting is None:
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = [_("Say why her safety must be followed up.")]
    days = review_every_days if review_every_days is not None else default_review_days()
    try:
        _check_days(days, "review_every_days")
    except ValidationError as error:
        errors.update(error.message_dict)
    responsible = unit or acting
    if responsible.pk not in set(_dispatching_units(case)) | set(_handling_units(case)):
        errors["unit"] = [_("Choose a unit that dispatched or handles this case.")]
    if errors:
        raise ValidationError(errors)
    if not is_eligible(case):
        raise Conflict(_("Only domestic-violence and child-protection cases are followed up for safety."))
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status in FINAL_CASE_STATUSES:
            raise Conflict(_("The case is finished; a safety follow-up cannot be opened."))
        if has_open_follow_up(locked):
            raise Conflict(_("The case is already under safety follow-up."))
        return _create(locked, unit_id=responsible.pk, by=by, reason=reason.strip(), days=days, at=timezone.now())


def _locked(follow_up: SafetyFollowUp) -> SafetyFollowUp:
    return SafetyFollowUp.objects.select_for_update().select_related("case", "unit").get(pk=follow_up.pk)


def record_review(*, follow_up: SafetyFollowUp, by: Any, risk: str, note: str, next_review_in_days: int) -> SafetyReview:
    """Record a review of her safety and when the next one is due (1–90 days ahead)."""
    acting = acting_unit(by, follow_up.case, follow_up)
    if acting is None:
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    if risk not in RiskLevel.values:
        errors["risk"] = [_("Choose the risk you saw.")]
    if not note.strip():
        errors["note"] = [_("Say what was done and what was seen.")]
    try:
        _check_days(next_review_in_days, "next_review_in_days")
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = _locked(follow_up)
        if not locked.is_open:
            raise Conflict(_("This safety follow-up has ended."))
        now = timezone.now()
        due = now + timedelta(days=next_review_in_days)
        review = SafetyReview.objects.create(follow_up=locked, at=now, by=by, unit=acting, risk=risk, note=note.strip(), next_review_at=due)
        was_due = locked.next_review_at
        _schedule(locked, due)
        locked.save(update_fields=["next_review_at", "reminded_at", "escalated_at", "next_check_at", "updated_at"])
        text = system_text(lambda: _("Safety review: risk %(risk)s; next review due %(due)s.") % {"risk": RiskLevel(risk).label, "due": _local(due)})
        record_event(
            case=locked.case,
            kind=EventKind.SAFETY_REVIEWED,
            actor=by,
            unit=acting,
            text=f"{text}\n{note.strip()}",
            visibility=Visibility.HANDLING,
            data={"safety_follow_up": locked.pk, "review": review.pk, "risk": risk, "late": now > was_due},
        )
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="supervision.safety_review",
            obj=review,
            unit=acting,
            changes={"follow_up": locked.pk, "risk": risk, "next_review_at": due.isoformat(), "was_due": was_due.isoformat()},
        )
    return review


def end_follow_up(*, follow_up: SafetyFollowUp, by: Any, reason: str) -> SafetyFollowUp:
    """End the follow-up: only a person of the responsible or the dispatching unit, with a reason
    (she moved away safely, the court's order holds…)."""
    acting = acting_unit(by, follow_up.case, follow_up, to_end=True)
    if acting is None:
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why her safety no longer needs following up.")]})
    with transaction.atomic():
        locked = _locked(follow_up)
        if not locked.is_open:
            raise Conflict(_("This safety follow-up has already ended."))
        locked.ended_at, locked.ended_by, locked.end_reason = timezone.now(), by, reason.strip()
        locked.next_check_at = None
        locked.save(update_fields=["ended_at", "ended_by", "end_reason", "next_check_at", "updated_at"])
        record_event(
            case=locked.case,
            kind=EventKind.SAFETY_ENDED,
            actor=by,
            unit=acting,
            text=reason.strip(),
            visibility=Visibility.HANDLING,
            data={"safety_follow_up": locked.pk},
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="supervision.end_safety_follow_up",
            obj=locked,
            unit=acting,
            changes={"ended_at": locked.ended_at.isoformat()},
            reason=reason.strip(),
        )
    return locked


def overdue_q(at: datetime) -> Q:
    """Open follow-ups whose review is late at ``at``."""
    return Q(ended_at__isnull=True, next_review_at__lte=at)


def unit_choices(case: Case) -> QuerySet[Unit]:
    """Units that may be made responsible for the case's follow-up."""
    return Unit.objects.filter(pk__in=set(_dispatching_units(case)) | set(_handling_units(case))).order_by("path")
