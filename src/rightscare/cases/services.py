"""Use cases of cases and work orders: register, dispatch, sign for, return, forward,
record progress, complete, review, transfer, merge, close.

Each function checks permission through :mod:`rightscare.org.access`, runs in one
transaction, records its timeline event (``events.record_event``) and its audit entry,
and is what the pages, the API and the tasks all call. Work-order moves follow
``WORK_ORDER_TRANSITIONS`` only and use an optimistic version check, so two handlers
acting at once cannot both win.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rightscare.audit.models import AuditAction
from rightscare.audit.services import diff, record
from rightscare.cases import deadlines, numbering
from rightscare.cases.events import record_event, system_text
from rightscare.cases.models import (
    ACTIVE_WORK_ORDER_STATUSES,
    FINAL_CASE_STATUSES,
    WORK_ORDER_TRANSITIONS,
    Attachment,
    Case,
    CaseParty,
    CaseStatus,
    Category,
    EmergencyHandoff,
    EventKind,
    LegalBasis,
    PartyRole,
    RequestType,
    ResponsibilityRule,
    ReturnRuling,
    Role,
    TimeClass,
    Transfer,
    Urgency,
    Visibility,
    WorkOrder,
    WorkOrderAction,
    WorkOrderStatus,
)
from rightscare.core.errors import Conflict
from rightscare.org import access
from rightscare.org.divisions import RegionLevel
from rightscare.org.models import Region, Unit, UnitKind
from rightscare.org.roles import Capability
from rightscare.registry.models import Person

#: Test-only hooks (a ``threading.Barrier.wait``) called between a service's read and its write.
TEST_HOOKS: dict[str, Callable[[], Any]] = {}


def _hook(name: str) -> None:
    hook = TEST_HOOKS.get(name)
    if hook is not None:
        hook()


def _safety() -> Any:
    """Safety follow-up (``rightscare.supervision.safety``): imported late like the clocks."""
    from rightscare.supervision import safety

    return safety


def _ratings() -> Any:
    """The petitioner's ratings (``rightscare.ratings.services``): imported late, the ratings app sits above cases."""
    from rightscare.ratings import services

    return services


def _petitioner() -> Any:
    """Telling the petitioner (``rightscare.notifications.petitioner``): imported late, it reads cases and people."""
    from rightscare.notifications import petitioner

    return petitioner


def under_safety_follow_up(case: Case) -> bool:
    """Whether the case is kept open for her safety (then it cannot be closed)."""
    return bool(_safety().has_open_follow_up(case))


def _case_changed(case_id: int, *, previous: str, status: str) -> None:
    """Tell other systems (webhooks, the 12345 platform) that a case was created (``previous`` "") or changed status.

    Called inside the transaction of the change: the deliveries are written with it and
    sent after commit (``rightscare.integrations.services.record_case_change``). Every
    write of ``Case.status`` calls it. Imported late: the integrations app sits above cases.
    """
    from rightscare.integrations import services

    services.record_case_change(case_id=case_id, previous=previous, status=status)


def _clocks() -> Any:
    """The work orders' clocks (``rightscare.supervision.clocks``): imported late, the deadlines app sits above cases."""
    from rightscare.supervision import clocks

    return clocks


class IllegalTransition(Conflict):
    """The work order's state does not allow this action (answered as 409 with the reason)."""


# --- registering ----------------------------------------------------------------------


def next_case_number(*, at: Any = None) -> str:
    """Allocate the next case number of the year, e.g. ``SZ-2026-000123`` (``cases.numbering``)."""
    prefix = getattr(settings, "CASE_NUMBER_PREFIX", "SZ")
    year = timezone.localtime(at or timezone.now()).year
    return f"{prefix}-{year}-{numbering.allocate(prefix, year):06d}"


@dataclass
class PartyInput:
    """Someone to attach to a new case."""

    role: str
    person: Person | None = None
    organisation_name: str = ""
    confidential: bool = False


#: Memberships that register cases for their unit: those taking calls and those dispatching.
REGISTERING_CAPABILITIES = frozenset({Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES})


def may_register_for(user: Any, unit: Unit) -> bool:
    """Whether she takes calls or dispatches in ``unit`` (an active one), from her memberships without a query."""
    return unit.is_active and access.member_of_any(user, {unit.pk}, REGISTERING_CAPABILITIES)


def _require_unit_capability(user: Any, unit: Unit, capability: Capability) -> None:
    if unit not in access.units_with_capability(user, capability):
        raise PermissionDenied


def register_case(
    *,
    by: Any,
    unit: Unit,
    request_type: str,
    category: Category,
    summary: str,
    region: Region,
    address: str = "",
    urgency: str = Urgency.NORMAL,
    petitioner: Person | None = None,
    parties: Iterable[PartyInput] = (),
    location_confidential: bool = False,
    accused_unit: Unit | None = None,
    reporting_institution: Unit | None = None,
    police_notified: bool = False,
    police_incident_number: str = "",
) -> Case:
    """Register a case for ``unit`` (the operator's unit) and record it on the timeline.

    The region must be inside the unit's reach; the category must be current. An
    accusation names the accused unit, which will never see the case.
    """
    if not may_register_for(by, unit):
        raise PermissionDenied
    parties = list(parties)
    errors: dict[str, list[str]] = {}
    if request_type not in RequestType.values:
        errors["request_type"] = [_("Unknown request type.")]
    if urgency not in Urgency.values:
        errors["urgency"] = [_("Unknown urgency.")]
    if category.valid_until is not None:
        errors["category"] = [_("This category is no longer in use.")]
    if category.parent_id is None and category.children.filter(valid_until__isnull=True).exists():
        errors["category"] = [_("Choose a category of the second level.")]
    if not summary.strip():
        errors["summary"] = [_("Describe what happened.")]
    if not access.sees_region(by, region):
        errors["region"] = [_("This region is outside your scope.")]
    if request_type == RequestType.ACCUSATION and accused_unit is None:
        errors["accused_unit"] = [_("Name the unit the accusation is about.")]
    if police_incident_number and not police_notified:
        errors["police_notified"] = [_("An incident number means the police were informed.")]
    if errors:
        raise ValidationError(errors)
    if any(party.role not in PartyRole.values for party in parties):
        raise ValidationError({"parties": [_("Unknown role of a person concerned.")]})
    # No savepoint of its own inside a caller's transaction (a hotline call): every check is
    # above, so only the database can fail here, and that aborts the caller's transaction anyway.
    with transaction.atomic(savepoint=False):
        case = Case.objects.create(
            number=next_case_number(),
            request_type=request_type,
            category=category,
            urgency=urgency,
            summary=summary.strip(),
            petitioner=petitioner,
            region=region,
            address=address.strip(),
            location_confidential=location_confidential or (petitioner is not None and petitioner.address_confidential),
            registering_unit=unit,
            registered_by=by,
            accused_unit=accused_unit if request_type == RequestType.ACCUSATION else None,
            reporting_institution=reporting_institution,
            police_notified=police_notified,
            police_incident_number=police_incident_number.strip(),
        )
        if petitioner is not None:
            CaseParty.objects.create(case=case, role=PartyRole.PETITIONER, person=petitioner)
        for party in parties:
            CaseParty.objects.create(
                case=case, role=party.role, person=party.person, organisation_name=party.organisation_name.strip(), confidential=party.confidential
            )
            if party.role == PartyRole.RESPONDENT and party.person is not None:
                # Calls from a respondent's phone must reveal nothing of this case.
                party.person.phones.update(respondent_flag=True)
        record_event(
            case=case,
            kind=EventKind.REGISTERED,
            actor=by,
            unit=unit,
            public_text=gettext_noop("Your request has been registered."),
            visibility=Visibility.PUBLIC,
        )
        _petitioner().case_registered(case)
        record(actor=by, action=AuditAction.CREATE, event="cases.register_case", obj=case, unit=unit, changes={"category": category.code, "urgency": urgency})
        _case_changed(case.pk, previous="", status=case.status)
    return case


# --- dispatch -----------------------------------------------------------------------------


@dataclass
class Suggestion:
    """Who should handle a case according to the responsibility list."""

    lead: Unit | None
    cohandlers: list[Unit] = field(default_factory=list)
    time_class: str = TimeClass.STANDARD
    rule: ResponsibilityRule | None = None


def _category_chain(category: Category) -> list[Category]:
    chain = [category]
    while chain[-1].parent_id is not None and chain[-1].parent is not None:
        chain.append(chain[-1].parent)
    return chain


def _nearest_unit(*, kind_id: int, region: Region, within: Region, excluded: set[int]) -> Unit | None:
    """The unit of a kind responsible for ``region``: attached to it or its nearest ancestor, inside ``within``."""
    candidates = Unit.objects.filter(kind_id=kind_id, is_active=True, region__path__startswith=within.path).exclude(pk__in=excluded).select_related("region")
    best: Unit | None = None
    for unit in candidates:
        if region.path.startswith(unit.region.path) and (best is None or len(unit.region.path) > len(best.region.path)):
            best = unit
    if best is None:
        # A unit below the case's region (e.g. a street team when only the district is known) is not guessed.
        return None
    return best


def suggest_dispatch(*, dispatching_unit: Unit, category: Category, region: Region, accused_unit: Unit | None = None) -> Suggestion:
    """The responsibility list's answer for this dispatching unit, category and place.

    The most specific rule wins (own category before its parent, a rule for the
    unit's region before a general one for its level). An accused unit is never suggested.
    """
    chain = _category_chain(category)
    rules = list(
        ResponsibilityRule.objects.filter(valid_until__isnull=True, dispatch_level=dispatching_unit.region.level, category__in=chain)
        .filter(Q(region__isnull=True) | Q(region=dispatching_unit.region))
        .select_related("category", "region")
        .prefetch_related("cohandler_kinds")
    )
    if not rules:
        return Suggestion(lead=None)
    rules.sort(key=lambda rule: (chain.index(rule.category), 0 if rule.region_id else 1))
    rule = rules[0]
    # The dispatching unit may lead itself (a district federation leading a domestic-violence case).
    excluded = {accused_unit.pk} if accused_unit else set()
    lead = _nearest_unit(kind_id=rule.lead_kind_id, region=region, within=dispatching_unit.region, excluded=excluded)
    cohandlers = []
    for kind in rule.cohandler_kinds.all():
        unit = _nearest_unit(kind_id=kind.pk, region=region, within=dispatching_unit.region, excluded=excluded | ({lead.pk} if lead else set()))
        if unit is not None:
            cohandlers.append(unit)
    return Suggestion(lead=lead, cohandlers=cohandlers, time_class=rule.time_class, rule=rule)


def _create_work_order(
    *, case: Case, unit: Unit, role: str, by: Any, sent_by_unit: Unit, legal_basis: str, time_class: str, instructions: str, parent: WorkOrder | None
) -> WorkOrder:
    now = timezone.now()
    order = WorkOrder.objects.create(
        case=case,
        unit=unit,
        role=role,
        time_class=time_class,
        legal_basis=legal_basis,
        sent_by_unit=sent_by_unit,
        sent_by=by,
        parent=parent,
        instructions=instructions.strip(),
        return_deadline=deadlines.return_deadline(unit=unit, sent_at=now),
    )
    _clocks().work_order_sent(order, at=order.created_at)
    return order


def _check_targets(*, lead: Unit | None, cohandlers: list[Unit], allowed: set[int], case: Case) -> None:
    units = [*([lead] if lead else []), *cohandlers]
    if len({u.pk for u in units}) != len(units):
        raise ValidationError({"cohandlers": [_("A unit can be sent the case only once.")]})
    if case.accused_unit_id is not None and case.accused_unit_id in {u.pk for u in units}:
        raise ValidationError({"lead": [_("The accused unit cannot handle the accusation against it.")]})
    outside = [u for u in units if u.pk not in allowed]
    if outside:
        raise ValidationError({"lead": [_("%(unit)s is outside the units you may send work to.") % {"unit": outside[0].display_name}]})


def dispatch_case(
    *,
    case: Case,
    by: Any,
    dispatching_unit: Unit,
    lead: Unit,
    cohandlers: Iterable[Unit] = (),
    legal_basis: str = LegalBasis.CONSENT,
    time_class: str | None = None,
    instructions: str = "",
) -> list[WorkOrder]:
    """Send the case to a lead unit and co-handlers as work orders from ``dispatching_unit``.

    The dispatcher may choose any unit in her reach (down her subtree, across to
    departments in her area); the suggestion is only a suggestion. Records the legal
    basis for sharing the victim's data with the units.
    """
    _require_unit_capability(by, dispatching_unit, Capability.DISPATCH_CASES)
    if not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    cohandlers = list(cohandlers)
    if legal_basis not in LegalBasis.values:
        raise ValidationError({"legal_basis": [_("Choose the legal basis for sharing the data.")]})
    allowed = set(access.dispatch_targets(by, dispatching_unit).values_list("pk", flat=True))
    _check_targets(lead=lead, cohandlers=cohandlers, allowed=allowed, case=case)
    time_class = time_class or suggest_dispatch(dispatching_unit=dispatching_unit, category=case.category, region=case.region).time_class
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status in FINAL_CASE_STATUSES or locked.status == CaseStatus.RESOLVED:
            raise Conflict(_("This case is %(status)s and cannot be dispatched.") % {"status": locked.get_status_display()})
        if locked.work_orders.filter(parent__isnull=True, role=Role.LEAD, status__in=ACTIVE_WORK_ORDER_STATUSES | {WorkOrderStatus.ACCEPTED}).exists():
            raise Conflict(_("This case already has a lead unit; add co-handlers or wait for a return."))
        orders = [
            _create_work_order(
                case=locked,
                unit=unit,
                role=role,
                by=by,
                sent_by_unit=dispatching_unit,
                legal_basis=legal_basis,
                time_class=time_class,
                instructions=instructions,
                parent=None,
            )
            for unit, role in [(lead, Role.LEAD), *((u, Role.COHANDLER) for u in cohandlers)]
        ]
        names = "、".join(o.unit.name for o in orders)
        record_event(
            case=locked,
            kind=EventKind.DISPATCHED,
            actor=by,
            unit=dispatching_unit,
            text=_("Sent to %(units)s.") % {"units": names},
            public_text=gettext_noop("Your request has been sent to the responsible units."),
            visibility=Visibility.PUBLIC,
            data={"work_orders": [o.pk for o in orders], "legal_basis": legal_basis},
        )
        _petitioner().case_dispatched(locked)
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.dispatch_case",
            obj=locked,
            unit=dispatching_unit,
            changes={"units": [o.unit_id for o in orders], "legal_basis": legal_basis},
        )
        refresh_case_status(locked)
    return orders


def forward_work_order(
    *, work_order: WorkOrder, by: Any, lead: Unit | None, cohandlers: Iterable[Unit] = (), legal_basis: str | None = None, instructions: str = ""
) -> list[WorkOrder]:
    """Forward a signed work order down (转派): child work orders for lower units, reviewed by this unit.

    Without a ``lead`` the unit keeps leading and only brings in co-handlers.
    """
    work_order = _fresh(work_order)
    unit = work_order.unit
    if not (unit in access.units_with_capability(by, Capability.DISPATCH_CASES) or unit in access.units_with_capability(by, Capability.HANDLE_WORK_ORDERS)):
        raise PermissionDenied
    if work_order.status not in (WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS):
        raise IllegalTransition(_("Sign for the work order before forwarding it."))
    cohandlers = list(cohandlers)
    if lead is None and not cohandlers:
        raise ValidationError({"lead": [_("Choose at least one unit.")]})
    allowed = set(Unit.objects.filter(region__path__startswith=unit.region.path, is_active=True).exclude(pk=unit.pk).values_list("pk", flat=True))
    _check_targets(lead=lead, cohandlers=cohandlers, allowed=allowed, case=work_order.case)
    with transaction.atomic():
        if lead is not None and work_order.children.filter(role=Role.LEAD, status__in=ACTIVE_WORK_ORDER_STATUSES | {WorkOrderStatus.ACCEPTED}).exists():
            raise Conflict(_("This work order has already been forwarded to a lead unit."))
        orders = [
            _create_work_order(
                case=work_order.case,
                unit=target,
                role=role,
                by=by,
                sent_by_unit=unit,
                legal_basis=legal_basis or work_order.legal_basis,
                time_class=work_order.time_class,
                instructions=instructions,
                parent=work_order,
            )
            for target, role in [*([(lead, Role.LEAD)] if lead else []), *((u, Role.COHANDLER) for u in cohandlers)]
        ]
        record_event(
            case=work_order.case,
            kind=EventKind.FORWARDED,
            actor=by,
            unit=unit,
            work_order=work_order,
            text=_("Forwarded to %(units)s.") % {"units": "、".join(o.unit.name for o in orders)},
            data={"work_orders": [o.pk for o in orders]},
        )
        record(actor=by, action=AuditAction.UPDATE, event="cases.forward_work_order", obj=work_order, unit=unit, changes={"units": [o.unit_id for o in orders]})
    return orders


# --- the work order's life cycle ---------------------------------------------------------


def _fresh(work_order: WorkOrder) -> WorkOrder:
    """Re-read the work order: decisions are taken on its current state, never on a stale copy."""
    return WorkOrder.objects.select_related("case", "unit", "sent_by_unit", "parent").get(pk=work_order.pk)


def _handling_unit_member(by: Any, work_order: WorkOrder) -> None:
    unit = work_order.unit
    if not (unit in access.units_with_capability(by, Capability.HANDLE_WORK_ORDERS) or unit in access.units_with_capability(by, Capability.DISPATCH_CASES)):
        raise PermissionDenied


def _move(work_order: WorkOrder, action: str, changes: dict[str, Any]) -> WorkOrder:
    """Apply ``action`` if the work order is still as it was read; otherwise a conflict."""
    current = WorkOrder.objects.get(pk=work_order.pk)
    _hook("work_order.read")
    new_status = WORK_ORDER_TRANSITIONS.get((current.status, action))
    if new_status is None:
        raise IllegalTransition(
            _("A work order that is %(status)s cannot be %(action)s.") % {"status": current.get_status_display(), "action": WorkOrderAction(action).label}
        )
    updated = WorkOrder.objects.filter(pk=current.pk, version=current.version).update(
        status=new_status, version=F("version") + 1, updated_at=timezone.now(), **changes
    )
    if updated != 1:
        raise Conflict(_("Someone else changed this work order just now. Reload it and try again."))
    current.refresh_from_db()
    return current


def sign_for_work_order(*, work_order: WorkOrder, by: Any) -> WorkOrder:
    """Sign for (签收) a work order sent to the user's unit."""
    work_order = _fresh(work_order)
    _handling_unit_member(by, work_order)
    with transaction.atomic():
        now = timezone.now()
        order = _move(work_order, WorkOrderAction.SIGN_FOR, {"signed_at": now, "signed_by_id": by.pk})
        _clocks().work_order_signed(order, at=now)
        record_event(
            case=order.case,
            kind=EventKind.SIGNED_FOR,
            actor=by,
            unit=order.unit,
            work_order=order,
            public_text=gettext_noop("A responsible unit has taken on your request."),
            visibility=Visibility.PUBLIC,
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.sign_for_work_order",
            obj=order,
            unit=order.unit,
            changes={"status": [WorkOrderStatus.SENT, order.status]},
        )
        refresh_case_status(order.case)
    return order


def return_work_order(*, work_order: WorkOrder, by: Any, reason: str) -> WorkOrder:
    """Return (退回) a work order to the unit that sent it, with a reason.

    Allowed until the first progress note and within the return window (2 working
    days from sending, by the unit's calendar); the sender then rules on it.
    """
    work_order = _fresh(work_order)
    _handling_unit_member(by, work_order)
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why the work order is returned.")]})
    if work_order.first_note_at is not None or work_order.first_contact_at is not None:
        raise IllegalTransition(_("Work has started on this order; it can no longer be returned."))
    if work_order.return_deadline is not None and timezone.now() > work_order.return_deadline:
        raise IllegalTransition(_("The return window of this work order has passed."))
    with transaction.atomic():
        order = _move(work_order, WorkOrderAction.RETURN, {"returned_at": timezone.now(), "return_reason": reason.strip()})
        _clocks().work_order_left(order, at=order.returned_at, reason="returned")
        record_event(case=order.case, kind=EventKind.RETURNED, actor=by, unit=order.unit, work_order=order, text=reason.strip())
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.return_work_order",
            obj=order,
            unit=order.unit,
            changes={"status": [WorkOrderStatus.SENT, order.status]},
            reason=reason.strip(),
        )
        refresh_case_status(order.case)
    return order


def rule_on_return(*, work_order: WorkOrder, by: Any, ruling: str, note: str = "") -> WorkOrder:
    """The sending unit rules a return justified or unjustified (it counts against one of them)."""
    work_order = _fresh(work_order)
    _require_unit_capability(by, work_order.sent_by_unit, Capability.DISPATCH_CASES)
    if ruling not in ReturnRuling.values:
        raise ValidationError({"ruling": [_("Choose justified or unjustified.")]})
    with transaction.atomic():
        current = WorkOrder.objects.get(pk=work_order.pk)
        _hook("work_order.read")
        if current.status != WorkOrderStatus.RETURNED or current.return_ruling:
            raise IllegalTransition(_("Only a returned work order without a ruling can be ruled on."))
        updated = WorkOrder.objects.filter(pk=current.pk, version=current.version).update(
            return_ruling=ruling, return_ruled_at=timezone.now(), version=F("version") + 1
        )
        if updated != 1:
            raise Conflict(_("Someone else changed this work order just now. Reload it and try again."))
        current.refresh_from_db()
        record_event(
            case=current.case, kind=EventKind.RETURN_RULED, actor=by, unit=current.sent_by_unit, work_order=current, text=note.strip(), data={"ruling": ruling}
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.rule_on_return",
            obj=current,
            unit=current.sent_by_unit,
            changes={"return_ruling": ["", ruling]},
            reason=note,
        )
    return current


def record_first_contact(*, work_order: WorkOrder, by: Any, note: str) -> WorkOrder:
    """Record the first contact with the petitioner: the work order is now in progress."""
    work_order = _fresh(work_order)
    _handling_unit_member(by, work_order)
    if not note.strip():
        raise ValidationError({"note": [_("Say how the petitioner was contacted.")]})
    with transaction.atomic():
        now = timezone.now()
        order = _move(work_order, WorkOrderAction.RECORD_FIRST_CONTACT, {"first_contact_at": now, "first_note_at": work_order.first_note_at or now})
        _clocks().work_order_first_contact(order, at=now)
        record_event(
            case=order.case,
            kind=EventKind.FIRST_CONTACT,
            actor=by,
            unit=order.unit,
            work_order=order,
            text=note.strip(),
            public_text=gettext_noop("The responsible unit has contacted you."),
            visibility=Visibility.HANDLING,
        )
        record(actor=by, action=AuditAction.UPDATE, event="cases.record_first_contact", obj=order, unit=order.unit)
        refresh_case_status(order.case)
    return order


def add_progress_note(*, work_order: WorkOrder, by: Any, text: str, visibility: str = Visibility.HANDLING, public_text: str = "") -> WorkOrder:
    """Add a progress note; a public note's text is what the petitioner sees (never a person's name)."""
    work_order = _fresh(work_order)
    _handling_unit_member(by, work_order)
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": [_("Unknown visibility.")]})
    if not text.strip():
        raise ValidationError({"text": [_("The note is empty.")]})
    if work_order.status not in (WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.COMPLETED):
        raise IllegalTransition(_("Notes can be added once the work order is signed for and until it is accepted."))
    with transaction.atomic():
        WorkOrder.objects.filter(pk=work_order.pk, first_note_at__isnull=True).update(first_note_at=timezone.now())
        _clocks().work_order_noted(work_order, at=timezone.now())
        record_event(
            case=work_order.case,
            kind=EventKind.NOTE,
            actor=by,
            unit=work_order.unit,
            work_order=work_order,
            text=text.strip(),
            public_text=(public_text.strip() or text.strip()) if visibility == Visibility.PUBLIC else "",
            visibility=visibility,
        )
        record(actor=by, action=AuditAction.UPDATE, event="cases.add_progress_note", obj=work_order, unit=work_order.unit)
    work_order.refresh_from_db()
    return work_order


def complete_work_order(*, work_order: WorkOrder, by: Any, result: str, outcome_codes: Iterable[str] = (), amount_yuan: Decimal | None = None) -> WorkOrder:
    """Complete a work order with its result (and amounts such as back pay and compensation)."""
    work_order = _fresh(work_order)
    _handling_unit_member(by, work_order)
    if not result.strip():
        raise ValidationError({"result": [_("Describe the result.")]})
    if amount_yuan is not None and amount_yuan < 0:
        raise ValidationError({"amount_yuan": [_("An amount cannot be negative.")]})
    if work_order.children.filter(status__in=[WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.COMPLETED]).exists():
        raise IllegalTransition(_("Review the work orders you forwarded before completing this one."))
    with transaction.atomic():
        order = _move(
            work_order,
            WorkOrderAction.COMPLETE,
            {"completed_at": timezone.now(), "result": result.strip(), "outcome_codes": list(outcome_codes), "amount_yuan": amount_yuan},
        )
        _clocks().work_order_completed(order, at=order.completed_at)
        record_event(
            case=order.case,
            kind=EventKind.COMPLETED,
            actor=by,
            unit=order.unit,
            work_order=order,
            text=result.strip(),
            public_text=gettext_noop("The responsible unit has finished its work."),
            visibility=Visibility.PUBLIC,
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.complete_work_order",
            obj=order,
            unit=order.unit,
            changes={"amount_yuan": [None, str(amount_yuan) if amount_yuan is not None else None]},
        )
        refresh_case_status(order.case)
    return order


def review_work_order(*, work_order: WorkOrder, by: Any, accept: bool, comment: str = "") -> WorkOrder:
    """The unit that sent the work order accepts its result or sends it back with a reason."""
    work_order = _fresh(work_order)
    if work_order.parent is None:
        _require_unit_capability(by, work_order.sent_by_unit, Capability.DISPATCH_CASES)
    else:
        # A forwarded order is reviewed by the unit that forwarded it.
        _handling_unit_member(by, work_order.parent)
    if not accept and not comment.strip():
        raise ValidationError({"comment": [_("Say what is still missing.")]})
    with transaction.atomic():
        action = WorkOrderAction.ACCEPT if accept else WorkOrderAction.SEND_BACK
        order = _move(work_order, action, {"reviewed_at": timezone.now(), "review_comment": comment.strip()})
        if not accept:
            _clocks().work_order_sent_back(order, at=order.reviewed_at, completed_at=order.completed_at)
        record_event(
            case=order.case,
            kind=EventKind.ACCEPTED if accept else EventKind.SENT_BACK,
            actor=by,
            unit=order.sent_by_unit,
            work_order=order,
            text=comment.strip(),
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.review_work_order",
            obj=order,
            unit=order.sent_by_unit,
            changes={"status": [WorkOrderStatus.COMPLETED, order.status]},
            reason=comment,
        )
        refresh_case_status(order.case)
    return order


# --- the case's status ----------------------------------------------------------------


def refresh_case_status(case: Case) -> Case:
    """Derive the case's status from its top-level work orders (and record resolution)."""
    case.refresh_from_db(fields=["status", "resolved_at"])
    if case.status in FINAL_CASE_STATUSES:
        return case
    statuses = list(
        case.work_orders.filter(parent__isnull=True)
        .exclude(status__in=[WorkOrderStatus.RETURNED, WorkOrderStatus.TRANSFERRED])
        .values_list("status", flat=True)
    )
    if not statuses:
        new = CaseStatus.REGISTERED
    elif all(s == WorkOrderStatus.ACCEPTED for s in statuses):
        new = CaseStatus.RESOLVED
    elif any(s != WorkOrderStatus.SENT for s in statuses):
        new = CaseStatus.IN_PROGRESS
    else:
        new = CaseStatus.DISPATCHED
    if new != case.status:
        changes: dict[str, Any] = {"status": new, "version": F("version") + 1}
        if new == CaseStatus.RESOLVED:
            changes["resolved_at"] = timezone.now()
        elif case.status == CaseStatus.RESOLVED:
            changes["resolved_at"] = None
        Case.objects.filter(pk=case.pk).update(**changes)
        _case_changed(case.pk, previous=case.status, status=new)
        if new == CaseStatus.RESOLVED:
            record_event(case=case, kind=EventKind.RESOLVED, public_text=gettext_noop("Your request has been resolved."), visibility=Visibility.PUBLIC)
            _safety().case_resolved(case)
            _petitioner().case_resolved(case)
            _ratings().case_resolved(case, at=changes["resolved_at"])
        case.refresh_from_db()
    return case


def _dispatcher_of_case(by: Any, case: Case) -> Unit:
    units = access.units_with_capability(by, Capability.DISPATCH_CASES)
    if not Case.objects.visible_to(by).filter(pk=case.pk).exists() or not units.exists():
        raise PermissionDenied
    for unit in units:
        if unit.pk == case.registering_unit_id or case.work_orders.filter(sent_by_unit=unit).exists() or case.region.path.startswith(unit.region.path):
            return unit
    raise PermissionDenied


def close_case(*, case: Case, by: Any, note: str = "") -> Case:
    """Close a resolved case."""
    unit = _dispatcher_of_case(by, case)
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != CaseStatus.RESOLVED:
            raise IllegalTransition(_("Only a resolved case can be closed."))
        if _safety().has_open_follow_up(locked):
            raise IllegalTransition(_("Her safety is still being followed up: end the safety follow-up, with a reason, before closing the case."))
        Case.objects.filter(pk=locked.pk).update(status=CaseStatus.CLOSED, closed_at=timezone.now(), version=F("version") + 1)
        _case_changed(locked.pk, previous=CaseStatus.RESOLVED, status=CaseStatus.CLOSED)
        _clocks().case_finished(locked, at=timezone.now())
        record_event(
            case=locked,
            kind=EventKind.CLOSED,
            actor=by,
            unit=unit,
            text=note,
            public_text=gettext_noop("Your request has been closed."),
            visibility=Visibility.PUBLIC,
        )
        record(
            actor=by, action=AuditAction.UPDATE, event="cases.close_case", obj=locked, unit=unit, changes={"status": [CaseStatus.RESOLVED, CaseStatus.CLOSED]}
        )
    locked.refresh_from_db()
    return locked


def close_case_as_unreachable(*, case: Case, by: Any, unit: Unit) -> bool:
    """Close a resolved case whose petitioner could not be reached for her rating; return whether it was closed.

    Called by ``rightscare.ratings`` after the last return-visit call that did not reach
    her; that app checks the officer and never calls it for a case under safety follow-up
    (checked here again: such a case is never closed automatically). Only a resolved case
    is closed. Event CLOSED (public), audited.
    """
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != CaseStatus.RESOLVED or _safety().has_open_follow_up(locked):
            return False
        now = timezone.now()
        Case.objects.filter(pk=locked.pk).update(status=CaseStatus.CLOSED, closed_at=now, version=F("version") + 1)
        _case_changed(locked.pk, previous=CaseStatus.RESOLVED, status=CaseStatus.CLOSED)
        _clocks().case_finished(locked, at=now)
        record_event(
            case=locked,
            kind=EventKind.CLOSED,
            actor=by,
            unit=unit,
            text=system_text(lambda: _("Closed: the petitioner could not be reached for the return visit.")),
            public_text=gettext_noop("Your request has been closed."),
            visibility=Visibility.PUBLIC,
            data={"reason": "unreachable"},
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.close_case_unreachable",
            obj=locked,
            unit=unit,
            changes={"status": [CaseStatus.RESOLVED, CaseStatus.CLOSED]},
        )
    return True


def rework_work_order(*, work_order: WorkOrder, by: Any, reason: str, round_number: int | None = None) -> WorkOrder:
    """Send the accepted lead work order back for rework (重办): it is in progress again with a new clock.

    For the dispatchers of the unit that sent it (``rightscare.ratings.services.send_back_for_rework``
    checks first that the petitioner's latest rating was unsatisfied or unsolved). The case
    goes back to in progress, a closed case is reopened; the resolution and update clocks
    start afresh (``clocks.work_order_reworked``). Events REOPENED and REWORK (public), audited.
    """
    work_order = _fresh(work_order)
    _require_unit_capability(by, work_order.sent_by_unit, Capability.DISPATCH_CASES)
    if work_order.parent_id is not None or work_order.role != Role.LEAD:
        raise IllegalTransition(_("Only a case's top-level lead work order is sent back for rework."))
    if not reason.strip():
        raise ValidationError({"reason": [_("Say what must be done again.")]})
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=work_order.case_id)
        if case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            raise IllegalTransition(_("Only a resolved or closed case can be sent back for rework."))
        now = timezone.now()
        order = _move(work_order, WorkOrderAction.REWORK, {"reviewed_at": now, "review_comment": reason.strip()})
        before = case.status
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.IN_PROGRESS, closed_at=None, resolved_at=None, version=F("version") + 1)
        _case_changed(case.pk, previous=before, status=CaseStatus.IN_PROGRESS)
        _clocks().work_order_reworked(order, at=now)
        data = {"round": round_number} if round_number is not None else {}
        record_event(
            case=case,
            kind=EventKind.REOPENED,
            actor=by,
            unit=order.sent_by_unit,
            public_text=gettext_noop("Your request has been reopened."),
            visibility=Visibility.PUBLIC,
            data={"from": before},
        )
        record_event(
            case=case,
            kind=EventKind.REWORK,
            actor=by,
            unit=order.sent_by_unit,
            work_order=order,
            text=reason.strip(),
            public_text=gettext_noop("Your request has been sent back to the responsible unit to be handled again."),
            visibility=Visibility.PUBLIC,
            data=data,
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.rework_work_order",
            obj=order,
            unit=order.sent_by_unit,
            changes={"status": [WorkOrderStatus.ACCEPTED, order.status], "case_status": [before, CaseStatus.IN_PROGRESS]},
            reason=reason.strip(),
        )
        refresh_case_status(case)
    return order


def answer_directly(*, case: Case, by: Any, reply: str) -> Case:
    """Answer a consultation on the spot (直接答复) and close it.

    Only the registering unit's operators and dispatchers answer; permission is
    checked first, so someone who may not answer learns nothing of the case's state.
    """
    if case.registered_by_id != by.pk and not access.member_of_any(
        by, {case.registering_unit_id}, frozenset({Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES})
    ):
        raise PermissionDenied
    if case.request_type != RequestType.CONSULTATION:
        raise IllegalTransition(_("Only a consultation can be answered directly."))
    if not reply.strip():
        raise ValidationError({"reply": [_("Write the answer given.")]})
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != CaseStatus.REGISTERED:
            raise IllegalTransition(_("This case has already been dispatched."))
        # The caller's copies of what the event, the audit and the answer read, not more queries.
        if Case.registering_unit.is_cached(case):
            locked.registering_unit = case.registering_unit
        if Case.category.is_cached(case):
            locked.category = case.category
        if Case.region.is_cached(case):
            locked.region = case.region
        closed_at = timezone.now()
        Case.objects.filter(pk=locked.pk).update(status=CaseStatus.ANSWERED, reply=reply.strip(), closed_at=closed_at, version=F("version") + 1)
        # What the update wrote, without reading the row again (it is locked: nobody else wrote it).
        locked.status, locked.reply, locked.closed_at, locked.version = CaseStatus.ANSWERED, reply.strip(), closed_at, locked.version + 1
        _case_changed(locked.pk, previous=CaseStatus.REGISTERED, status=CaseStatus.ANSWERED)
        record_event(
            case=locked,
            kind=EventKind.ANSWERED,
            actor=by,
            unit=locked.registering_unit,
            text=reply.strip(),
            public_text=gettext_noop("Your question has been answered."),
            visibility=Visibility.PUBLIC,
        )
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.answer_directly",
            obj=locked,
            unit=locked.registering_unit,
            changes={"status": [CaseStatus.REGISTERED, CaseStatus.ANSWERED]},
        )
    return locked


def decline_case(*, case: Case, by: Any, reason: str) -> Case:
    """Record that a request is not accepted (不予受理), with the reason the petitioner is told."""
    unit = _dispatcher_of_case(by, case)
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why the request is not accepted.")]})
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != CaseStatus.REGISTERED:
            raise IllegalTransition(_("Only a case not yet dispatched can be declined."))
        Case.objects.filter(pk=locked.pk).update(
            status=CaseStatus.NOT_ACCEPTED, not_accepted_reason=reason.strip(), closed_at=timezone.now(), version=F("version") + 1
        )
        _case_changed(locked.pk, previous=CaseStatus.REGISTERED, status=CaseStatus.NOT_ACCEPTED)
        _clocks().case_finished(locked, at=timezone.now())
        record_event(
            case=locked, kind=EventKind.NOT_ACCEPTED, actor=by, unit=unit, text=reason.strip(), public_text=reason.strip(), visibility=Visibility.PUBLIC
        )
        record(actor=by, action=AuditAction.UPDATE, event="cases.decline_case", obj=locked, unit=unit, reason=reason.strip())
    locked.refresh_from_db()
    return locked


# --- merging ------------------------------------------------------------------------------


def merge_case(*, case: Case, into: Case, by: Any, reason: str = "") -> Case:
    """Merge a duplicate into another case: its contacts follow, nothing is deleted, and it can be undone."""
    unit = _dispatcher_of_case(by, case)
    _dispatcher_of_case(by, into)
    if case.pk == into.pk or into.merged_into_id is not None:
        raise ValidationError({"into": [_("Choose another case that is not itself merged.")]})
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != CaseStatus.REGISTERED:
            raise IllegalTransition(_("Only a case not yet dispatched can be merged."))
        Case.objects.filter(pk=locked.pk).update(status=CaseStatus.MERGED, merged_into=into, version=F("version") + 1)
        _case_changed(locked.pk, previous=CaseStatus.REGISTERED, status=CaseStatus.MERGED)
        _clocks().case_finished(locked, at=timezone.now())
        moved = list(locked.contacts.values_list("pk", flat=True))
        locked.contacts.update(case=into)
        record_event(
            case=locked,
            kind=EventKind.MERGED,
            actor=by,
            unit=unit,
            text=reason,
            data={"into": into.pk, "contacts": moved},
            public_text=gettext_noop("Your request was joined with another one about the same matter."),
            visibility=Visibility.PUBLIC,
        )
        record_event(case=into, kind=EventKind.MERGED, actor=by, unit=unit, text=reason, data={"from": locked.pk, "contacts": moved})
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.merge_case",
            obj=locked,
            unit=unit,
            changes={"merged_into": [None, into.number], "contacts": moved},
            reason=reason,
        )
    locked.refresh_from_db()
    return locked


def unmerge_case(*, case: Case, by: Any) -> Case:
    """Undo a merge: the case and the contacts it brought come back."""
    unit = _dispatcher_of_case(by, case)
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        if locked.status != CaseStatus.MERGED or locked.merged_into is None:
            raise IllegalTransition(_("This case is not merged."))
        merge = locked.events.filter(kind=EventKind.MERGED).order_by("-at", "-id").first()
        contact_ids = merge.data.get("contacts", []) if merge else []
        target = locked.merged_into
        # The contacts it brought followed the target if that was merged further on since (A → B → C).
        chain: list[int] = []
        current: Case | None = target
        while current is not None and current.pk not in chain:
            chain.append(current.pk)
            current = current.merged_into
        locked.contacts.model.objects.filter(pk__in=contact_ids, case_id__in=chain).update(case=locked)
        Case.objects.filter(pk=locked.pk).update(status=CaseStatus.REGISTERED, merged_into=None, version=F("version") + 1)
        _case_changed(locked.pk, previous=CaseStatus.MERGED, status=CaseStatus.REGISTERED)
        record_event(case=locked, kind=EventKind.UNMERGED, actor=by, unit=unit, data={"from": target.pk})
        record_event(case=target, kind=EventKind.UNMERGED, actor=by, unit=unit, data={"case": locked.pk})
        record(actor=by, action=AuditAction.UPDATE, event="cases.unmerge_case", obj=locked, unit=unit, changes={"merged_into": [target.number, None]})
    locked.refresh_from_db()
    return locked


# --- transfers between districts -----------------------------------------------------------


def request_transfer(*, case: Case, by: Any, from_unit: Unit, to_unit: Unit, reason: str, new_region: Region | None = None, new_address: str = "") -> Transfer:
    """Ask a peer unit (same kind, same parent) to take over the case, e.g. after the family moved."""
    _require_unit_capability(by, from_unit, Capability.DISPATCH_CASES)
    if not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    if case.accused_unit_id is not None and to_unit.pk == case.accused_unit_id:
        raise ValidationError({"to_unit": [_("The accused unit cannot handle the accusation against it.")]})
    if to_unit not in access.transfer_targets(by, from_unit):
        raise ValidationError({"to_unit": [_("A case can be transferred only to a peer unit under the same parent.")]})
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why the case is transferred.")]})
    if new_region is not None and not new_region.path.startswith(to_unit.region.path):
        raise ValidationError({"new_region": [_("The new location must be in the receiving unit's area.")]})
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        if current.status in FINAL_CASE_STATUSES or current.status == CaseStatus.RESOLVED:
            # Accepting it would hand a finished case to a unit with a fresh lead work order.
            raise IllegalTransition(_("This case is %(status)s and cannot be transferred.") % {"status": current.get_status_display()})
        if case.transfers.filter(status=Transfer.Status.PENDING).exists():
            raise Conflict(_("A transfer of this case is already waiting for an answer."))
        transfer = Transfer.objects.create(
            case=case, from_unit=from_unit, to_unit=to_unit, reason=reason.strip(), new_region=new_region, new_address=new_address.strip(), requested_by=by
        )
        record_event(case=case, kind=EventKind.TRANSFER_REQUESTED, actor=by, unit=from_unit, text=_("Transfer to %(unit)s requested.") % {"unit": to_unit.name})
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="cases.request_transfer",
            obj=transfer,
            unit=from_unit,
            changes={"to_unit": to_unit.pk, "new_address": "changed" if new_address else None},
        )
    return transfer


def decide_transfer(*, transfer: Transfer, by: Any, accept: bool, note: str = "") -> Transfer:
    """The receiving unit accepts (the case moves: location, work orders) or refuses a transfer.

    On acceptance the sending side's open work orders are handed over (they keep the
    history they wrote) and the case's location becomes the new one, which the
    original units can no longer see.
    """
    _require_unit_capability(by, transfer.to_unit, Capability.DISPATCH_CASES)
    with transaction.atomic():
        locked = Transfer.objects.select_for_update().get(pk=transfer.pk)
        if locked.status != Transfer.Status.PENDING:
            raise IllegalTransition(_("This transfer has already been decided."))
        now = timezone.now()
        locked.status = Transfer.Status.ACCEPTED if accept else Transfer.Status.REFUSED
        locked.decided_by, locked.decided_at, locked.decision_note = by, now, note.strip()
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
        case = Case.objects.select_for_update().get(pk=locked.case_id)
        if accept:
            if case.status in FINAL_CASE_STATUSES or case.status == CaseStatus.RESOLVED:
                raise IllegalTransition(_("This case is %(status)s and cannot be transferred.") % {"status": case.get_status_display()})
            # A lead that has finished (or whose result was accepted) cannot be handed over:
            # the receiving unit would become a second lead. Its sender reviews it first.
            if case.work_orders.filter(parent__isnull=True, role=Role.LEAD, status__in=[WorkOrderStatus.COMPLETED, WorkOrderStatus.ACCEPTED]).exists():
                raise Conflict(_("The lead unit has completed its work order: review it before transferring the case."))
            transferred = []
            for order in case.work_orders.filter(status__in=[WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS]):
                _move(order, WorkOrderAction.TRANSFER_OUT, {})
                _clocks().work_order_left(order, at=now, reason="transferred")
                transferred.append(order.pk)
            fields: dict[str, Any] = {"version": F("version") + 1}
            if locked.new_region is not None:
                fields.update(
                    region=locked.new_region, address=locked.new_address, location_confidential=True if locked.new_address else case.location_confidential
                )
            Case.objects.filter(pk=case.pk).update(**fields)
            case.refresh_from_db()
            # The receiving federation now holds the case and dispatches it in its district.
            received = _create_work_order(
                case=case,
                unit=locked.to_unit,
                role=Role.LEAD,
                by=by,
                sent_by_unit=locked.from_unit.parent or locked.from_unit,
                legal_basis=LegalBasis.STATUTORY_DUTY,
                time_class=TimeClass.STANDARD,
                instructions=locked.reason,
                parent=None,
            )
            WorkOrder.objects.filter(pk=received.pk).update(status=WorkOrderStatus.SIGNED, signed_at=now, signed_by=by)
            _clocks().work_order_signed(received, at=now)
            # The one event of the hand-over names the orders handed over and the one received (signed for at once).
            record_event(
                case=case,
                kind=EventKind.TRANSFER_ACCEPTED,
                actor=by,
                unit=locked.to_unit,
                work_order=received,
                text=note.strip(),
                data={"transferred": transferred, "work_orders": [received.pk]},
            )
        else:
            record_event(case=case, kind=EventKind.TRANSFER_REFUSED, actor=by, unit=locked.to_unit, text=note.strip())
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.decide_transfer",
            obj=locked,
            unit=locked.to_unit,
            changes={"status": [Transfer.Status.PENDING, locked.status]},
            reason=note,
        )
        refresh_case_status(case)
    return locked


# --- emergencies ----------------------------------------------------------------------------


def record_emergency_handoff(*, case: Case, by: Any, service: str, incident_number: str = "", at: Any = None) -> EmergencyHandoff:
    """Record that the emergency was handed to 110/120/119 (time and incident number)."""
    if not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    if service not in EmergencyHandoff.Service.values:
        raise ValidationError({"service": [_("Choose 110, 120 or 119.")]})
    with transaction.atomic():
        handoff = EmergencyHandoff.objects.create(case=case, service=service, incident_number=incident_number.strip(), at=at or timezone.now(), recorded_by=by)
        if service == EmergencyHandoff.Service.POLICE:
            Case.objects.filter(pk=case.pk).update(police_notified=True, police_incident_number=incident_number.strip() or case.police_incident_number)
        record_event(
            case=case,
            kind=EventKind.EMERGENCY_HANDOFF,
            actor=by,
            text=f"{service} {incident_number}".strip(),
            data={"service": service, "incident_number": incident_number},
        )
        record(actor=by, action=AuditAction.CREATE, event="cases.record_emergency_handoff", obj=case, changes={"service": service})
    return handoff


def location_visible_to(user: Any, case: Case) -> bool:
    """Whether she may see the case's address: always unless it is confidential; then only the
    units holding the case now and the federations whose area it lies in."""
    if not case.location_confidential:
        return True
    holding = set(case.work_orders.filter(status__in=ACTIVE_WORK_ORDER_STATUSES).values_list("unit_id", flat=True))
    if access.member_of_any(user, holding):
        return True
    return access.covers_region(user, case.region, frozenset({Capability.DISPATCH_CASES, Capability.SUPERVISE}))


# --- attachments ----------------------------------------------------------------------------


def attaching_unit(by: Any, case: Case) -> Unit | None:
    """The unit she adds a file for: one handling the case, the registering unit, or a dispatcher covering it."""
    held = set(case.work_orders.exclude(status__in=[WorkOrderStatus.RETURNED, WorkOrderStatus.TRANSFERRED]).values_list("unit_id", flat=True))
    handling = access.units_with_capability(by, Capability.HANDLE_WORK_ORDERS) | access.units_with_capability(by, Capability.DISPATCH_CASES)
    unit = handling.filter(pk__in=held).order_by("pk").first()
    if unit is not None:
        return unit
    registering = access.units_with_capability(by, Capability.RECORD_CONTACTS) | access.units_with_capability(by, Capability.DISPATCH_CASES)
    unit = registering.filter(pk=case.registering_unit_id).first()
    if unit is not None:
        return unit
    for dispatcher in access.units_with_capability(by, Capability.DISPATCH_CASES).select_related("region").order_by("pk"):
        if case.region.path.startswith(dispatcher.region.path):
            return dispatcher
    return None


def add_attachment(*, case: Case, by: Any, name: str, data: bytes) -> Attachment:
    """Attach a file to a case: checked, stripped of photo metadata, encrypted for sensitive categories.

    Only JPEG, PNG, PDF and .docx of at most 10 MB (see ``cases.attachments``); a
    bad file raises ``ValidationError`` and nothing is stored. She must see the case
    and act for a unit handling it, the registering unit or a dispatcher covering
    it. Records an ``attachment`` event (never the file's content) and an audit entry.
    """
    from rightscare.cases import attachments

    if not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    unit = attaching_unit(by, case)
    if unit is None:
        raise PermissionDenied
    clean = attachments.clean_upload(name=name, data=data)
    encrypted = case.category.is_sensitive
    storage_name = attachments.store(storage_name=attachments.new_storage_name(), data=clean.data, encrypt=encrypted)
    try:
        with transaction.atomic():
            attachment = Attachment.objects.create(
                case=case,
                name=clean.name,
                content_type=clean.content_type,
                size=len(clean.data),
                sha256=hashlib.sha256(clean.data).hexdigest(),
                storage_name=storage_name,
                encrypted=encrypted,
                uploaded_by=by,
                uploaded_by_unit=unit,
            )
            record_event(
                case=case,
                kind=EventKind.ATTACHMENT,
                actor=by,
                unit=unit,
                text=clean.name,
                data={"attachment": attachment.pk, "content_type": clean.content_type, "size": len(clean.data)},
            )
            record(
                actor=by,
                action=AuditAction.CREATE,
                event="cases.add_attachment",
                obj=attachment,
                unit=unit,
                changes={"case": case.number, "content_type": clean.content_type, "size": len(clean.data), "encrypted": encrypted},
            )
    except BaseException:
        # The record was not saved: the file must not stay behind.
        attachments.discard(storage_name)
        raise
    return attachment


# --- the responsibility list and the categories --------------------------------------------


def _require_list_manager(by: Any) -> None:
    if not access.has_capability(by, Capability.MANAGE_RESPONSIBILITY_LIST):
        raise PermissionDenied


def _rule_snapshot(rule: ResponsibilityRule) -> dict[str, Any]:
    return {
        "dispatch_level": rule.dispatch_level,
        "region": rule.region_id,
        "category": rule.category.code,
        "lead_kind": rule.lead_kind.code,
        "cohandler_kinds": ",".join(sorted(kind.code for kind in rule.cohandler_kinds.all())),
        "time_class": rule.time_class,
    }


def save_rule(
    *,
    by: Any,
    rule: ResponsibilityRule | None = None,
    dispatch_level: str,
    category: Category,
    lead_kind: UnitKind,
    cohandler_kinds: Iterable[UnitKind] = (),
    time_class: str = TimeClass.STANDARD,
    region: Region | None = None,
) -> ResponsibilityRule:
    """Add a line to the responsibility list, or change one (versioned).

    Changing a rule never edits it: the current row is closed (``valid_until``) and
    a new row that ``replaces`` it is opened, so the history of who was responsible
    when stays. Only for administrators of the list; audited.
    """
    _require_list_manager(by)
    cohandler_kinds = list(cohandler_kinds)
    errors: dict[str, list[str]] = {}
    if dispatch_level not in RegionLevel.values:
        errors["dispatch_level"] = [_("Unknown level.")]
    if category.valid_until is not None:
        errors["category"] = [_("This category is no longer in use.")]
    if time_class not in TimeClass.values:
        errors["time_class"] = [_("Unknown time class.")]
    if lead_kind.pk in {kind.pk for kind in cohandler_kinds}:
        errors["cohandler_kinds"] = [_("The lead unit kind cannot also co-handle.")]
    if region is not None and region.level != dispatch_level:
        errors["region"] = [_("The region must be of the dispatching level.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before: dict[str, Any] = {}
        if rule is not None:
            locked = ResponsibilityRule.objects.select_for_update().get(pk=rule.pk)
            if locked.valid_until is not None:
                raise Conflict(_("This rule has already been replaced or retired; edit the current one."))
            before = _rule_snapshot(locked)
            now = timezone.now()
            ResponsibilityRule.objects.filter(pk=locked.pk).update(valid_until=now, updated_at=now)
        new = ResponsibilityRule.objects.create(
            dispatch_level=dispatch_level, region=region, category=category, lead_kind=lead_kind, time_class=time_class, replaces=rule
        )
        new.cohandler_kinds.set(cohandler_kinds)
        record(
            actor=by,
            action=AuditAction.UPDATE if rule is not None else AuditAction.CREATE,
            event="cases.save_rule",
            obj=new,
            unit=access.acting_unit(by, capability=Capability.MANAGE_RESPONSIBILITY_LIST),
            changes=diff(before, _rule_snapshot(new)) | ({"replaces": rule.pk} if rule is not None else {}),
        )
    return new


def retire_rule(*, by: Any, rule: ResponsibilityRule) -> ResponsibilityRule:
    """Take a line off the responsibility list (it stays in the history); audited."""
    _require_list_manager(by)
    with transaction.atomic():
        locked = ResponsibilityRule.objects.select_for_update().get(pk=rule.pk)
        if locked.valid_until is not None:
            raise Conflict(_("This rule has already been replaced or retired."))
        now = timezone.now()
        ResponsibilityRule.objects.filter(pk=locked.pk).update(valid_until=now, updated_at=now)
        locked.refresh_from_db()
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="cases.retire_rule",
            obj=locked,
            unit=access.acting_unit(by, capability=Capability.MANAGE_RESPONSIBILITY_LIST),
            changes={"valid_until": [None, now.isoformat()]},
        )
    return locked


def _category_snapshot(category: Category) -> dict[str, Any]:
    return {
        "code": category.code,
        "name": category.name,
        "name_en": category.name_en,
        "parent": category.parent.code if category.parent else None,
        "domestic_violence": category.domestic_violence,
        "child_protection": category.child_protection,
        "sort_order": category.sort_order,
    }


def save_category(
    *,
    by: Any,
    category: Category | None = None,
    code: str,
    name: str,
    name_en: str = "",
    parent: Category | None = None,
    domestic_violence: bool = False,
    child_protection: bool = False,
    sort_order: int = 0,
) -> Category:
    """Add a category to the taxonomy, or change one (versioned, same code).

    A change closes the current row and opens a new one with the same code: cases
    keep the row they were filed under. The current sub-categories follow the new
    row, and the current rules of the responsibility list that name the category
    are versioned onto it (the old rules stay in the history). Audited.
    """
    _require_list_manager(by)
    code = code.strip()
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Give the category a name.")]
    if category is not None and code != category.code:
        errors["code"] = [_("The code of a category cannot change.")]
    if category is None and Category.objects.filter(code=code, valid_until__isnull=True).exists():
        errors["code"] = [_("A current category already has this code.")]
    if parent is not None:
        if parent.valid_until is not None or parent.parent_id is not None:
            errors["parent"] = [_("Choose a current category of the first level.")]
        elif category is not None and parent.code == category.code:
            errors["parent"] = [_("A category cannot be its own parent.")]
        elif category is not None and category.children.filter(valid_until__isnull=True).exists():
            errors["parent"] = [_("This category has sub-categories, so it must stay on the first level.")]
    if errors:
        raise ValidationError(errors)
    unit = access.acting_unit(by, capability=Capability.MANAGE_RESPONSIBILITY_LIST)
    with transaction.atomic():
        before: dict[str, Any] = {}
        old: Category | None = None
        if category is not None:
            old = Category.objects.select_for_update().get(pk=category.pk)
            if old.valid_until is not None:
                raise Conflict(_("This version of the category has already been replaced; edit the current one."))
            before = _category_snapshot(old)
            now = timezone.now()
            Category.objects.filter(pk=old.pk).update(valid_until=now, updated_at=now)
        new = Category.objects.create(
            code=code,
            name=name.strip(),
            name_en=name_en.strip(),
            parent=parent,
            domestic_violence=domestic_violence,
            child_protection=child_protection,
            sort_order=sort_order,
        )
        if old is not None:
            Category.objects.filter(parent=old, valid_until__isnull=True).update(parent=new)
            for rule in ResponsibilityRule.objects.filter(category=old, valid_until__isnull=True).prefetch_related("cohandler_kinds"):
                ResponsibilityRule.objects.filter(pk=rule.pk).update(valid_until=timezone.now())
                copy = ResponsibilityRule.objects.create(
                    dispatch_level=rule.dispatch_level, region=rule.region, category=new, lead_kind=rule.lead_kind, time_class=rule.time_class, replaces=rule
                )
                copy.cohandler_kinds.set(rule.cohandler_kinds.all())
        record(
            actor=by,
            action=AuditAction.UPDATE if old is not None else AuditAction.CREATE,
            event="cases.save_category",
            obj=new,
            unit=unit,
            changes=diff(before, _category_snapshot(new)) | ({"replaces": old.pk} if old is not None else {}),
        )
    return new


# --- duty roster (值班) ------------------------------------------------------------------------

#: A duty shift is at most this long (a holiday week on call).
MAX_DUTY_SHIFT_DAYS = 7


def may_keep_duty_roster(user: Any, unit: Unit) -> bool:
    """Whether she may add and remove the duty shifts of ``unit``: its dispatchers and the
    administrators of the unit (or of a unit above it)."""
    dispatches_there = access.units_with_capability(user, Capability.DISPATCH_CASES).filter(pk=unit.pk).exists()
    return dispatches_there or access.manageable_units(user).filter(pk=unit.pk).exists()


def add_duty_shift(*, by: Any, unit: Unit, user: Any, starts_at: Any, ends_at: Any, phone: str = "") -> Any:
    """Put a member of ``unit`` on duty (值班) from ``starts_at`` to ``ends_at``.

    Emergencies and after-hours cases route to the unit's shift at that time
    (``selectors.emergency_route``). A shift must end after it starts, last at most a
    week, not be over already, and go to an active member of the unit. Audited.
    """
    import datetime

    from rightscare.cases.models import DutyShift
    from rightscare.org.models import Membership

    if not may_keep_duty_roster(by, unit):
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        errors["ends_at"] = [_("A shift must end after it starts.")]
    elif ends_at - starts_at > datetime.timedelta(days=MAX_DUTY_SHIFT_DAYS):
        errors["ends_at"] = [_("A shift lasts at most %(days)d days.") % {"days": MAX_DUTY_SHIFT_DAYS}]
    elif ends_at <= timezone.now():
        errors["ends_at"] = [_("This shift is already over.")]
    if not Membership.objects.active().filter(user=user, unit=unit, user__is_active=True).exists():
        errors["user"] = [_("Only a member of the unit can be put on duty.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        shift = DutyShift.objects.create(unit=unit, user=user, starts_at=starts_at, ends_at=ends_at, phone=phone.strip())
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="cases.add_duty_shift",
            obj=shift,
            unit=unit,
            changes={"user": user.pk, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
        )
    return shift


def remove_duty_shift(*, by: Any, shift: Any) -> None:
    """Take a shift off the roster. A shift that is over stays: it is the record of who was on duty."""
    if not may_keep_duty_roster(by, shift.unit):
        raise PermissionDenied
    if shift.ends_at <= timezone.now():
        raise ValidationError({"shift": [_("A shift that is over stays on the roster.")]})
    with transaction.atomic():
        snapshot = {"user": shift.user_id, "starts_at": shift.starts_at.isoformat(), "ends_at": shift.ends_at.isoformat()}
        record(actor=by, action=AuditAction.DELETE, event="cases.remove_duty_shift", obj=shift, unit=shift.unit, changes=snapshot)
        shift.delete()
