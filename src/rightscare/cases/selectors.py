"""Reads of cases for pages and the API: lists, search, caller history, duplicates, duty."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from rightscare.cases.models import Case, CaseEvent, CaseParty, CaseStatus, Category, DutyShift, OneOf, PartyRole, Visibility, WorkOrder, WorkOrderStatus
from rightscare.core import identity
from rightscare.core.fields import BlindIndexField
from rightscare.org import access
from rightscare.org.models import Region, Unit
from rightscare.org.roles import Capability
from rightscare.registry.models import Person, PersonPhone

#: Same person and same category within this many days is a possible duplicate.
DUPLICATE_WINDOW_DAYS = 30


def _phone_candidates(model: Any, field_name: str, phone: str) -> list[str]:
    field = model._meta.get_field(field_name)
    assert isinstance(field, BlindIndexField)
    return field.candidates(identity.normalise_phone(phone))


@dataclass(frozen=True)
class CallerHistory:
    """What the operator may see about a number that is calling."""

    phone_known: bool
    cases: list[Case]
    contacts: list[Any]


def caller_history(*, by: Any, phone: str, limit: int = 20) -> CallerHistory:
    """Earlier cases and contacts of whoever uses this number, within the operator's scope.

    The number must be complete and valid (a blind-index lookup of the whole
    normalised number; there is no prefix search). When the number belongs to a
    respondent, the cases in which that person is the respondent are never shown:
    the abuser calling must learn nothing of the victim's cases. Confidential
    details never appear here.
    """
    from rightscare.intake.models import Contact

    try:
        phone_rows = list(PersonPhone.objects.filter(phone_index__in=_phone_candidates(PersonPhone, "phone_index", phone)).select_related("person"))
        contact_candidates = _phone_candidates(Contact, "caller_phone_index", phone)
    except ValidationError:
        return CallerHistory(phone_known=False, cases=[], contacts=[])
    people = [row.person_id for row in phone_rows]
    respondent_people = [row.person_id for row in phone_rows if row.respondent_flag]
    visible = Case.objects.visible_to(by)
    involved = CaseParty.objects.filter(person_id__in=people).exclude(role=PartyRole.RESPONDENT)
    hidden = CaseParty.objects.filter(person_id__in=respondent_people, role=PartyRole.RESPONDENT).values("case_id")
    cases = (
        visible.filter(Q(pk__in=involved.values("case_id")) | Q(petitioner_id__in=people) | Q(contacts__caller_phone_index__in=contact_candidates))
        .exclude(pk__in=hidden)
        .select_related("category", "region")
        .distinct()
        .order_by("-created_at")[:limit]
    )
    contacts = (
        Contact.objects.filter(caller_phone_index__in=contact_candidates)
        .filter(Q(unit__in=access.own_units(by)) | Q(case__in=visible))
        .exclude(case_id__in=hidden)
        .select_related("case", "unit")
        .order_by("-occurred_at")[:limit]
    )
    found_cases, found_contacts = list(cases), list(contacts)
    # "Known" within her scope only: that the number is on file in another district is not hers to learn.
    own_unit_ids = set(access.own_units(by).values_list("pk", flat=True))
    known_here = any(row.person.recorded_by_unit_id in own_unit_ids for row in phone_rows)
    return CallerHistory(phone_known=known_here or bool(found_cases) or bool(found_contacts), cases=found_cases, contacts=found_contacts)


def people_in_reach(*, by: Any) -> QuerySet[Person]:
    """People she may name on a case or a contact (as petitioner, caller, party or guardian).

    Those recorded by a unit she can see, and the people concerned by a case she may
    open; anyone else is answered as unknown, so an id reveals nothing.
    """
    concerned = CaseParty.objects.filter(case__in=Case.objects.visible_to(by), person__isnull=False).values("person_id")
    return Person.objects.filter(Q(recorded_by_unit__in=access.visible_units(by)) | Q(pk__in=concerned))


def possible_duplicates(*, by: Any, category: Category | None = None, person: Any = None, phone: str = "", at: datetime.datetime | None = None) -> list[Case]:
    """Open cases that may be the same matter: same person and category within 30 days, or the same phone."""
    at = at or timezone.now()
    query = Q(pk__in=[])
    if person is not None and category is not None:
        same_person = Q(petitioner=person) | Q(parties__person=person)
        query |= (
            same_person
            & Q(category__parent_id=category.parent_id if category.parent_id else category.pk)
            & Q(created_at__gte=at - datetime.timedelta(days=DUPLICATE_WINDOW_DAYS))
        )
    if phone:
        try:
            people = PersonPhone.objects.filter(phone_index__in=_phone_candidates(PersonPhone, "phone_index", phone), respondent_flag=False).values("person_id")
        except ValidationError:
            people = PersonPhone.objects.none().values("person_id")
        query |= Q(petitioner_id__in=people)
    return list(Case.objects.visible_to(by).open().filter(query).select_related("category").distinct().order_by("-created_at")[:10])


def dispatch_queue(*, by: Any) -> QuerySet[Case]:
    """Cases waiting for her dispatch: registered in her units' areas (or by her units), none of them merged or answered."""
    units = list(access.units_with_capability(by, Capability.DISPATCH_CASES).select_related("region"))
    if not units:
        return Case.objects.none()
    area = access.path_prefix_q("region__path", {u.region.path for u in units})
    # Few cases wait for dispatch in the whole installation (they are dispatched within hours):
    # they are read from the status index and each is checked against her scope, rather than
    # her whole scope listed (CaseQuerySet.listed_for) to find them.
    waiting = Case.objects.visible_to(by).filter(status=CaseStatus.REGISTERED)
    return waiting.filter(area | Q(registering_unit_id__in=[u.pk for u in units])).select_related("category", "region")


def returned_queue(*, by: Any) -> QuerySet[WorkOrder]:
    """Work orders returned to her units that still wait for a ruling."""
    units = access.units_with_capability(by, Capability.DISPATCH_CASES)
    return WorkOrder.objects.filter(sent_by_unit__in=units, status=WorkOrderStatus.RETURNED, return_ruling="").select_related("case", "unit")


def unit_inbox(*, by: Any, statuses: tuple[str, ...] = (WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS)) -> QuerySet[WorkOrder]:
    """Work orders sent to the units where she handles work: to sign for, in progress."""
    return (
        WorkOrder.objects.actionable_by(by)
        .filter(status__in=statuses)
        .select_related("case__category", "case__region", "unit", "sent_by_unit")
        .order_by("created_at")
    )


def to_review(*, by: Any) -> QuerySet[WorkOrder]:
    """Completed work orders that her units sent and must now accept or send back."""
    dispatching = access.units_with_capability(by, Capability.DISPATCH_CASES)
    handling = access.units_with_capability(by, Capability.HANDLE_WORK_ORDERS)
    return (
        WorkOrder.objects.filter(status=WorkOrderStatus.COMPLETED)
        .filter(Q(parent__isnull=True, sent_by_unit__in=dispatching) | Q(parent__isnull=False, parent__unit__in=handling | dispatching))
        .select_related("case", "unit")
    )


@dataclass(frozen=True)
class CaseSearch:
    """Filters of the case search (all optional)."""

    number: str = ""
    phone: str = ""
    name: str = ""
    category: Category | None = None
    status: str = ""
    region_path: str = ""
    unit: Unit | None = None
    created_from: datetime.date | None = None
    created_to: datetime.date | None = None


def search_cases(*, by: Any, filters: CaseSearch) -> QuerySet[Case]:
    """Cases in her scope matching the filters; phones and numbers are exact, names exact or prefix.

    A case number or a phone names a handful of cases, found from their own indexes, and each
    is checked against her scope (``visible_to``); any other search lists her scope
    (``listed_for``) and filters it, so that it costs what her scope holds, not what the
    installation holds.
    """
    cases = Case.objects.visible_to(by) if filters.number or filters.phone else Case.objects.listed_for(by)
    if filters.number:
        cases = cases.filter(number=filters.number.strip().upper())
    if filters.phone:
        people = PersonPhone.objects.filter(phone_index__in=_phone_candidates(PersonPhone, "phone_index", filters.phone), respondent_flag=False).values(
            "person_id"
        )
        concerned = CaseParty.objects.filter(person_id__in=people).values("case_id")
        cases = cases.filter(OneOf(F("petitioner_id"), people) | OneOf(F("pk"), concerned))
    if filters.name:
        # Two id sets, each read once from the name index (person_name_prefix), that every case
        # of her scope is checked against; a join to the petitioner and a subquery per case
        # would cost two index lookups for each case of her scope.
        named = Person.objects.filter(name__startswith=filters.name.strip()).values("pk")
        concerned = CaseParty.objects.filter(person__in=named, confidential=False).exclude(role=PartyRole.RESPONDENT).values("case_id")
        cases = cases.filter(Q(petitioner_id__in=named) | Q(pk__in=concerned))
    # The category and the region as id sets (a small table each) rather than joins: every case
    # of her scope is then tested from the index case_scope_list alone, not read from the table.
    if filters.category is not None:
        cases = cases.filter(category_id__in=Category.objects.filter(Q(pk=filters.category.pk) | Q(parent=filters.category)).values("pk"))
    if filters.status:
        cases = cases.filter(status=filters.status)
    if filters.region_path:
        cases = cases.filter(region_id__in=Region.objects.filter(path__startswith=filters.region_path).values("pk"))
    if filters.unit is not None:
        cases = cases.filter(Exists(WorkOrder.objects.filter(case=OuterRef("pk"), unit=filters.unit)))
    if filters.created_from:
        cases = cases.filter(created_at__date__gte=filters.created_from)
    if filters.created_to:
        cases = cases.filter(created_at__date__lte=filters.created_to)
    return cases.select_related("category", "region").order_by("-created_at", "-id")


def timeline(*, by: Any, case: Case) -> QuerySet[CaseEvent]:
    """The case's events she may read: unit-only notes only within their unit."""
    own = access.own_units(by)
    return case.events.filter(Q(visibility__in=[Visibility.HANDLING, Visibility.PUBLIC]) | Q(unit__in=own)).select_related("actor", "unit").order_by("at", "id")


def public_timeline(case: Case) -> QuerySet[CaseEvent]:
    """What the petitioner's tracking page shows: public events, never a person's name."""
    return case.events.filter(visibility=Visibility.PUBLIC).exclude(public_text="").only("at", "kind", "public_text").order_by("at", "id")


def on_duty(unit: Unit, at: datetime.datetime | None = None) -> DutyShift | None:
    """The unit's duty shift at ``at`` (now by default), if any."""
    at = at or timezone.now()
    return DutyShift.objects.filter(unit=unit, starts_at__lte=at, ends_at__gt=at).select_related("user").order_by("-starts_at").first()


def emergency_route(unit: Unit, at: datetime.datetime | None = None) -> tuple[Unit, DutyShift | None]:
    """Where an emergency or after-hours case goes: the unit's duty shift, or the nearest
    parent unit that has one (the city federation's duty line as a last resort)."""
    current: Unit | None = unit
    while current is not None:
        shift = on_duty(current, at)
        if shift is not None:
            return current, shift
        current = current.parent
    return unit, None
