"""API operations of intake: contacts, people and the caller-history lookup.

Same order as every operation: scoped fetch, permission (403), validation (422
naming the field, nothing saved), service. Creating a contact or a person takes an
``Idempotency-Key``: a retry answers the first record (200) instead of a second one.
"""

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status
from pydantic import AwareDatetime, field_validator

from rightscare.cases import selectors
from rightscare.cases.models import Case
from rightscare.core import identity
from rightscare.core.api_inputs import IdempotencyKey, RecordId, fields_renamed
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import Pagination
from rightscare.core.schemas import Input
from rightscare.intake import services
from rightscare.intake.models import Channel, Contact, Outcome
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.models import Unit
from rightscare.org.roles import Capability
from rightscare.registry import services as registry_services
from rightscare.registry.models import Person, Sex

router = Router(tags=["intake"])

#: The earliest and latest years a date or time given at intake may carry.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


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
        if value is None:
            return None
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}")
        # PostgreSQL refuses offsets beyond ±15:59 that Python accepts: store it in UTC.
        return value.astimezone(datetime.UTC)


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
