"""Use cases of the deadlines: pause and resume a work order's clocks, ask for and decide an
extension, and change the deadline presets.

Each function checks permission through :mod:`rightscare.org.access`, runs in one
transaction with its timeline event (on the case) and its audit entry, and is what the
pages and the API both call. The timeline entries have their own kinds (``clock_paused``,
``clock_resumed``, ``extension_requested``, ``extension_decided``) and keep a
``data["supervision"]`` marker naming the same step.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rightscare.audit.models import AuditAction
from rightscare.audit.services import diff, record
from rightscare.cases.events import record_event, system_text
from rightscare.cases.models import AmongIds, Case, EventKind, IdArray, OneOf, TimeClass, Urgency, Visibility, WorkOrder, WorkOrderStatus
from rightscare.core import memo
from rightscare.core.errors import AuthorisationError, Conflict
from rightscare.org import access
from rightscare.org.models import Unit
from rightscare.org.roles import Capability
from rightscare.supervision import clocks
from rightscare.supervision.models import (
    HANDLER_PAUSE_REASONS,
    MAX_EXTENSION_WORKING_DAYS,
    MAX_LETTERS_VISITS_EXTENSION_DAYS,
    ClockKind,
    ClockPause,
    ClockPolicy,
    ClockUnit,
    DayUnit,
    Extension,
    ExtensionStatus,
    PauseReason,
    WorkOrderClock,
)

#: Work orders whose clocks a handler may pause or ask to extend: signed for, not yet completed.
OPEN_FOR_HANDLING = (WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS)


# --- who may do what ------------------------------------------------------------------------


def _handling_units(user: Any) -> QuerySet[Unit]:
    # A federation's dispatchers handle what is sent to their federation too (as in cases.services).
    return access.units_with_capability(user, Capability.HANDLE_WORK_ORDERS) | access.units_with_capability(user, Capability.DISPATCH_CASES)


def may_handle(user: Any, work_order: WorkOrder) -> bool:
    """Whether she acts for the unit the work order was sent to (she may pause its clocks and ask for more time)."""
    return _handling_units(user).filter(pk=work_order.unit_id).exists()


def may_decide_as_sender(user: Any, work_order: WorkOrder) -> bool:
    """Whether she acts for the unit that sent the work order: its dispatchers, or for a forwarded
    order the handlers of the unit that forwarded it (who also review it)."""
    if work_order.parent_id is None:
        return access.units_with_capability(user, Capability.DISPATCH_CASES).filter(pk=work_order.sent_by_unit_id).exists()
    parent = WorkOrder.objects.only("unit_id").get(pk=work_order.parent_id)
    return _handling_units(user).filter(pk=parent.unit_id).exists()


def supervised_work_orders(user: Any) -> QuerySet[WorkOrder]:
    """Work orders in her supervision: in the area of her supervising memberships, or sent to a unit of their subtree."""
    scope = access.case_scope(user, frozenset({Capability.SUPERVISE}))
    if scope.empty:
        return WorkOrder.objects.none()
    reach = access.path_prefix_q("case__region__path", scope.region_paths) | access.path_prefix_q("unit__path", scope.unit_paths)
    return WorkOrder.objects.filter(reach).exclude(case__accused_unit_id__in=scope.all_unit_ids)


def supervised_open_work_orders(user: Any, statuses: Iterable[str]) -> QuerySet[WorkOrder]:
    """The work orders of ``supervised_work_orders`` in ``statuses``, read the way lists need.

    The same rows; built like ``CaseQuerySet.listed_for``: each way she reaches a work order
    — the cases of her area (``case_region_status``, then ``work_order_case_status``), the
    units of her subtree (``work_order_inbox``) — is its own id query, their UNION is
    computed once and the rows fetched by id. ``supervised_work_orders``'s OR of a case's
    region and a unit's path has no index to answer it: the board read every open work
    order and every late clock of the installation (seconds at a million cases).
    """
    statuses = list(statuses)
    scope = access.case_scope(user, frozenset({Capability.SUPERVISE}))
    if scope.empty:
        return WorkOrder.objects.none()
    branches: list[QuerySet[Any, Any]] = []
    if scope.region_paths:
        area_cases = Case.objects.filter(access.path_prefix_q("region__path", scope.region_paths)).order_by().values("pk")
        branches.append(WorkOrder.objects.filter(OneOf(F("case_id"), area_cases), status__in=statuses).order_by().values("pk"))
    if scope.unit_paths:
        branches.append(WorkOrder.objects.filter(access.path_prefix_q("unit__path", scope.unit_paths), status__in=statuses).order_by().values("pk"))
    if not branches:
        return WorkOrder.objects.none()
    first, *others = branches
    reach = first.union(*others) if others else first
    if memo.active() and connection.vendor == "postgresql":
        # A page asks for the same set several times (the list, its count, the table by unit,
        # the chases): inside one ``core.memo`` block the ids are read once and passed on as
        # one array, instead of each query computing the union again (160 ms each for a city).
        ids = memo.remembered(("supervised open work", user.pk, tuple(statuses)), lambda: IdArray(reach.values_list("pk", flat=True)))
        return WorkOrder.objects.filter(AmongIds(F("pk"), ids), status__in=statuses).exclude(case__accused_unit_id__in=scope.all_unit_ids)
    return WorkOrder.objects.filter(OneOf(F("pk"), reach), status__in=statuses).exclude(case__accused_unit_id__in=scope.all_unit_ids)


def may_supervise(user: Any, work_order: WorkOrder) -> bool:
    """Whether she supervises the work order (a supervisor over its area or its unit)."""
    return supervised_work_orders(user).filter(pk=work_order.pk).exists()


def may_resume(user: Any, work_order: WorkOrder) -> bool:
    """The handling unit ends its pause; the sending unit may end one it finds unjustified."""
    return may_handle(user, work_order) or may_decide_as_sender(user, work_order)


def _require_handler(user: Any, work_order: WorkOrder) -> None:
    if not may_handle(user, work_order):
        raise PermissionDenied


def _fresh(work_order: WorkOrder, *, lock: bool = False) -> WorkOrder:
    rows = WorkOrder.objects.select_related("case", "unit", "sent_by_unit")
    if lock:
        rows = rows.select_for_update(of=("self",))
    return rows.get(pk=work_order.pk)


# --- pauses -----------------------------------------------------------------------------------


def open_pause(work_order: WorkOrder) -> ClockPause | None:
    """The work order's pause in progress, if any."""
    return ClockPause.objects.filter(work_order=work_order, ended_at__isnull=True).first()


def pause_clocks(*, work_order: WorkOrder, by: Any, reason_code: str, reason: str = "") -> ClockPause:
    """Pause a work order's clocks while waiting for the petitioner or an outside process (a court, arbitration).

    For the handling unit, once it has signed for the work order and until it completes it;
    only one pause at a time. The first-contact, update and resolution clocks that are
    running stand still until :func:`resume_clocks`; their due times then move by the
    paused (working) time. Records a timeline event and an audit entry.
    """
    work_order = _fresh(work_order)
    _require_handler(by, work_order)
    errors: dict[str, list[str]] = {}
    if reason_code not in HANDLER_PAUSE_REASONS:
        errors["reason_code"] = [_("Choose what the work order is waiting for.")]
    if reason_code == PauseReason.OTHER and not reason.strip():
        errors["reason"] = [_("Say what the work order is waiting for.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        work_order = _fresh(work_order, lock=True)
        if work_order.status not in OPEN_FOR_HANDLING:
            raise Conflict(_("Only a work order that is signed for and not yet completed can be paused."))
        if open_pause(work_order) is not None:
            raise Conflict(_("The clocks of this work order are already paused."))
        now = timezone.now()
        pause = ClockPause.objects.create(work_order=work_order, reason_code=reason_code, reason=reason.strip(), started_at=now, started_by=by)
        paused = clocks.pause_running_clocks(work_order, at=now)
        label = PauseReason(reason_code).label
        record_event(
            case=work_order.case,
            kind=EventKind.CLOCK_PAUSED,
            actor=by,
            unit=work_order.unit,
            work_order=work_order,
            text=system_text(lambda: _("Clocks paused: %(reason)s.") % {"reason": label}) + (f" {reason.strip()}" if reason.strip() else ""),
            data={"supervision": "clock_paused", "pause": pause.pk, "reason_code": reason_code},
        )
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="supervision.pause_clocks",
            obj=pause,
            unit=work_order.unit,
            changes={"work_order": work_order.pk, "reason_code": reason_code, "clocks": sorted(c.kind for c in paused)},
            reason=reason.strip(),
        )
    return pause


def resume_clocks(*, work_order: WorkOrder, by: Any) -> ClockPause:
    """End the pause in progress: the paused clocks run again, due later by the time they stood still.

    For the handling unit, or the unit that sent the work order (it may end a pause it
    finds unjustified). Records a timeline event and an audit entry.
    """
    work_order = _fresh(work_order)
    if not may_resume(by, work_order):
        raise PermissionDenied
    with transaction.atomic():
        work_order = _fresh(work_order, lock=True)
        pause = ClockPause.objects.select_for_update().filter(work_order=work_order, ended_at__isnull=True).first()
        if pause is None:
            raise Conflict(_("The clocks of this work order are not paused."))
        now = timezone.now()
        pause.ended_at, pause.ended_by = now, by
        pause.save(update_fields=["ended_at", "ended_by"])
        resumed = clocks.resume_paused_clocks(work_order, at=now)
        acting = work_order.unit if may_handle(by, work_order) else work_order.sent_by_unit
        record_event(
            case=work_order.case,
            kind=EventKind.CLOCK_RESUMED,
            actor=by,
            unit=acting,
            work_order=work_order,
            text=system_text(lambda: _("Clocks running again after %(reason)s.") % {"reason": PauseReason(pause.reason_code).label}),
            data={"supervision": "clock_resumed", "pause": pause.pk},
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="supervision.resume_clocks",
            obj=pause,
            unit=acting,
            changes={
                "ended_at": [None, now.isoformat()],
                "due_at": {c.kind: c.due_at.isoformat() for c in resumed},
            },
        )
    return pause


# --- extensions -----------------------------------------------------------------------------------


def _is_letters_and_visits(work_order: WorkOrder) -> bool:
    return work_order.time_class == TimeClass.LETTERS_AND_VISITS


def _local(instant: Any) -> str:
    return timezone.localtime(instant).strftime("%Y-%m-%d %H:%M")


def request_extension(*, work_order: WorkOrder, by: Any, days: int, reason: str) -> Extension:
    """Ask the sending unit for more time on the work order's resolution clock.

    For the handling unit, with a reason, while the work order is signed for and not yet
    completed, and before its resolution deadline has passed (as 12345 and the Regulation
    on Letters and Visits require); one request waits at a time. Letters and visits: one extension of at most 30
    days in all (信访工作条例), refused here beyond that. Otherwise an extension of at most 10
    working days; a second one, or more days, may be asked for but ``needs_supervisor``.
    Records a timeline event and an audit entry.
    """
    work_order = _fresh(work_order)
    _require_handler(by, work_order)
    letters = _is_letters_and_visits(work_order)
    errors: dict[str, list[str]] = {}
    if not reason.strip():
        errors["reason"] = [_("Say why more time is needed.")]
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        errors["days"] = [_("Ask for at least one day.")]
    elif letters and days > MAX_LETTERS_VISITS_EXTENSION_DAYS:
        errors["days"] = [_("A letters-and-visits matter may be extended by at most %(days)d days.") % {"days": MAX_LETTERS_VISITS_EXTENSION_DAYS}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        work_order = _fresh(work_order, lock=True)
        if work_order.status not in OPEN_FOR_HANDLING:
            raise Conflict(_("More time can be asked for only while the work order is being handled."))
        resolution = WorkOrderClock.objects.filter(work_order=work_order, kind=ClockKind.RESOLUTION, stopped_at__isnull=True).first()
        if resolution is None:
            raise Conflict(_("This work order has no running resolution deadline to extend."))
        if resolution.paused_at is None and resolution.due_at <= timezone.now():
            raise Conflict(_("More time must be asked for before the resolution deadline; it passed on %(due)s.") % {"due": _local(resolution.due_at)})
        if Extension.objects.filter(work_order=work_order, status=ExtensionStatus.PENDING).exists():
            raise Conflict(_("A request for more time is already waiting for a decision."))
        approved = Extension.objects.filter(work_order=work_order, status=ExtensionStatus.APPROVED).exists()
        if letters and approved:
            raise ValidationError({"days": [_("A letters-and-visits matter can be extended only once.")]})
        extension = Extension.objects.create(
            work_order=work_order,
            requested_by=by,
            requested_at=timezone.now(),
            reason=reason.strip(),
            days=days,
            day_unit=DayUnit.CALENDAR if letters else DayUnit.WORKING,
            needs_supervisor=not letters and (approved or days > MAX_EXTENSION_WORKING_DAYS),
        )
        record_event(
            case=work_order.case,
            kind=EventKind.EXTENSION_REQUESTED,
            actor=by,
            unit=work_order.unit,
            work_order=work_order,
            text=system_text(
                lambda: (
                    _("More time asked for: %(days)d %(unit)s. %(reason)s") % {"days": days, "unit": extension.get_day_unit_display(), "reason": reason.strip()}
                )
            ),
            data={"supervision": "extension_requested", "extension": extension.pk, "days": days, "day_unit": extension.day_unit},
        )
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="supervision.request_extension",
            obj=extension,
            unit=work_order.unit,
            changes={"work_order": work_order.pk, "days": days, "day_unit": extension.day_unit, "needs_supervisor": extension.needs_supervisor},
            reason=reason.strip(),
        )
    return extension


def may_decide_extension(user: Any, extension: Extension) -> bool:
    """Whether she may decide the request at all: the sending unit, or a supervisor over the work order."""
    work_order = extension.work_order
    return may_decide_as_sender(user, work_order) or may_supervise(user, work_order)


def decide_extension(*, extension: Extension, by: Any, approve: bool, note: str = "") -> Extension:
    """Approve or refuse a request for more time.

    The unit that sent the work order decides; a request that ``needs_supervisor`` (a
    second extension, or more than 10 working days) is approved only by a supervisor over
    the work order (the sending unit may still refuse it). A refusal needs a note. An
    approval moves the resolution clock's due time by the days asked for; a request made in
    time but decided after the deadline passed re-judges the clock against the approved
    deadline (it no longer counts as missed unless that one passes too). Records a
    timeline event and an audit entry.
    """
    extension = Extension.objects.select_related("work_order__case", "work_order__unit", "work_order__sent_by_unit").get(pk=extension.pk)
    work_order = extension.work_order
    as_sender, as_supervisor = may_decide_as_sender(by, work_order), may_supervise(by, work_order)
    if not (as_sender or as_supervisor):
        raise PermissionDenied
    if approve and extension.needs_supervisor and not as_supervisor:
        raise AuthorisationError(
            _("Only a supervisor may approve a second extension or one of more than %(days)d working days.") % {"days": MAX_EXTENSION_WORKING_DAYS}
        )
    if not approve and not note.strip():
        raise ValidationError({"note": [_("Say why the request is refused.")]})
    with transaction.atomic():
        _fresh(work_order, lock=True)
        locked = Extension.objects.select_for_update().get(pk=extension.pk)
        if locked.status != ExtensionStatus.PENDING:
            raise Conflict(_("This request has already been decided."))
        now = timezone.now()
        locked.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
        locked.decided_by, locked.decided_at, locked.decision_note = by, now, note.strip()
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
        clock = clocks.extend_resolution_clock(work_order, days=locked.days, at=now) if approve else None
        acting = work_order.sent_by_unit if as_sender else access.acting_unit(by, work_order.unit, capability=Capability.SUPERVISE)
        if approve:
            text = system_text(lambda: _("More time approved: %(days)d %(unit)s.") % {"days": locked.days, "unit": locked.get_day_unit_display()})
        else:
            text = system_text(lambda: _("More time refused."))
        record_event(
            case=work_order.case,
            kind=EventKind.EXTENSION_DECIDED,
            actor=by,
            unit=acting,
            work_order=work_order,
            text=f"{text} {note.strip()}".strip(),
            public_text=gettext_noop("The handling time of your request has been extended.") if approve else "",
            visibility=Visibility.PUBLIC if approve else Visibility.HANDLING,
            data={"supervision": "extension_decided", "extension": locked.pk, "approved": approve},
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="supervision.decide_extension",
            obj=locked,
            unit=acting,
            changes={
                "status": [ExtensionStatus.PENDING, locked.status],
                **({"due_at": clock.due_at.isoformat()} if clock is not None else {}),
            },
            reason=note.strip(),
        )
    return locked


def pending_extensions_for(user: Any) -> QuerySet[Extension]:
    """Requests for more time she may decide: sent by her units, or in her supervision when they need a supervisor."""
    dispatching = access.units_with_capability(user, Capability.DISPATCH_CASES)
    handling = _handling_units(user)
    sender = Q(work_order__parent__isnull=True, work_order__sent_by_unit__in=dispatching) | Q(
        work_order__parent__isnull=False, work_order__parent__unit__in=handling
    )
    supervised = Q(needs_supervisor=True, work_order__in=supervised_work_orders(user))
    return Extension.objects.filter(status=ExtensionStatus.PENDING).filter(sender | supervised)


# --- the presets --------------------------------------------------------------------------------


def _require_preset_manager(by: Any) -> None:
    if not access.has_capability(by, Capability.MANAGE_RESPONSIBILITY_LIST):
        raise PermissionDenied


def _policy_snapshot(policy: ClockPolicy) -> dict[str, Any]:
    return {"urgency": policy.urgency, "time_class": policy.time_class, "kind": policy.kind, "amount": policy.amount, "unit": policy.unit}


def save_clock_policy(*, by: Any, policy: ClockPolicy | None = None, urgency: str, time_class: str, kind: str, amount: int, unit: str) -> ClockPolicy:
    """Add a deadline preset, or change one (versioned).

    A change never edits the row: the current version is closed (``valid_until``) and a new
    one that ``replaces`` it opened, so the history of which deadlines applied when stays;
    clocks already running keep the version they started with. Only one current preset per
    urgency, time class and clock. For the administrators of the responsibility list; audited.
    """
    _require_preset_manager(by)
    errors: dict[str, list[str]] = {}
    if urgency not in Urgency.values:
        errors["urgency"] = [_("Unknown urgency.")]
    if time_class and time_class not in TimeClass.values:
        errors["time_class"] = [_("Unknown time class.")]
    if kind not in ClockKind.values:
        errors["kind"] = [_("Unknown clock.")]
    if unit not in ClockUnit.values:
        errors["unit"] = [_("Unknown unit.")]
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        errors["amount"] = [_("Enter a whole number of at least 1.")]
    elif amount > 10000:
        errors["amount"] = [_("Enter at most 10000.")]
    if policy is not None and (policy.urgency, policy.time_class, policy.kind) != (urgency, time_class, kind):
        errors["kind"] = [_("A preset keeps its urgency, time class and clock; add a new preset instead.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before: dict[str, Any] = {}
        if policy is not None:
            locked = ClockPolicy.objects.select_for_update().get(pk=policy.pk)
            if locked.valid_until is not None:
                raise Conflict(_("This preset has already been replaced; edit the current one."))
            before = _policy_snapshot(locked)
            if before == {"urgency": urgency, "time_class": time_class, "kind": kind, "amount": amount, "unit": unit}:
                return locked
            now = timezone.now()
            ClockPolicy.objects.filter(pk=locked.pk).update(valid_until=now, updated_at=now)
        elif ClockPolicy.objects.current().filter(urgency=urgency, time_class=time_class, kind=kind).exists():
            raise ValidationError({"kind": [_("There is already a preset for this urgency, time class and clock; edit it.")]})
        new = ClockPolicy.objects.create(urgency=urgency, time_class=time_class, kind=kind, amount=amount, unit=unit, replaces=policy, updated_by=by)
        record(
            actor=by,
            action=AuditAction.UPDATE if policy is not None else AuditAction.CREATE,
            event="supervision.save_clock_policy",
            obj=new,
            unit=access.acting_unit(by, capability=Capability.MANAGE_RESPONSIBILITY_LIST),
            changes=diff(before, _policy_snapshot(new)) | ({"replaces": policy.pk} if policy is not None else {}),
        )
    return new


def policy_history(policy: ClockPolicy) -> list[ClockPolicy]:
    """Every version of a preset (same urgency, time class and clock), newest first."""
    return list(
        ClockPolicy.objects.filter(urgency=policy.urgency, time_class=policy.time_class, kind=policy.kind)
        .select_related("updated_by")
        .order_by("-valid_from", "-id")
    )
