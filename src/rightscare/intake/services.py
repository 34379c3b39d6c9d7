"""Recording contacts and turning them into cases (PRODUCT.md C2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from rightscare.audit.models import AuditAction
from rightscare.audit.services import batched, record
from rightscare.cases.events import record_event
from rightscare.cases.models import Case, Category, EmergencyHandoff, EventKind, LegalBasis, PartyRole, RequestType, Urgency, WorkOrder
from rightscare.cases.services import (
    PartyInput,
    answer_directly,
    dispatch_case,
    may_register_for,
    record_emergency_handoff,
    register_case,
    suggest_dispatch,
)
from rightscare.core import identity
from rightscare.core.fields import BlindIndexField
from rightscare.intake.models import Channel, Contact, Outcome
from rightscare.org import access
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability
from rightscare.registry.models import Person, Sex
from rightscare.registry.services import SafeContactInput, record_person


def _phone_index(normalised: str) -> str:
    field = Contact._meta.get_field("caller_phone_index")
    assert isinstance(field, BlindIndexField)
    return field.digest(normalised)


def record_contact(
    *,
    by: Any,
    unit: Unit,
    channel: str,
    content: str,
    caller: Person | None = None,
    caller_phone: str = "",
    case: Case | None = None,
    outcome: str = Outcome.NEW_CASE,
    occurred_at: datetime | None = None,
    external_ticket_number: str = "",
    external_deadline: datetime | None = None,
) -> Contact:
    """Record one interaction (a call, a visit, a letter…) for ``unit``, optionally on a case.

    The caller's number is normalised, stored encrypted and indexed for the
    caller-history lookup; a transfer from the 12345 platform keeps its ticket
    number and deadline.
    """
    if not may_register_for(by, unit):
        raise PermissionDenied
    normalised = _checked_contact(channel=channel, outcome=outcome, caller_phone=caller_phone, external_ticket_number=external_ticket_number)
    if case is not None and not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    return _save_contact(
        by=by,
        unit=unit,
        channel=channel,
        content=content,
        caller=caller,
        normalised_phone=normalised,
        case=case,
        outcome=outcome,
        occurred_at=occurred_at,
        external_ticket_number=external_ticket_number,
        external_deadline=external_deadline,
    )


def _checked_contact(*, channel: str, outcome: str, caller_phone: str, external_ticket_number: str) -> str:
    """Validate a contact's channel, outcome and ticket number; return the caller's number normalised."""
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if outcome not in Outcome.values:
        errors["outcome"] = [_("Unknown outcome.")]
    if channel == Channel.PLATFORM_12345 and not external_ticket_number.strip():
        errors["external_ticket_number"] = [_("A transfer from 12345 needs its ticket number.")]
    normalised = ""
    if caller_phone.strip():
        try:
            normalised = identity.normalise_phone(caller_phone)
        except ValidationError as error:
            errors["caller_phone"] = list(error.messages)
    if errors:
        raise ValidationError(errors)
    return normalised


def _save_contact(
    *,
    by: Any,
    unit: Unit,
    channel: str,
    content: str,
    caller: Person | None,
    normalised_phone: str,
    case: Case | None,
    outcome: str,
    occurred_at: datetime | None,
    external_ticket_number: str,
    external_deadline: datetime | None,
) -> Contact:
    """Write a checked contact, its timeline event and its audit entry."""
    normalised = normalised_phone
    # No savepoint of its own inside a caller's transaction: only the database can fail here.
    with transaction.atomic(savepoint=False):
        contact = Contact.objects.create(
            channel=channel,
            occurred_at=occurred_at or timezone.now(),
            operator=by,
            unit=unit,
            caller=caller,
            caller_phone=normalised,
            caller_phone_index=_phone_index(normalised) if normalised else "",
            content=content.strip(),
            outcome=outcome,
            case=case,
            external_ticket_number=external_ticket_number.strip(),
            external_deadline=external_deadline,
        )
        if case is not None:
            record_event(case=case, kind=EventKind.CONTACT, actor=by, unit=unit, data={"contact": contact.pk, "channel": channel})
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="intake.record_contact",
            obj=contact,
            unit=unit,
            changes={"channel": channel, "caller_phone": "changed" if normalised else None},
        )
    return contact


def attach_contact(*, contact: Contact, case: Case, by: Any) -> Contact:
    """Attach a contact to another case (or a first one): it then counts there."""
    if not access.member_of_any(by, {contact.unit_id}) or not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    with transaction.atomic():
        previous = contact.case_id
        contact.case = case
        contact.outcome = Outcome.ATTACHED if previous is None or previous != case.pk else contact.outcome
        contact.save(update_fields=["case", "outcome", "updated_at"])
        record_event(case=case, kind=EventKind.CONTACT, actor=by, unit=contact.unit, data={"contact": contact.pk, "attached_from": previous})
        record(actor=by, action=AuditAction.UPDATE, event="intake.attach_contact", obj=contact, unit=contact.unit, changes={"case": [previous, case.pk]})
    return contact


def detach_contact(*, contact: Contact, by: Any) -> Contact:
    """Take a contact off its case (it stays, without a case, in the unit's contacts)."""
    if not access.member_of_any(by, {contact.unit_id}):
        raise PermissionDenied
    with transaction.atomic():
        previous = contact.case_id
        contact.case = None
        contact.outcome = Outcome.NO_ACTION
        contact.save(update_fields=["case", "outcome", "updated_at"])
        record(actor=by, action=AuditAction.UPDATE, event="intake.detach_contact", obj=contact, unit=contact.unit, changes={"case": [previous, None]})
    return contact


# --- taking a call: the intake screen's one save ------------------------------------------


@dataclass(frozen=True)
class PersonDetails:
    """A person told about on the phone (a new caller, a respondent, a reporter)."""

    name: str = ""
    sex: str = Sex.UNKNOWN
    approximate_age: int | None = None
    id_number: str = ""
    confirm_id_warnings: bool = False
    phone: str = ""
    phone_shared: bool = False
    safe_contact: SafeContactInput | None = None


@dataclass(frozen=True)
class HandoffDetails:
    """The hand-off of an emergency to 110/120/119."""

    service: str
    at: datetime | None = None
    incident_number: str = ""


@dataclass(frozen=True)
class TakenCall:
    """What one save of the intake screen recorded.

    ``tracking`` is what the registration hooks issued (the petitioner's tracking code and
    PIN from ``rightscare.petitioners``), shown to the operator once so she can read it out.
    """

    case: Case
    contact: Contact
    work_orders: list[WorkOrder]
    handoff: EmergencyHandoff | None
    tracking: Any = None


#: Called as ``hook(case=..., contact=..., by=...)`` inside ``take_call``'s transaction once the
#: case and the contact exist; the first non-None answer becomes ``TakenCall.tracking``. Apps
#: above intake register here in ``AppConfig.ready`` (rightscare.petitioners issues the
#: tracking code), so intake does not import them.
CALL_REGISTERED_HOOKS: list[Callable[..., Any]] = []


#: Which of ``record_person``'s error keys belong to which field of the person's part of the screen.
_PERSON_FIELDS = {"phones": "phone", "id_number": "id_number", "approximate_age": "age", "sex": "sex", "guardian": "name"}


def _record_person_for(*, by: Any, unit: Unit, details: PersonDetails, prefix: str) -> Person:
    """``record_person`` with its errors named after the screen's fields (``caller_phone``…)."""
    try:
        return record_person(
            by=by,
            unit=unit,
            name=details.name,
            sex=details.sex,
            approximate_age=details.approximate_age,
            id_number=details.id_number,
            confirm_id_warnings=details.confirm_id_warnings,
            phones=[(details.phone, details.phone_shared)] if details.phone.strip() else [],
            safe_contact=details.safe_contact,
        )
    except ValidationError as error:
        raise ValidationError({f"{prefix}_{_PERSON_FIELDS.get(name, name)}": found for name, found in error.message_dict.items()}) from error


def default_legal_basis(*, urgency: str, reporting_institution: Unit | None) -> str:
    """The basis for sharing her data with the units a case is sent to, unless the dispatcher says otherwise:
    an emergency; a statutory duty for a mandatory report; her consent otherwise."""
    if urgency == Urgency.EMERGENCY:
        return LegalBasis.EMERGENCY
    if reporting_institution is not None:
        return LegalBasis.STATUTORY_DUTY
    return LegalBasis.CONSENT


def _sees_registered_case(by: Any, case: Case) -> bool:
    """``Case.objects.visible_to(by)`` for a case she has just registered, without a query.

    It was registered for one of her units where she takes calls or dispatches, and it has no
    work order yet: hers to see, unless it accuses one of her units (never shown to them).
    """
    return case.accused_unit_id not in access.case_scope(by).all_unit_ids


def take_call(
    *,
    by: Any,
    unit: Unit,
    channel: str,
    content: str,
    request_type: str,
    category: Category,
    region: Region,
    caller_phone: str = "",
    caller: Person | None = None,
    new_caller: PersonDetails | None = None,
    urgency: str = Urgency.NORMAL,
    address: str = "",
    location_confidential: bool = False,
    respondent: PersonDetails | None = None,
    respondent_organisation: str = "",
    reporter: PersonDetails | None = None,
    reporter_confidential: bool = True,
    reporting_institution: Unit | None = None,
    police_notified: bool = False,
    police_incident_number: str = "",
    accused_unit: Unit | None = None,
    external_ticket_number: str = "",
    external_deadline: datetime | None = None,
    handoff: HandoffDetails | None = None,
    reply: str = "",
    dispatch_from: Unit | None = None,
    expected_units: Sequence[int] | None = None,
    legal_basis: str = "",
    lead: Unit | None = None,
    cohandlers: Sequence[Unit] = (),
) -> TakenCall:
    """Record a call as a new case in one transaction: the people, the case, the contact, and
    (when asked) the emergency hand-off, the direct answer or the dispatch on the suggestion.

    * ``caller`` is a person already on file; otherwise ``new_caller`` is recorded (with the
      caller's phone and her safe-contact instructions); neither for an anonymous call.
    * ``reply`` answers a consultation on the spot and closes it (直接答复).
    * ``dispatch_from`` dispatches at once, from that unit, to the units the responsibility
      list suggests; ``expected_units`` are the ids the operator saw suggested (lead first):
      if the suggestion changed since, nothing is saved. With a ``lead`` (and ``cohandlers``)
      it dispatches to those units instead, as ``dispatch_case`` would (the API's choice).

    Every step goes through its own service (permission, validation, timeline, audit); an
    error in any of them rolls the whole call back, so nothing is half saved. Errors name
    the screen's fields (``caller_phone``, ``respondent_id_number``, ``dispatch_now``…).
    """
    if reply.strip() and request_type != RequestType.CONSULTATION:
        raise ValidationError({"reply": [_("Only a consultation can be answered on the spot.")]})
    if reply.strip() and dispatch_from is not None:
        raise ValidationError({"dispatch_now": [_("A consultation answered on the spot is closed: it is not dispatched.")]})
    if lead is not None and dispatch_from is None:
        raise ValueError("a lead needs the unit dispatching to it (dispatch_from)")
    suggestion = None
    if dispatch_from is not None and lead is None:
        suggestion = suggest_dispatch(dispatching_unit=dispatch_from, category=category, region=region, accused_unit=accused_unit)
        if suggestion.lead is None:
            raise ValidationError({"dispatch_now": [_("The responsibility list suggests no unit for this category and place: save without dispatching.")]})
        suggested = [suggestion.lead.pk, *(u.pk for u in suggestion.cohandlers)]
        if expected_units is not None and list(expected_units) != suggested:
            raise ValidationError({"dispatch_now": [_("The suggested units have changed: check them and save again.")]})
    # Its own transaction (a savepoint inside the caller's), whose audit entries (the people, the
    # case, the contact…) are written with one INSERT at its end.
    with batched():
        if caller is None and new_caller is not None:
            caller = _record_person_for(by=by, unit=unit, details=new_caller, prefix="caller")
        parties: list[PartyInput] = []
        if respondent is not None:
            parties.append(PartyInput(role=PartyRole.RESPONDENT, person=_record_person_for(by=by, unit=unit, details=respondent, prefix="respondent")))
        if respondent_organisation.strip():
            parties.append(PartyInput(role=PartyRole.RESPONDENT, organisation_name=respondent_organisation))
        if reporter is not None:
            person = _record_person_for(by=by, unit=unit, details=reporter, prefix="reporter")
            parties.append(PartyInput(role=PartyRole.REPORTER, person=person, confidential=reporter_confidential))
        elif reporting_institution is not None:
            parties.append(PartyInput(role=PartyRole.REPORTER, organisation_name=reporting_institution.name, confidential=reporter_confidential))
        case = register_case(
            by=by,
            unit=unit,
            request_type=request_type,
            category=category,
            summary=content,
            region=region,
            address=address,
            urgency=urgency,
            petitioner=caller,
            parties=parties,
            location_confidential=location_confidential,
            accused_unit=accused_unit,
            reporting_institution=reporting_institution,
            police_notified=police_notified,
            police_incident_number=police_incident_number,
        )
        # ``record_contact`` without its two queries: register_case checked her membership in
        # ``unit`` (the same one), and the case she has just registered is hers to see.
        outcome = Outcome.ANSWERED if reply.strip() else Outcome.NEW_CASE
        normalised = _checked_contact(channel=channel, outcome=outcome, caller_phone=caller_phone, external_ticket_number=external_ticket_number)
        if not _sees_registered_case(by, case):
            raise PermissionDenied
        contact = _save_contact(
            by=by,
            unit=unit,
            channel=channel,
            content=content,
            caller=caller,
            normalised_phone=normalised,
            case=case,
            outcome=outcome,
            occurred_at=None,
            external_ticket_number=external_ticket_number,
            external_deadline=external_deadline,
        )
        tracking = None
        for hook in CALL_REGISTERED_HOOKS:
            issued = hook(case=case, contact=contact, by=by)
            tracking = tracking if tracking is not None else issued
        recorded_handoff = None
        if handoff is not None:
            recorded_handoff = record_emergency_handoff(case=case, by=by, service=handoff.service, incident_number=handoff.incident_number, at=handoff.at)
        orders: list[WorkOrder] = []
        if reply.strip():
            case = answer_directly(case=case, by=by, reply=reply)
        elif dispatch_from is not None and lead is not None:
            orders = dispatch_case(
                case=case,
                by=by,
                dispatching_unit=dispatch_from,
                lead=lead,
                cohandlers=cohandlers,
                legal_basis=legal_basis or default_legal_basis(urgency=urgency, reporting_institution=reporting_institution),
            )
        elif dispatch_from is not None and suggestion is not None and suggestion.lead is not None:
            orders = dispatch_case(
                case=case,
                by=by,
                dispatching_unit=dispatch_from,
                lead=suggestion.lead,
                cohandlers=suggestion.cohandlers,
                legal_basis=legal_basis or default_legal_basis(urgency=urgency, reporting_institution=reporting_institution),
                time_class=suggestion.time_class,
            )
        if recorded_handoff is not None or orders:
            case.refresh_from_db()  # the hand-off and the dispatch change the case's row
    return TakenCall(case=case, contact=contact, work_orders=orders, handoff=recorded_handoff, tracking=tracking)


def dispatching_unit(user: Any, registering: Unit | None, region: Region | None) -> Unit | None:
    """The unit she would dispatch this call from: the registering unit when she dispatches
    there, else the most local of her dispatching units whose area holds the place."""
    units = list(access.units_with_capability(user, Capability.DISPATCH_CASES).select_related("region", "kind"))
    if registering is not None and any(unit.pk == registering.pk for unit in units):
        return next(unit for unit in units if unit.pk == registering.pk)
    covering = [unit for unit in units if region is not None and region.path.startswith(unit.region.path)]
    return max(covering, key=lambda unit: len(unit.region.path)) if covering else None
