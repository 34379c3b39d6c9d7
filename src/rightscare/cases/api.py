"""API operations of cases and work orders: the same services as the pages.

Every operation loads its record through a scoped queryset (out of scope answers
404, exactly like a missing record), checks that she may do this (403 otherwise),
validates the body (422 naming the field, nothing saved) and calls the service.
The operations that create records take an ``Idempotency-Key``: a retry with the
same key answers 200 with the first result instead of creating a second record.
"""

import datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, QuerySet
from django.http import Http404
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from ninja.responses import Status

from rightscare.cases import selectors, services
from rightscare.cases.models import (
    Case,
    CaseEvent,
    CaseStatus,
    Category,
    EventKind,
    LegalBasis,
    PartyRole,
    RequestType,
    ReturnRuling,
    Role,
    TimeClass,
    Transfer,
    Urgency,
    Visibility,
    WorkOrder,
    WorkOrderStatus,
)
from rightscare.core import identity
from rightscare.core.api_inputs import IdempotencyKey, RecordId, fields_renamed
from rightscare.core.idempotency import run_once
from rightscare.core.pagination import OneReadPagination, Pagination
from rightscare.core.schemas import Input
from rightscare.org import access
from rightscare.org.http import StaffRequest
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability
from rightscare.supervision.schemas import ClockOut, clocks_out
from rightscare.supervision.selectors import annotate_cases

router = Router(tags=["cases"])


# --- schemas --------------------------------------------------------------------------


class CategoryOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    parent_id: int | None
    domestic_violence: bool
    child_protection: bool


class UnitRef(Schema):
    id: int
    name: str


class CaseListItem(Schema):
    id: int
    number: str
    request_type: RequestType
    category: str = Field(..., alias="category.code", description="The category's code.")
    urgency: Urgency
    status: CaseStatus
    region_id: int | None = Field(..., description="Null when the case's location is confidential: lists never show it.")
    location_confidential: bool
    created_at: datetime.datetime
    overdue: bool = Field(False, description="One of its work orders has a deadline that has passed.")

    @staticmethod
    def resolve_region_id(obj: Case) -> int | None:
        return None if obj.location_confidential else obj.region_id

    @staticmethod
    def resolve_overdue(obj: Case) -> bool:
        return bool(getattr(obj, "overdue", False))


class WorkOrderOut(Schema):
    id: int
    case_id: int
    case_number: str = Field(..., alias="case.number")
    unit: UnitRef
    role: Role
    status: WorkOrderStatus
    sent_by_unit: UnitRef
    parent_id: int | None
    legal_basis: LegalBasis
    time_class: TimeClass
    instructions: str
    signed_at: datetime.datetime | None
    first_contact_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    result: str
    outcome_codes: list[str]
    amount_yuan: Decimal | None
    reviewed_at: datetime.datetime | None
    review_comment: str
    return_reason: str
    return_ruling: ReturnRuling | None
    return_deadline: datetime.datetime | None
    version: int
    clocks: list[ClockOut] = Field(..., description="Its four deadlines: sign-for, first contact, update gap, resolution.")

    @staticmethod
    def resolve_return_ruling(obj: WorkOrder) -> str | None:
        return obj.return_ruling or None

    @staticmethod
    def resolve_clocks(obj: WorkOrder) -> list[dict[str, Any]]:
        return clocks_out(obj)


class EventOut(Schema):
    id: int
    at: datetime.datetime
    kind: EventKind
    unit_id: int | None
    actor_id: int | None
    work_order_id: int | None
    visibility: Visibility
    text: str


class CaseOut(Schema):
    id: int
    number: str
    request_type: RequestType
    category: str = Field(..., description="The category's code.")
    urgency: Urgency
    status: CaseStatus
    summary: str
    petitioner_id: int | None
    registering_unit_id: int
    region_id: int | None = Field(..., description="Null when the location is confidential and not yours to see.")
    address: str | None = Field(..., description="Null when the location is confidential and not yours to see.")
    location_confidential: bool
    police_notified: bool
    police_incident_number: str
    reply: str
    not_accepted_reason: str
    merged_into_id: int | None
    created_at: datetime.datetime
    resolved_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    version: int
    work_orders: list[WorkOrderOut]


class PartyIn(Input):
    role: PartyRole
    person_id: RecordId | None = None
    organisation_name: str = Field("", max_length=200, description="For a respondent that is an organisation (an employer).")
    confidential: bool = False


class CaseIn(Input):
    request_type: RequestType
    category: str = Field(..., min_length=1, max_length=60, description="Code of a current second-level category.", examples=["wage-arrears"])
    urgency: Urgency = Urgency.NORMAL
    summary: str = Field(..., min_length=1, max_length=10000)
    region_id: RecordId = Field(..., description="Where it happened: a region in your scope.")
    address: str = Field("", max_length=500)
    location_confidential: bool = False
    unit_id: RecordId = Field(..., description="The unit registering the case: one of yours where you record contacts or dispatch.")
    petitioner_id: RecordId | None = None
    parties: list[PartyIn] = Field(default_factory=list, max_length=20)
    accused_unit_id: RecordId | None = Field(None, description="For an accusation: the unit it is about (it will never see the case).")
    police_notified: bool = False
    police_incident_number: str = Field("", max_length=64)


class SuggestionOut(Schema):
    lead: UnitRef | None
    cohandlers: list[UnitRef]
    time_class: TimeClass
    rule_id: int | None


class DispatchIn(Input):
    dispatching_unit_id: RecordId = Field(..., description="One of your units where you dispatch.")
    lead_id: RecordId
    cohandler_ids: list[RecordId] = Field(default_factory=list, max_length=20)
    legal_basis: LegalBasis = LegalBasis.CONSENT
    instructions: str = Field("", max_length=2000)


class ForwardIn(Input):
    lead_id: RecordId | None = Field(None, description="Without a lead your unit keeps leading and only brings in co-handlers.")
    cohandler_ids: list[RecordId] = Field(default_factory=list, max_length=20)
    instructions: str = Field("", max_length=2000)


class ReasonIn(Input):
    reason: str = Field(..., min_length=1, max_length=2000)


class FirstContactIn(Input):
    note: str = Field(..., min_length=1, max_length=10000, description="How and when the petitioner was reached.")


class NoteIn(Input):
    text: str = Field(..., min_length=1, max_length=10000)
    visibility: Visibility = Visibility.HANDLING
    public_text: str = Field("", max_length=2000, description="For a public note: what the petitioner reads (never a person's name).")


OutcomeCode = Annotated[str, Field(min_length=1, max_length=40)]


class CompleteIn(Input):
    result: str = Field(..., min_length=1, max_length=10000)
    outcome_codes: list[OutcomeCode] = Field(default_factory=list, max_length=20)
    amount_yuan: Decimal | None = Field(None, ge=0, le=Decimal("999999999999.99"), decimal_places=2, description="Back pay, compensation…")


class ReviewIn(Input):
    accept: bool
    comment: str = Field("", max_length=2000, description="Required when sending the work order back.")


class RulingIn(Input):
    ruling: ReturnRuling
    note: str = Field("", max_length=2000)


class ReplyIn(Input):
    reply: str = Field(..., min_length=1, max_length=10000)


class TransferIn(Input):
    from_unit_id: RecordId = Field(..., description="One of your units where you dispatch.")
    to_unit_id: RecordId = Field(..., description="A peer unit under the same parent.")
    reason: str = Field(..., min_length=1, max_length=2000)
    new_region_id: RecordId | None = Field(None, description="Her new location, in the receiving unit's area.")
    new_address: str = Field("", max_length=500)


class TransferOut(Schema):
    id: int
    case_id: int
    from_unit_id: int
    to_unit_id: int
    status: Transfer.Status
    reason: str
    decided_at: datetime.datetime | None


class DecisionIn(Input):
    accept: bool
    note: str = Field("", max_length=2000)


class CaseFilters(Schema):
    number: str = Field("", max_length=32, description="The exact case number.")
    phone: str = Field("", max_length=40, description="A complete phone number of the petitioner or a person concerned.")
    name: str = Field("", max_length=100, description="The petitioner's or a person concerned's name, or its beginning.")
    category: str = Field("", max_length=60, description="A category code (a first-level one covers its children).")
    status: CaseStatus | None = None
    region_id: RecordId | None = Field(None, description="Cases in this region's subtree (confidential locations are never searched).")
    unit_id: RecordId | None = Field(None, description="Cases with a work order to this unit.")
    created_from: datetime.date | None = None
    created_to: datetime.date | None = None


# --- helpers ---------------------------------------------------------------------------


def _require_any(request: StaffRequest, *capabilities: Capability) -> None:
    """403 unless she may do one of ``capabilities`` in one of her units."""
    if not any(access.has_capability(request.user, capability) for capability in capabilities):
        raise PermissionDenied


def _case(request: StaffRequest, case_id: int) -> Case:
    """A case in her scope, or 404 (exactly as if it did not exist)."""
    try:
        return Case.objects.visible_to(request.user).select_related("category", "region").get(pk=case_id)
    except Case.DoesNotExist as error:
        raise Http404 from error


def _history_until(request: StaffRequest, case: Case) -> datetime.datetime | None:
    """Until when she may follow the case: up to its transfer away, when the new location is not hers to see.

    After a transfer to another district the original units keep the history they
    wrote but lose the new location, and the units that now handle it (and what they
    write) would give it away.
    """
    if services.location_visible_to(request.user, case):
        return None
    transfer = case.transfers.filter(status=Transfer.Status.ACCEPTED).order_by("-decided_at").first()
    return transfer.decided_at if transfer else None


def work_order_in_scope(request: StaffRequest, work_order_id: int) -> WorkOrder:
    """A work order of a case in her scope (and not hidden from her by a transfer), or 404."""
    try:
        order = WorkOrder.objects.visible_to(request.user).select_related("case__region", "unit", "sent_by_unit").get(pk=work_order_id)
    except WorkOrder.DoesNotExist as error:
        raise Http404 from error
    until = _history_until(request, order.case)
    if until is not None and order.created_at > until:
        raise Http404
    return order


def _own_unit(request: StaffRequest, unit_id: int, field: str, *capabilities: Capability) -> Unit:
    """One of her units in which she may do one of ``capabilities`` (a body field naming it: 422 otherwise)."""
    for capability in capabilities:
        unit = access.units_with_capability(request.user, capability).filter(pk=unit_id).select_related("region").first()
        if unit is not None:
            return unit
    raise ValidationError({field: ["Not one of your units where you may do this."]})


def _units(ids: list[int], field: str) -> list[Unit]:
    """Units named in a request body, in order: an unknown id is a validation error of that field."""
    found = Unit.objects.in_bulk(ids)
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({field: [f"No such unit: {missing[0]}."]})
    return [found[pk] for pk in ids]


def _work_order_list(ids: list[int]) -> list[WorkOrder]:
    orders = WorkOrder.objects.filter(pk__in=ids).select_related("case", "unit", "sent_by_unit").prefetch_related("clocks").order_by("created_at", "id")
    return list(orders)


def _ids(result: str) -> list[int]:
    return [int(pk) for pk in result.split(",") if pk]


def case_out(request: StaffRequest, case: Case, *, work_orders: list[WorkOrder] | None = None) -> dict[str, Any]:
    """The case as ``CaseOut``; ``work_orders`` when the caller holds them all (none, for a case it has just registered)."""
    location_visible = services.location_visible_to(request.user, case)
    orders: Any = work_orders
    if orders is None:
        until = None if location_visible else _history_until(request, case)
        orders = case.work_orders.select_related("unit", "sent_by_unit", "case").prefetch_related("clocks").order_by("created_at", "id")
        if until is not None:
            orders = orders.filter(created_at__lte=until)
    fields = (
        "id",
        "number",
        "request_type",
        "urgency",
        "status",
        "summary",
        "petitioner_id",
        "registering_unit_id",
        "location_confidential",
        "police_notified",
        "police_incident_number",
        "reply",
        "not_accepted_reason",
        "merged_into_id",
        "created_at",
        "resolved_at",
        "closed_at",
        "version",
    )
    return {
        **{name: getattr(case, name) for name in fields},
        "category": case.category.code,
        "region_id": case.region_id if location_visible else None,
        "address": case.address if location_visible else None,
        "work_orders": list(orders),
    }


# --- cases -------------------------------------------------------------------------------


@router.get("/categories", response=list[CategoryOut], summary="The current category taxonomy")
@paginate(Pagination)
def list_categories(request: StaffRequest) -> QuerySet[Category]:
    """The current categories: first-level ones first, then the second level grouped by parent."""
    return Category.objects.filter(valid_until__isnull=True).order_by(F("parent_id").asc(nulls_first=True), "sort_order", "id")


def _listed_cases(ids: list[int]) -> QuerySet[Case]:
    """The items of a page of ``list_cases``, by the ids its scoped query found (``OneReadPagination``): overdue computed for them only."""
    return annotate_cases(Case.objects.filter(pk__in=ids).select_related("category").defer("address", "summary"))


@router.get("/cases", response=list[CaseListItem], summary="Search the cases in my scope")
@paginate(OneReadPagination, rows=_listed_cases)
def list_cases(request: StaffRequest, filters: Query[CaseFilters]) -> QuerySet[Case]:
    """Newest first. Phones and numbers match exactly; a filter naming something outside my scope finds nothing."""
    if access.case_scope(request.user).empty:
        raise PermissionDenied
    if filters.phone:
        try:
            identity.normalise_phone(filters.phone)
        except ValidationError as error:
            raise ValidationError({"phone": error.messages}) from error
    category = Category.objects.filter(code=filters.category, valid_until__isnull=True).first() if filters.category else None
    region = access.visible_regions(request.user).filter(pk=filters.region_id).first() if filters.region_id else None
    unit = access.visible_units(request.user).filter(pk=filters.unit_id).first() if filters.unit_id else None
    if (filters.category and category is None) or (filters.region_id and region is None) or (filters.unit_id and unit is None):
        return Case.objects.none()
    cases = selectors.search_cases(
        by=request.user,
        filters=selectors.CaseSearch(
            number=filters.number,
            phone=filters.phone,
            name=filters.name,
            category=category,
            status=filters.status or "",
            region_path=region.path if region else "",
            unit=unit,
            created_from=filters.created_from,
            created_to=filters.created_to,
        ),
    )
    if region is not None:
        # A search by place must not reveal where a confidential case is.
        cases = cases.exclude(location_confidential=True)
    return cases


@router.post("/cases", response={201: CaseOut, 200: CaseOut}, summary="Register a case")
def create_case(request: StaffRequest, payload: CaseIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """Register a case for one of my units (201); a retry with the same ``Idempotency-Key`` answers the same case (200)."""
    _require_any(request, Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES)
    errors: dict[str, list[str]] = {}
    category = Category.objects.filter(code=payload.category, valid_until__isnull=True).first()
    if category is None:
        errors["category"] = ["Unknown category."]
    region = Region.objects.filter(pk=payload.region_id).first()
    if region is None:
        errors["region_id"] = ["Unknown region."]
    units = access.units_with_capability(request.user, Capability.RECORD_CONTACTS) | access.units_with_capability(request.user, Capability.DISPATCH_CASES)
    unit = units.filter(pk=payload.unit_id).first()
    if unit is None:
        errors["unit_id"] = ["Not one of your units where you may register cases."]
    accused_unit = None
    if payload.accused_unit_id is not None:
        accused_unit = Unit.objects.filter(pk=payload.accused_unit_id).first()
        if accused_unit is None:
            errors["accused_unit_id"] = ["No such unit."]
    people = selectors.people_in_reach(by=request.user)
    petitioner = None
    if payload.petitioner_id is not None:
        petitioner = people.filter(pk=payload.petitioner_id).first()
        if petitioner is None:
            errors["petitioner_id"] = ["Unknown person."]
    parties = []
    for index, party in enumerate(payload.parties):
        person = people.filter(pk=party.person_id).first() if party.person_id else None
        if party.person_id and person is None:
            errors[f"parties.{index}.person_id"] = ["Unknown person."]
        elif person is None and not party.organisation_name.strip():
            errors[f"parties.{index}"] = ["Give a person or an organisation."]
        parties.append(services.PartyInput(role=party.role, person=person, organisation_name=party.organisation_name, confidential=party.confidential))
    if errors:
        raise ValidationError(errors)
    assert category is not None and region is not None and unit is not None

    def create() -> str:
        with fields_renamed(region="region_id", accused_unit="accused_unit_id"):
            case = services.register_case(
                by=request.user,
                unit=unit,
                request_type=payload.request_type,
                category=category,
                urgency=payload.urgency,
                summary=payload.summary,
                region=region,
                address=payload.address,
                location_confidential=payload.location_confidential,
                petitioner=petitioner,
                parties=parties,
                accused_unit=accused_unit,
                police_notified=payload.police_notified,
                police_incident_number=payload.police_incident_number,
            )
        return str(case.pk)

    result, ran = run_once(user_id=request.user.pk, scope="api:create_case", key=idempotency_key, create=create)
    return Status(201 if ran else 200, case_out(request, _case(request, int(result))))


@router.get("/cases/{case_id}", response=CaseOut, summary="One case with its work orders")
def get_case(request: StaffRequest, case_id: RecordId) -> dict[str, Any]:
    """The address (and region) of a confidential case only for the units handling it and the federations over it."""
    return case_out(request, _case(request, case_id))


@router.get("/cases/{case_id}/timeline", response=list[EventOut], summary="The case's timeline, in order")
@paginate(Pagination)
def case_timeline(request: StaffRequest, case_id: RecordId) -> QuerySet[CaseEvent]:
    """Oldest first; notes kept within a unit only for that unit's members."""
    case = _case(request, case_id)
    events = selectors.timeline(by=request.user, case=case)
    until = _history_until(request, case)
    return events.filter(at__lte=until) if until is not None else events


@router.get("/cases/{case_id}/suggestion", response=SuggestionOut, summary="Whom the responsibility list suggests, for one of my units")
def case_suggestion(request: StaffRequest, case_id: RecordId, unit_id: RecordId) -> dict[str, Any]:
    """The lead unit and co-handlers the responsibility list names when ``unit_id`` (one of mine) dispatches the case."""
    case = _case(request, case_id)
    _require_any(request, Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES)
    unit = _own_unit(request, unit_id, "unit_id", Capability.DISPATCH_CASES, Capability.RECORD_CONTACTS)
    suggestion = services.suggest_dispatch(dispatching_unit=unit, category=case.category, region=case.region, accused_unit=case.accused_unit)
    return {
        "lead": suggestion.lead,
        "cohandlers": suggestion.cohandlers,
        "time_class": suggestion.time_class,
        "rule_id": suggestion.rule.pk if suggestion.rule else None,
    }


@router.post(
    "/cases/{case_id}/dispatch", response={201: list[WorkOrderOut], 200: list[WorkOrderOut]}, summary="Dispatch the case to a lead unit and co-handlers"
)
def dispatch(request: StaffRequest, case_id: RecordId, payload: DispatchIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """One work order per unit, sent from one of my dispatching units (201); 409 when the case already has a lead."""
    case = _case(request, case_id)
    _require_any(request, Capability.DISPATCH_CASES)
    dispatching = _own_unit(request, payload.dispatching_unit_id, "dispatching_unit_id", Capability.DISPATCH_CASES)
    [lead] = _units([payload.lead_id], "lead_id")
    cohandlers = _units(payload.cohandler_ids, "cohandler_ids")

    def create() -> str:
        with fields_renamed(lead="lead_id", cohandlers="cohandler_ids"):
            orders = services.dispatch_case(
                case=case,
                by=request.user,
                dispatching_unit=dispatching,
                lead=lead,
                cohandlers=cohandlers,
                legal_basis=payload.legal_basis,
                instructions=payload.instructions,
            )
        return ",".join(str(order.pk) for order in orders)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:dispatch_case:{case.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, _work_order_list(_ids(result)))


@router.post("/cases/{case_id}/answer", response=CaseOut, summary="Answer a consultation on the spot and close it")
def answer(request: StaffRequest, case_id: RecordId, payload: ReplyIn) -> dict[str, Any]:
    """For the registering unit's operators and dispatchers; 409 unless it is a consultation not yet dispatched."""
    case = services.answer_directly(case=_case(request, case_id), by=request.user, reply=payload.reply)
    return case_out(request, case)


@router.post("/cases/{case_id}/decline", response=CaseOut, summary="Record that the request is not accepted")
def decline(request: StaffRequest, case_id: RecordId, payload: ReasonIn) -> dict[str, Any]:
    """The reason is what the petitioner is told; 409 once the case is dispatched."""
    case = services.decline_case(case=_case(request, case_id), by=request.user, reason=payload.reason)
    return case_out(request, case)


@router.post("/cases/{case_id}/close", response=CaseOut, summary="Close a resolved case")
def close(request: StaffRequest, case_id: RecordId) -> dict[str, Any]:
    """For a dispatcher of the case; 409 unless it is resolved."""
    case = services.close_case(case=_case(request, case_id), by=request.user)
    return case_out(request, case)


@router.post("/cases/{case_id}/transfers", response={201: TransferOut, 200: TransferOut}, summary="Ask a peer unit to take over the case")
def create_transfer(request: StaffRequest, case_id: RecordId, payload: TransferIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """The receiving unit accepts or refuses it; 409 while another transfer of the case waits for an answer."""
    case = _case(request, case_id)
    _require_any(request, Capability.DISPATCH_CASES)
    from_unit = _own_unit(request, payload.from_unit_id, "from_unit_id", Capability.DISPATCH_CASES)
    [to_unit] = _units([payload.to_unit_id], "to_unit_id")
    new_region = None
    if payload.new_region_id is not None:
        new_region = Region.objects.filter(pk=payload.new_region_id).first()
        if new_region is None:
            raise ValidationError({"new_region_id": ["Unknown region."]})

    def create() -> str:
        with fields_renamed(to_unit="to_unit_id", new_region="new_region_id"):
            transfer = services.request_transfer(
                case=case, by=request.user, from_unit=from_unit, to_unit=to_unit, reason=payload.reason, new_region=new_region, new_address=payload.new_address
            )
        return str(transfer.pk)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:request_transfer:{case.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, Transfer.objects.get(pk=int(result)))


@router.post("/transfers/{transfer_id}/decision", response=TransferOut, summary="Accept or refuse a transfer sent to my unit")
def decide(request: StaffRequest, transfer_id: RecordId, payload: DecisionIn) -> Transfer:
    """Only the receiving unit's dispatchers see the transfer (she may not see the case before accepting it); 409 once decided."""
    transfer = Transfer.objects.filter(pk=transfer_id, to_unit__in=access.units_with_capability(request.user, Capability.DISPATCH_CASES)).first()
    if transfer is None:
        raise Http404
    return services.decide_transfer(transfer=transfer, by=request.user, accept=payload.accept, note=payload.note)


# --- work orders ---------------------------------------------------------------------------


@router.get("/work-orders", response=list[WorkOrderOut], summary="My units' inbox: work orders to sign for and in progress")
@paginate(Pagination)
def inbox(request: StaffRequest) -> QuerySet[WorkOrder]:
    """Oldest first: what was sent to the units where I handle work or dispatch."""
    _require_any(request, Capability.HANDLE_WORK_ORDERS, Capability.DISPATCH_CASES)
    return selectors.unit_inbox(by=request.user).prefetch_related("clocks").order_by("created_at", "id")


@router.get("/work-orders/{work_order_id}", response=WorkOrderOut, summary="One work order")
def get_work_order(request: StaffRequest, work_order_id: RecordId) -> WorkOrder:
    """Any work order of a case in my scope."""
    return work_order_in_scope(request, work_order_id)


@router.post("/work-orders/{work_order_id}/sign-for", response=WorkOrderOut, summary="Sign for a work order")
def sign_for(request: StaffRequest, work_order_id: RecordId) -> WorkOrder:
    """For the unit it was sent to; 409 unless it is waiting to be signed for."""
    return services.sign_for_work_order(work_order=work_order_in_scope(request, work_order_id), by=request.user)


@router.post("/work-orders/{work_order_id}/return", response=WorkOrderOut, summary="Return a work order with a reason")
def return_order(request: StaffRequest, work_order_id: RecordId, payload: ReasonIn) -> WorkOrder:
    """Until the first progress note and within the return window (409 after)."""
    return services.return_work_order(work_order=work_order_in_scope(request, work_order_id), by=request.user, reason=payload.reason)


@router.post("/work-orders/{work_order_id}/return-ruling", response=WorkOrderOut, summary="Rule a return justified or unjustified")
def rule_return(request: StaffRequest, work_order_id: RecordId, payload: RulingIn) -> WorkOrder:
    """For the dispatchers of the unit that sent it; 409 unless it is returned and not yet ruled on."""
    return services.rule_on_return(work_order=work_order_in_scope(request, work_order_id), by=request.user, ruling=payload.ruling, note=payload.note)


@router.post("/work-orders/{work_order_id}/first-contact", response=WorkOrderOut, summary="Record the first contact with the petitioner")
def first_contact(request: StaffRequest, work_order_id: RecordId, payload: FirstContactIn) -> WorkOrder:
    """The work order is then in progress (409 unless it is signed for)."""
    return services.record_first_contact(work_order=work_order_in_scope(request, work_order_id), by=request.user, note=payload.note)


@router.post("/work-orders/{work_order_id}/notes", response={201: EventOut, 200: EventOut}, summary="Add a progress note")
def add_note(request: StaffRequest, work_order_id: RecordId, payload: NoteIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """The note as it appears on the timeline (201); once signed for and until accepted (409 otherwise)."""
    order = work_order_in_scope(request, work_order_id)

    def create() -> str:
        services.add_progress_note(work_order=order, by=request.user, text=payload.text, visibility=payload.visibility, public_text=payload.public_text)
        note = CaseEvent.objects.filter(work_order=order, kind=EventKind.NOTE, actor=request.user).order_by("-id").first()
        assert note is not None
        return str(note.pk)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:add_note:{order.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, CaseEvent.objects.get(pk=int(result)))


@router.post("/work-orders/{work_order_id}/complete", response=WorkOrderOut, summary="Complete a work order with its result")
def complete(request: StaffRequest, work_order_id: RecordId, payload: CompleteIn) -> WorkOrder:
    """With outcome codes and amounts (such as 130,000 yuan back pay); 409 unless in progress with every forwarded order reviewed."""
    return services.complete_work_order(
        work_order=work_order_in_scope(request, work_order_id),
        by=request.user,
        result=payload.result,
        outcome_codes=payload.outcome_codes,
        amount_yuan=payload.amount_yuan,
    )


@router.post("/work-orders/{work_order_id}/review", response=WorkOrderOut, summary="Accept a completed work order or send it back")
def review(request: StaffRequest, work_order_id: RecordId, payload: ReviewIn) -> WorkOrder:
    """For the unit that sent it; the case is resolved once every top-level order is accepted; 409 unless completed."""
    return services.review_work_order(work_order=work_order_in_scope(request, work_order_id), by=request.user, accept=payload.accept, comment=payload.comment)


@router.post(
    "/work-orders/{work_order_id}/forward", response={201: list[WorkOrderOut], 200: list[WorkOrderOut]}, summary="Forward a work order down to lower units"
)
def forward(request: StaffRequest, work_order_id: RecordId, payload: ForwardIn, idempotency_key: IdempotencyKey = "") -> Status[Any]:
    """Child work orders for units below mine, which my unit reviews (201); 409 unless signed for."""
    order = work_order_in_scope(request, work_order_id)
    _require_any(request, Capability.HANDLE_WORK_ORDERS, Capability.DISPATCH_CASES)
    [lead] = _units([payload.lead_id], "lead_id") if payload.lead_id is not None else [None]
    cohandlers = _units(payload.cohandler_ids, "cohandler_ids")

    def create() -> str:
        with fields_renamed(lead="lead_id", cohandlers="cohandler_ids"):
            children = services.forward_work_order(work_order=order, by=request.user, lead=lead, cohandlers=cohandlers, instructions=payload.instructions)
        return ",".join(str(child.pk) for child in children)

    result, ran = run_once(user_id=request.user.pk, scope=f"api:forward_work_order:{order.pk}", key=idempotency_key, create=create)
    return Status(201 if ran else 200, _work_order_list(_ids(result)))
