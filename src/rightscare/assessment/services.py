"""The assessment's writes: exclusion requests and decisions, the composite's weights, and the audit of exports.

Each use case checks who may do it through ``org.access``, writes in one transaction and
records its audit entry in the same transaction (STYLE.md). The web pages and the API
call these functions; nothing else writes the assessment's tables.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.assessment.models import RATE_KEYS, AssessmentWeights, Exclusion, ExclusionStatus
from rightscare.assessment.selectors import READER_CAPABILITIES, Filters
from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.audit.services import diff, record
from rightscare.cases.models import Case, WorkOrder
from rightscare.core.errors import Conflict
from rightscare.org import access
from rightscare.org.models import Unit
from rightscare.org.roles import Capability

#: Who may ask for an exclusion: the units that handle or dispatch the work.
REQUEST_CAPABILITIES: frozenset[Capability] = frozenset({Capability.HANDLE_WORK_ORDERS, Capability.DISPATCH_CASES})


# --- exclusions ---------------------------------------------------------------------------------


def may_request_exclusions(user: Any) -> bool:
    """Whether she may ask for exclusions at all (she handles or dispatches work somewhere)."""
    return any(access.has_capability(user, capability) for capability in REQUEST_CAPABILITIES)


def may_decide_exclusions(user: Any) -> bool:
    """Whether she may decide exclusions at all (she supervises somewhere)."""
    return access.has_capability(user, Capability.SUPERVISE)


def requesting_units(user: Any, case: Case) -> QuerySet[Unit]:
    """Her units that may ask to exclude this case or one of its work orders.

    A unit where she handles or dispatches work and that took part in the case: it
    registered it, received one of its work orders or sent one.
    """
    involved = Q(pk=case.registering_unit_id) | Q(work_orders__case=case) | Q(sent_work_orders__case=case)
    mine = {g.unit_id for g in access.grants_of(user) if g.capabilities & REQUEST_CAPABILITIES}
    return Unit.objects.filter(involved, pk__in=mine, is_active=True).distinct().order_by("path")


def excludable_work_orders(user: Any, case: Case) -> QuerySet[WorkOrder]:
    """The work orders of the case she may ask to exclude: those her requesting units received or sent."""
    units = requesting_units(user, case)
    return case.work_orders.filter(Q(unit__in=units) | Q(sent_by_unit__in=units)).select_related("unit").order_by("created_at", "id")


def request_exclusion(*, by: Any, case: Case, unit: Unit, reason: str, work_order: WorkOrder | None = None) -> Exclusion:
    """Ask a supervisor to leave a case (or one work order of it) out of the assessment.

    ``unit`` is the requesting unit: one of hers that took part in the case
    (:func:`requesting_units`). Without ``work_order`` the whole case is meant. Refused
    with a ``Conflict`` when the same record already has an open or approved request.
    Audited as ``assessment.request_exclusion``.
    """
    if not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    if not requesting_units(by, case).filter(pk=unit.pk).exists():
        raise PermissionDenied
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": [_("Say why this should not count in the assessment.")]})
    if work_order is not None and (work_order.case_id != case.pk or unit.pk not in (work_order.unit_id, work_order.sent_by_unit_id)):
        raise ValidationError({"work_order": [_("Choose a work order of this case that your unit received or sent.")]})
    open_requests = Exclusion.objects.filter(case=case, status__in=[ExclusionStatus.PENDING, ExclusionStatus.APPROVED])
    open_requests = open_requests.filter(work_order=work_order) if work_order is not None else open_requests.filter(work_order__isnull=True)
    try:
        with transaction.atomic():
            if open_requests.exists():
                raise Conflict(_("An exclusion of this record has already been requested or approved."))
            exclusion = Exclusion.objects.create(case=case, work_order=work_order, requesting_unit=unit, requested_by=by, reason=reason)
            record(
                actor=by,
                action=AuditAction.CREATE,
                event="assessment.request_exclusion",
                obj=exclusion,
                unit=unit,
                changes={"case": case.number, "work_order": work_order.pk if work_order else None},
                reason=reason,
            )
    except IntegrityError as error:
        # A concurrent request for the same record committed first.
        raise Conflict(_("An exclusion of this record has already been requested or approved.")) from error
    return exclusion


def supervises_case(user: Any, case: Case) -> bool:
    """Whether one of her supervisor memberships covers the case (its area, or a unit that received it)."""
    scope = access.case_scope(user, frozenset({Capability.SUPERVISE}))
    if scope.empty or (case.accused_unit_id is not None and case.accused_unit_id in scope.all_unit_ids):
        return False
    if any(case.region.path.startswith(path) for path in scope.region_paths):
        return True
    received = case.work_orders.filter(access.path_prefix_q("unit__path", scope.unit_paths)) if scope.unit_paths else WorkOrder.objects.none()
    return received.exists() or case.registering_unit_id in scope.unit_ids


def decide_exclusion(*, by: Any, exclusion: Exclusion, approve: bool, note: str = "") -> Exclusion:
    """A supervisor approves or refuses an exclusion request (only an approved one changes the figures).

    She must supervise the case, and may not decide her own request. A refusal says why.
    Audited as ``assessment.decide_exclusion``; a request already decided is a ``Conflict``.
    """
    case = Case.objects.select_related("region").get(pk=exclusion.case_id)
    if not supervises_case(by, case):
        raise PermissionDenied
    if exclusion.requested_by_id == by.pk:
        raise PermissionDenied
    note = note.strip()
    if not approve and not note:
        raise ValidationError({"note": [_("Say why the exclusion is refused.")]})
    new_status = ExclusionStatus.APPROVED if approve else ExclusionStatus.REFUSED
    with transaction.atomic():
        current = Exclusion.objects.select_for_update().get(pk=exclusion.pk)
        if current.status != ExclusionStatus.PENDING:
            raise Conflict(_("This request has already been decided."))
        current.status, current.decided_by, current.decided_at, current.decision_note = new_status, by, timezone.now(), note
        current.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="assessment.decide_exclusion",
            obj=current,
            unit=access.acting_unit(by, case.region, capability=Capability.SUPERVISE),
            changes={"status": [ExclusionStatus.PENDING.value, new_status.value]},
            reason=note,
        )
    return current


# --- weights ----------------------------------------------------------------------------------------


def may_edit_weights(user: Any) -> bool:
    """The composite's weights are installation-wide rules of the work, kept by those who keep the
    responsibility list (the system administrators)."""
    return access.has_capability(user, Capability.MANAGE_RESPONSIBILITY_LIST)


def save_weights(*, by: Any, weights: dict[str, int], note: str = "") -> AssessmentWeights:
    """Put new weights of the composite in force (a new version; the old ones stay as history).

    Each weight is a whole number from 0 to 100 and at least one must be above 0.
    Audited as ``assessment.save_weights`` with what changed.
    """
    if not may_edit_weights(by):
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    clean: dict[str, int] = {}
    for key in RATE_KEYS:
        value = weights.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
            errors[key] = [_("A weight is a whole number from 0 to 100.")]
        else:
            clean[key] = value
    if not errors and not any(clean.values()):
        errors["__all__"] = [_("At least one weight must be above zero.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = AssessmentWeights.objects.current().as_dict()
        version = AssessmentWeights.objects.create(changed_by=by, note=note.strip(), **clean)
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="assessment.save_weights",
            obj=version,
            unit=access.acting_unit(by),
            changes=diff(before, version.as_dict()),
            reason=note.strip(),
        )
    return version


# --- exports -------------------------------------------------------------------------------------------


def record_export(
    *, by: Any, what: str, filters: Filters, rows: int, file_format: str, ip_address: str = "", figure: str = "", unit: Unit | None = None
) -> AuditEntry:
    """Write the audit entry of an export (before the file is sent): who, what, which filters, how many rows."""
    changes: dict[str, Any] = {"filters": filters.describe(), "rows": rows, "format": file_format}
    if figure:
        changes["figure"] = figure
    if unit is not None:
        changes["unit"] = unit.pk
    capability = next((c for c in READER_CAPABILITIES if access.has_capability(by, c)), None)
    with transaction.atomic():
        return record(
            actor=by,
            action=AuditAction.EXPORT,
            event=f"assessment.export_{what}",
            object_type="assessment.table" if what == "table" else WorkOrder._meta.label_lower,
            object_label=filters.period.label,
            unit=access.acting_unit(by, capability=capability),
            changes=changes,
            ip_address=ip_address,
        )
