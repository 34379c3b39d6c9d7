"""API operations of intake: a whole call in one save, contacts, people and the caller-history lookup.

Same order as every operation: scoped fetch, permission (403), validation (422
naming the field, nothing saved), service. Creating a contact or a person takes an
``Idempotency-Key``: a retry answers the first record (200) instead of a second one.
"""

import datetime
import enum
import hashlib
import json
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import AwareDatetime, field_validator

from rightscare.cases import selectors
from rightscare.cases.api import CaseOut, WorkOrderOut, case_out
from rightscare.cases.models import Case, CaseEvent, Category, EmergencyHandoff, EventKind, LegalBasis, RequestType, Urgency, WorkOrder
from rightscare.core import identity
from rightscare.core.api_inputs import IdempotencyKey, RecordId, fields_renamed
from rightscare.core.errors import Conflict
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.intake import services
from rightscare.intake.forms import REPORTING_FAMILIES
from rightscare.intake.models import Channel, Contact, Outcome
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability
from rightscare.registry import services as registry_services
from rightscare.registry.models import Person, Sex

router = Router(tags=["intake"])

#: The earliest and latest years a date or time given at intake may carry.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


def _utc_in_range(value: datetime.datetime | None) -> datetime.datetime | None:
    """An aware date and time given at intake, checked for its year and stored in UTC."""
    if value is None:
        return None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
    # PostgreSQL refuses offsets beyond ±15:59 that Python accepts: store it in UTC.
    return value.astimezone(datetime.UTC)


class ContactIn(Input):
    unit_id: RecordId = Field(..., description="One of your units where you record contacts.")
    channel: Channel
    content: str = Field(..., min_length=1, max_length=10000, description="What was said.")
    caller_id: RecordId | None = None
    caller_phone: str = Field("", max_length=40, description="The calling number in any usual form; stored normalised and encrypted.")
    case_id: RecordId | None = Field(None, description="The case the contact is about, in your scope.")
    outcome: Outcome = Outcome.NEW_CASE
    external_ticket_number: str = Field("", max_length=64, description="The 12345 platform's ticket number (required for that channel).")
    external_deadline: AwareDatetime | None = Field(None, description="The 12345 platform's deadline, with its time zone.")

    @field_validator("external_deadline")
    @classmethod
    def deadline_in_range(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        return _utc_in_range(value)


class ContactOut(Schema):
    id: int
    channel: Channel
    occurred_at: datetime.datetime
    unit_id: int
    caller_id: int | None
    outcome: Outcome
    case_id: int | None
    external_ticket_number: str
    external_deadline: datetime.datetime | None


class SafeContactIn(Input):
    may_call: bool = True
    may_text: bool = True
    may_leave_voicemail: bool = False
    safe_from: datetime.time | None = Field(None, description="Local time, without a time zone.")
    safe_until: datetime.time | None = Field(None, description="Local time, without a time zone.")
    code_word: str = Field("", max_length=60)
    neutral_sender: str = Field("", max_length=60, description='Shown instead of the organisation\'s name, e.g. "Community service".')

    @field_validator("safe_from", "safe_until")
    @classmethod
    def local_time(cls, value: datetime.time | None) -> datetime.time | None:
        if value is not None and value.tzinfo is not None:
            raise ValueError("give a local time without a time zone")
        return value


class PhoneIn(Input):
    number: str = Field(..., min_length=3, max_length=40)
    shared: bool = Field(False, description="Others (for example the abuser) may answer or read it.")


class PersonIn(Input):
    unit_id: RecordId = Field(..., description="One of your units where you record contacts, dispatch or handle work.")
    name: str = Field("", max_length=100)
    sex: Sex = Sex.UNKNOWN
    date_of_birth: datetime.date | None = None
    approximate_age: int | None = Field(None, ge=0, le=130)
    id_number: str = Field("", max_length=40, description="18 characters; validated (length, birth date, check digit).")
    confirm_id_warnings: bool = Field(False, description="Save an ID number despite a warning after checking it against the card.")
    phones: list[PhoneIn] = Field(default_factory=list, max_length=5)
    guardian_id: RecordId | None = None
    guardian_is_alleged_abuser: bool = False
    address_region_id: RecordId | None = Field(None, description="A region in your scope.")
    address: str = Field("", max_length=500)
    address_confidential: bool = False
    safe_contact: SafeContactIn | None = None

    @field_validator("date_of_birth")
    @classmethod
    def birth_in_range(cls, value: datetime.date | None) -> datetime.date | None:
        if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
        return value


class PersonOut(Schema):
    id: int
    name: str
    sex: Sex
    date_of_birth: datetime.date | None
    approximate_age: int | None
    guardian_id: int | None
    guardian_is_alleged_abuser: bool
    address_confidential: bool


class HistoryCase(Schema):
    id: int
    number: str
    status: str
    category: str = Field(..., alias="category.code", description="The category's code.")
    created_at: datetime.datetime


class CallerHistoryOut(Schema):
    phone_known: bool = Field(..., description="Whether the number is on file at all (nothing more about whose it is).")
    cases: list[HistoryCase]
    contacts: list[ContactOut]


class CallerHistoryQuery(Schema):
    phone: str = Field(..., min_length=3, max_length=40, description="The complete calling number (no prefix search).")


def _require_any(request: StaffRequest, *capabilities: Capability) -> None:
    """403 unless she may do one of ``capabilities`` in one of her units."""
    if not any(access.has_capability(request.user, capability) for capability in capabilities):
        raise PermissionDenied


def _own_unit(request: StaffRequest, unit_id: int, *capabilities: Capability) -> Unit:
    """One of her units in which she may do one of ``capabilities`` (422 on ``unit_id`` otherwise)."""
    for capability in capabilities:
        unit = access.units_with_capability(request.user, capability).filter(pk=unit_id).first()
        if unit is not None:
            return unit
    raise ValidationError({"unit_id": ["Not one of your units where you may do this."]})


def _person(request: StaffRequest, person_id: int | None, field: str) -> Person | None:
    """A person she may name (see ``selectors.people_in_reach``); anyone else is unknown (422 on ``field``)."""
    if person_id is None:
        return None
    person = selectors.people_in_reach(by=request.user).filter(pk=person_id).first()
    if person is None:
        raise ValidationError({field: ["Unknown person."]})
    return person


#: What a contact row shows: never what was said or the number (both encrypted, decrypted only when opened).
CONTACT_COLUMNS = ("id", "channel", "occurred_at", "unit_id", "caller_id", "outcome", "case_id", "external_ticket_number", "external_deadline")


@router.get("/contacts", response=list[ContactOut], summary="Recent contacts of my units")
@paginate(Pagination)
def list_contacts(request: StaffRequest) -> QuerySet[Contact]:
    """Newest first: the contacts my units recorded and those I recorded."""
    _require_any(request, Capability.RECORD_CONTACTS)
    mine = Q(unit__in=access.units_with_capability(request.user, Capability.RECORD_CONTACTS)) | Q(operator=request.user)
    return Contact.objects.filter(mine).only(*CONTACT_COLUMNS).order_by("-occurred_at", "-id")


@router.post("/contacts", response={201: ContactOut, 200: ContactOut}, summary="Record a contact (a call, a visit, a letter…)")
def create_contact(request: StaffRequest, payload: ContactIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """Record one interaction for one of my units, optionally on a case in my scope (201); a retry with the same key answers it again (200)."""
    _require_any(request, Capability.RECORD_CONTACTS)
    errors: dict[str, list[str]] = {}
    unit = caller = None
    try:
        unit = _own_unit(request, payload.unit_id, Capability.RECORD_CONTACTS)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        caller = _person(request, payload.caller_id, "caller_id")
    except ValidationError as error:
        errors.update(error.message_dict)
    case = Case.objects.visible_to(request.user).filter(pk=payload.case_id).first() if payload.case_id else None
    if payload.case_id and case is None:
        errors["case_id"] = ["No such case in your scope."]
    if errors:
        raise ValidationError(errors)
    assert unit is not None

    def create() -> str:
        contact = services.record_contact(
            by=request.user,
            unit=unit,
            channel=payload.channel,
            content=payload.content,
            caller=caller,
            caller_phone=payload.caller_phone,
            case=case,
            outcome=payload.outcome,
            external_ticket_number=payload.external_ticket_number,
            external_deadline=payload.external_deadline,
        )
        return str(contact.pk)

    result, ran = run_once(user_id=request.user.pk, scope="api:create_contact", key=idempotency_key, create=create)
    return Status(201 if ran else 200, Contact.objects.only(*CONTACT_COLUMNS).get(pk=int(result)))


@router.post("/people", response={201: PersonOut, 200: PersonOut}, summary="Record a person at intake")
def create_person(request: StaffRequest, payload: PersonIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """With her phones, guardian and safe-contact rules (201); a retry with the same key answers the same person (200).

    A malformed ID number or phone is a 422 on ``id_number`` or ``phones``; an ID
    number with a warning needs ``confirm_id_warnings``.
    """
    may_record = (Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES, Capability.HANDLE_WORK_ORDERS)
    _require_any(request, *may_record)
    errors: dict[str, list[str]] = {}
    unit = guardian = None
    try:
        unit = _own_unit(request, payload.unit_id, *may_record)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        guardian = _person(request, payload.guardian_id, "guardian_id")
    except ValidationError as error:
        errors.update(error.message_dict)
    region = None
    if payload.address_region_id is not None:
        region = access.visible_regions(request.user).filter(pk=payload.address_region_id).first()
        if region is None:
            errors["address_region_id"] = ["This region is outside your scope."]
    if errors:
        raise ValidationError(errors)
    assert unit is not None

    def create() -> str:
        with fields_renamed(guardian="guardian_id", address_region="address_region_id"):
            person = registry_services.record_person(
                by=request.user,
                unit=unit,
                name=payload.name,
                sex=payload.sex,
                date_of_birth=payload.date_of_birth,
                approximate_age=payload.approximate_age,
                id_number=payload.id_number,
                confirm_id_warnings=payload.confirm_id_warnings,
                phones=[(phone.number, phone.shared) for phone in payload.phones],
                guardian=guardian,
                guardian_is_alleged_abuser=payload.guardian_is_alleged_abuser,
                address_region=region,
                address=payload.address,
                address_confidential=payload.address_confidential,
                safe_contact=registry_services.SafeContactInput(**payload.safe_contact.model_dump()) if payload.safe_contact else None,
            )
        return str(person.pk)

    result, ran = run_once(user_id=request.user.pk, scope="api:create_person", key=idempotency_key, create=create)
    return Status(201 if ran else 200, Person.objects.get(pk=int(result)))


@router.get("/caller-history", response=CallerHistoryOut, summary="Earlier cases and contacts of a complete phone number, in my scope")
def caller_history(request: StaffRequest, query: Query[CallerHistoryQuery]) -> dict[str, Any]:
    """For the operator's pop-up: a respondent's number shows nothing of the cases against that person; nothing confidential is shown."""
    _require_any(request, Capability.RECORD_CONTACTS)
    try:
        identity.normalise_phone(query.phone)
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from error
    history = selectors.caller_history(by=request.user, phone=query.phone)
    return {"phone_known": history.phone_known, "cases": history.cases, "contacts": history.contacts}


# --- taking a call: the hotline screen's one save --------------------------------------------


class CallAction(enum.StrEnum):
    """What to do with the call besides recording it (the screen's buttons and "Dispatch now")."""

    REGISTER = "register"
    DISPATCH = "dispatch"
    ANSWER = "answer"
    ATTACH = "attach"


class NewCallerIn(Input):
    name: str = Field("", max_length=100)
    sex: Sex = Sex.UNKNOWN
    approximate_age: int | None = Field(None, ge=0, le=130)
    id_number: str = Field("", max_length=40, description="18 characters; validated (length, birth date, check digit).")
    confirm_id_warnings: bool = Field(False, description="Save an ID number despite a warning after checking it against the card.")
    phone_shared: bool = Field(False, description="Others (for example the abuser) may answer or read the calling number.")
    safe_contact: SafeContactIn | None = Field(
        None,
        description="How it is safe to reach her. Omitted: calls and texts allowed, no voicemail; no texts in a sensitive category (domestic violence, child protection).",
    )


class PartyPersonIn(Input):
    name: str = Field("", max_length=100)
    sex: Sex = Sex.UNKNOWN
    approximate_age: int | None = Field(None, ge=0, le=130)
    phone: str = Field("", max_length=40, description="Recorded as his or her phone: a respondent's number never shows the case in the caller history.")


class HandoffIn(Input):
    service: EmergencyHandoff.Service
    at: AwareDatetime | None = Field(None, description="When it was handed over, with its time zone. Omitted: now.")
    incident_number: str = Field("", max_length=64, description="The number 110/120/119 gave; a hand-off to 110 also marks the case police informed.")

    @field_validator("at")
    @classmethod
    def at_in_range(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        return _utc_in_range(value)


class CallDispatchIn(Input):
    dispatching_unit_id: RecordId | None = Field(
        None,
        description="One of your units where you dispatch. Omitted: the registering unit if you dispatch there, else your most local dispatching unit over the place.",
    )
    lead_id: RecordId | None = Field(None, description="Omitted: the lead unit and co-handlers the responsibility list suggests.")
    cohandler_ids: list[RecordId] = Field(default_factory=list, max_length=20, description="Only with lead_id.")
    expected_unit_ids: list[RecordId] | None = Field(
        None, max_length=21, description="Without lead_id: the suggested units you showed (lead first). If the suggestion has changed since, nothing is saved."
    )
    legal_basis: LegalBasis | None = Field(
        None,
        description="For sharing her data with the units. Omitted: emergency for an emergency, statutory duty for a mandatory report, her consent otherwise.",
    )


class CallIn(Input):
    unit_id: RecordId = Field(..., description="One of your units where you record contacts.")
    channel: Channel
    content: str = Field(..., min_length=1, max_length=10000, description="What was said (also the case's summary).")
    caller_phone: str = Field("", max_length=40, description="The calling number in any usual form; stored normalised and encrypted.")
    caller_id: RecordId | None = Field(None, description="The caller, when she is already on file (a person in your reach).")
    new_caller: NewCallerIn | None = Field(None, description="The caller to record, with caller_phone as her phone. Neither this nor caller_id: anonymous.")
    request_type: RequestType = RequestType.HELP
    category: str = Field(
        "", max_length=60, description="Code of a current second-level category. Required unless action is attach.", examples=["wage-arrears"]
    )
    urgency: Urgency = Urgency.NORMAL
    region_id: RecordId | None = Field(None, description="Where it happened: a region in your scope. Required unless action is attach.")
    address: str = Field("", max_length=500)
    location_confidential: bool = Field(False, description="Hide the address and region from everyone not handling the case.")
    respondent: PartyPersonIn | None = Field(None, description="The person the request is about.")
    respondent_organisation: str = Field("", max_length=200, description="Or the organisation it is about (her employer).")
    reporting_institution_id: RecordId | None = Field(None, description="For a mandatory report: the hospital, school, police station or committee reporting.")
    reporter: PartyPersonIn | None = None
    reporter_confidential: bool = Field(True, description="Only the units handling the case see who reported.")
    police_notified: bool = False
    police_incident_number: str = Field("", max_length=64)
    accused_unit_id: RecordId | None = Field(None, description="Required for an accusation, and only then: the unit it is about (it will never see the case).")
    external_ticket_number: str = Field("", max_length=64, description="The 12345 platform's ticket number (required for that channel).")
    external_deadline: AwareDatetime | None = Field(None, description="The 12345 platform's deadline, with its time zone.")
    handoff: HandoffIn | None = Field(None, description="Only for an emergency: its hand-off to 110, 120 or 119.")
    action: CallAction = Field(
        CallAction.REGISTER,
        description=(
            "register: a new case, left for dispatch; dispatch: a new case sent at once (see dispatch); "
            "answer: a consultation answered on the spot (reply) and closed; attach: only the contact, on the open case case_id."
        ),
    )
    reply: str = Field("", max_length=10000, description="With action answer: the answer given.")
    dispatch: CallDispatchIn | None = Field(None, description="With action dispatch (omitted: on the suggestion, from the default unit).")
    case_id: RecordId | None = Field(None, description="With action attach: an open case in your scope.")

    @field_validator("external_deadline")
    @classmethod
    def deadline_in_range(cls, value: datetime.datetime | None) -> datetime.datetime | None:
        return _utc_in_range(value)


class CallOut(Schema):
    case: CaseOut
    contact: ContactOut
    work_orders: list[WorkOrderOut] = Field(..., description="The work orders the call created (with action dispatch).")


#: ``take_call``'s error keys (the screen's field names) → the request body's fields.
_CALL_FIELDS = {
    "region": "region_id",
    "summary": "content",
    "accused_unit": "accused_unit_id",
    "dispatch_now": "dispatch",
    "lead": "dispatch.lead_id",
    "cohandlers": "dispatch.cohandler_ids",
    "legal_basis": "dispatch.legal_basis",
    "service": "handoff.service",
}
_CALL_PEOPLE = (("caller_", "new_caller"), ("respondent_", "respondent"), ("reporter_", "reporter"))


def _call_field(name: str) -> str:
    """Where in the request body the field of the screen named ``name`` is."""
    if name == "caller_phone":
        return name
    for prefix, part in _CALL_PEOPLE:
        if name.startswith(prefix):
            field = name.removeprefix(prefix)
            return f"{part}.{'approximate_age' if field == 'age' else field}"
    return _CALL_FIELDS.get(name, name)


def _call_digest(payload: CallIn) -> str:
    """A short digest of the request body: a key sent again with another body is a conflict, not a replay."""
    body = json.dumps(payload.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def _visible_unit(request: StaffRequest, unit_id: int | None, field: str, errors: dict[str, list[str]], **filters: Any) -> Unit | None:
    """An active unit she can see (and matching ``filters``); otherwise an error on ``field``."""
    if unit_id is None:
        return None
    unit = access.visible_units(request.user).filter(pk=unit_id, is_active=True, **filters).first()
    if unit is None:
        errors[field] = ["No such unit in your reach."]
    return unit


def _call_arguments(request: StaffRequest, payload: CallIn, unit: Unit | None, caller: Person | None, errors: dict[str, list[str]]) -> dict[str, Any]:
    """``take_call``'s keyword arguments for a new case; what is wrong goes into ``errors`` (``unit`` is None when it is wrong too)."""
    category = Category.objects.filter(code=payload.category, valid_until__isnull=True).first() if payload.category else None
    if category is None:
        errors["category"] = ["Unknown category." if payload.category else "Choose a category."]
    region = access.visible_regions(request.user).filter(pk=payload.region_id).first() if payload.region_id else None
    if region is None:
        errors["region_id"] = ["This region is outside your scope." if payload.region_id else "Say where it happened."]
    accused = _visible_unit(request, payload.accused_unit_id, "accused_unit_id", errors)
    if accused is not None and payload.request_type != RequestType.ACCUSATION:
        errors["accused_unit_id"] = ["Only an accusation names an accused unit."]
    reporting = _visible_unit(request, payload.reporting_institution_id, "reporting_institution_id", errors, kind__family__in=REPORTING_FAMILIES)
    if payload.handoff is not None and payload.urgency != Urgency.EMERGENCY:
        errors["handoff"] = ["Only an emergency is handed over to 110, 120 or 119."]
    if payload.action == CallAction.ANSWER and not payload.reply.strip():
        errors["reply"] = ["Write the answer given."]
    new_caller = None
    if payload.new_caller is not None:
        given = payload.new_caller
        safe = registry_services.SafeContactInput(**given.safe_contact.model_dump()) if given.safe_contact else None
        if safe is None:
            # As on the screen: a shared phone must not give her away by a text message.
            safe = registry_services.SafeContactInput(may_text=not (category is not None and category.is_sensitive))
        new_caller = services.PersonDetails(
            name=given.name,
            sex=given.sex,
            approximate_age=given.approximate_age,
            id_number=given.id_number,
            confirm_id_warnings=given.confirm_id_warnings,
            phone=payload.caller_phone,
            phone_shared=given.phone_shared,
            safe_contact=safe,
        )
    dispatch = _call_dispatch(request, payload, unit, region, errors) if payload.action == CallAction.DISPATCH else {}
    handoff = payload.handoff
    return {
        "unit": unit,
        "channel": payload.channel,
        "content": payload.content,
        "request_type": payload.request_type,
        "category": category,
        "region": region,
        "caller_phone": payload.caller_phone,
        "caller": caller,
        "new_caller": new_caller,
        "urgency": payload.urgency,
        "address": payload.address,
        "location_confidential": payload.location_confidential,
        "respondent": services.PersonDetails(**payload.respondent.model_dump()) if payload.respondent else None,
        "respondent_organisation": payload.respondent_organisation,
        "reporter": services.PersonDetails(**payload.reporter.model_dump()) if payload.reporter else None,
        "reporter_confidential": payload.reporter_confidential,
        "reporting_institution": reporting,
        "police_notified": payload.police_notified,
        "police_incident_number": payload.police_incident_number,
        "accused_unit": accused,
        "external_ticket_number": payload.external_ticket_number,
        "external_deadline": payload.external_deadline,
        "handoff": services.HandoffDetails(service=handoff.service, at=handoff.at, incident_number=handoff.incident_number) if handoff else None,
        "reply": payload.reply if payload.action == CallAction.ANSWER else "",
        **dispatch,
    }


def _call_dispatch(request: StaffRequest, payload: CallIn, unit: Unit | None, region: Region | None, errors: dict[str, list[str]]) -> dict[str, Any]:
    """``take_call``'s dispatch arguments: from which of her units, to the suggestion or to the units she names."""
    if not access.has_capability(request.user, Capability.DISPATCH_CASES):
        raise PermissionDenied  # she takes calls but does not dispatch: a dispatcher will, from the queue
    plan = payload.dispatch or CallDispatchIn.model_validate({})
    dispatch_from = None
    if plan.dispatching_unit_id is not None:
        dispatch_from = (
            access.units_with_capability(request.user, Capability.DISPATCH_CASES).filter(pk=plan.dispatching_unit_id).select_related("region").first()
        )
        if dispatch_from is None:
            errors["dispatch.dispatching_unit_id"] = ["Not one of your units where you may dispatch."]
    elif region is not None:
        dispatch_from = services.dispatching_unit(request.user, unit, region)
        if dispatch_from is None:
            errors["dispatch.dispatching_unit_id"] = ["You do not dispatch for this place: name one of your dispatching units, or register the call only."]
    lead = None
    if plan.lead_id is not None:
        lead = Unit.objects.filter(pk=plan.lead_id).first()
        if lead is None:
            errors["dispatch.lead_id"] = ["No such unit."]
        if plan.expected_unit_ids is not None:
            errors["dispatch.expected_unit_ids"] = ["Only for a dispatch on the suggestion (without lead_id)."]
    elif plan.cohandler_ids:
        errors["dispatch.cohandler_ids"] = ["Co-handlers are named together with a lead (lead_id)."]
    found = Unit.objects.in_bulk(plan.cohandler_ids)
    missing = [pk for pk in plan.cohandler_ids if pk not in found]
    if missing:
        errors["dispatch.cohandler_ids"] = [f"No such unit: {missing[0]}."]
    return {
        "dispatch_from": dispatch_from,
        "expected_units": plan.expected_unit_ids,
        "legal_basis": plan.legal_basis or "",
        "lead": lead,
        "cohandlers": [found[pk] for pk in plan.cohandler_ids if pk in found],
    }


def _take_call(request: StaffRequest, payload: CallIn) -> tuple[Case, Contact, CaseEvent | None]:
    """Validate the call (every error at once, naming the body's fields) and save it through ``take_call``
    (or ``record_contact`` when it is attached to a case); the dispatch's event lists the work orders."""
    errors: dict[str, list[str]] = {}
    unit = caller = None
    try:
        unit = _own_unit(request, payload.unit_id, Capability.RECORD_CONTACTS)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        caller = _person(request, payload.caller_id, "caller_id")
    except ValidationError as error:
        errors.update(error.message_dict)
    if payload.caller_id is not None and payload.new_caller is not None:
        errors["new_caller"] = ["Give the caller on file (caller_id) or a new caller, not both."]
    for field, action, given in (
        ("reply", CallAction.ANSWER, payload.reply.strip()),
        ("dispatch", CallAction.DISPATCH, payload.dispatch is not None),
        ("case_id", CallAction.ATTACH, payload.case_id is not None),
    ):
        if given and payload.action != action:
            errors[field] = [f"Only with action {action.value}."]
    if payload.action == CallAction.ATTACH:
        case = Case.objects.visible_to(request.user).open().filter(pk=payload.case_id).first() if payload.case_id else None
        if case is None:
            errors["case_id"] = ["No such open case in your scope." if payload.case_id else "Name the case the call is about."]
        if payload.new_caller is not None:
            errors["new_caller"] = ["A call added to a case names a caller on file (caller_id), or nobody."]
        if errors:
            raise ValidationError(errors)
        assert unit is not None and case is not None
        contact = services.record_contact(
            by=request.user,
            unit=unit,
            channel=payload.channel,
            content=payload.content,
            caller=caller,
            caller_phone=payload.caller_phone,
            case=case,
            outcome=Outcome.ATTACHED,
            external_ticket_number=payload.external_ticket_number,
            external_deadline=payload.external_deadline,
        )
        return case, contact, None
    arguments = _call_arguments(request, payload, unit, caller, errors)
    if errors:
        raise ValidationError(errors)
    try:
        taken = services.take_call(by=request.user, **arguments)
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        raise ValidationError({_call_field(name): messages for name, messages in error.error_dict.items()}) from error
    dispatched = taken.case.events.filter(kind=EventKind.DISPATCHED).order_by("id").first() if taken.work_orders else None
    return taken.case, taken.contact, dispatched


@router.post("/calls", response={201: CallOut, 200: CallOut}, summary="Take a call: the caller, the case and the contact in one save")
def take_call(request: StaffRequest, payload: CallIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """What the hotline screen saves, in one transaction (201): the new caller, the respondent and
    reporter, the case and the contact; with ``action`` it is also dispatched at once, answered on
    the spot and closed, or only the contact is added to an open case. For those who take calls (403
    otherwise; 403 too for a dispatch by someone who does not dispatch).

    Every error is a 422 naming the body's field (``category``, ``region_id``, ``caller_phone``,
    ``new_caller.id_number``, ``dispatch.lead_id``…) and nothing is saved. A retry with the same
    ``Idempotency-Key`` answers the first result again (200); the same key with another body is a 409.
    """
    _require_any(request, Capability.RECORD_CONTACTS)
    digest = _call_digest(payload)
    saved: list[tuple[Case, Contact, CaseEvent | None]] = []

    def create() -> str:
        case, contact, dispatched = _take_call(request, payload)
        saved.append((case, contact, dispatched))
        return f"{digest}:{case.pk}:{contact.pk}:{dispatched.pk if dispatched else ''}"

    result, ran = run_once(user_id=request.user.pk, scope="api:take_call", key=idempotency_key, create=create)
    if ran and saved and payload.action in (CallAction.REGISTER, CallAction.ANSWER):
        # Answered from what the call has just saved (and committed) instead of reading it back:
        # a new case, registered or answered, has no work order.
        new_case, contact, _dispatched = saved[0]
        return Status(201, {"case": case_out(request, new_case, work_orders=[]), "contact": contact, "work_orders": []})
    first_digest, case_id, contact_id, event_id = result.split(":")
    if first_digest != digest:
        raise Conflict("This Idempotency-Key was sent before with another request: use a new key for a new call.")
    case = Case.objects.visible_to(request.user).select_related("category", "region").filter(pk=int(case_id)).first()
    if case is None:
        raise Http404
    event = CaseEvent.objects.filter(pk=int(event_id)).first() if event_id else None
    order_ids = event.data.get("work_orders", []) if event else []
    orders = WorkOrder.objects.filter(pk__in=order_ids).select_related("case", "unit", "sent_by_unit").order_by("created_at", "id")
    return Status(
        201 if ran else 200,
        {"case": case_out(request, case), "contact": Contact.objects.only(*CONTACT_COLUMNS).get(pk=int(contact_id)), "work_orders": list(orders)},
    )
