"""``listed_for`` (the scope of lists and searches) reaches exactly the cases ``visible_to`` reaches.

The two are built differently — an OR that opens one record, a UNION of id queries that
lists many from indexes — so they are compared, for every persona of a generated data
set, with each other and with the rule written out here in Python: a case is hers when
it lies in one of her area subtrees, has a work order to a unit of one of her unit
subtrees, or was registered by one of her units; never when it accuses one of her units.
The data set holds accusations and a case transferred to the sibling district, and the
test checks that every way of reaching a case (and the exclusion) decides at least once.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from rightscare.cases import selectors, services
from rightscare.cases.benchdata import Shape, generate
from rightscare.cases.models import Case, CaseParty, CaseStatus, Category, PartyRole, RequestType, Role, WorkOrder, WorkOrderStatus
from rightscare.core.identity import normalise_phone
from rightscare.org import access
from rightscare.org.models import Membership, Region, Unit, User
from rightscare.org.roles import Capability
from rightscare.org.roles import Role as StaffRole
from rightscare.registry.models import PersonPhone
from tests.factories import UserFactory

UNTIL = timezone.make_aware(datetime.datetime(2026, 3, 2))
#: Two cities of two districts each: siblings to transfer between, and cities that must not see each other.
TWO_CITIES = Shape(provinces=1, cities=2, districts=2, streets=2, communities=2)

REGION, WORK_ORDER, REGISTERING_UNIT = "region subtree", "work order in her unit subtree", "registered by her unit"


@dataclass(frozen=True)
class CaseFacts:
    """What decides who reaches a case."""

    pk: int
    region_path: str
    work_order_unit_paths: frozenset[str]
    registering_unit_id: int
    accused_unit_id: int | None


def facts() -> list[CaseFacts]:
    paths: dict[int, set[str]] = defaultdict(set)
    for case_id, unit_path in WorkOrder.objects.values_list("case_id", "unit__path"):
        paths[case_id].add(unit_path)
    return [
        CaseFacts(pk, region_path, frozenset(paths[pk]), registering_unit_id, accused_unit_id)
        for pk, region_path, registering_unit_id, accused_unit_id in Case.objects.values_list("pk", "region__path", "registering_unit_id", "accused_unit_id")
    ]


def ways(user: Any, case: CaseFacts) -> set[str]:
    """The ways by which she reaches ``case``, before the accusation rule."""
    scope = access.case_scope(user)
    found = set()
    if any(case.region_path.startswith(path) for path in scope.region_paths):
        found.add(REGION)
    if any(unit_path.startswith(path) for unit_path in case.work_order_unit_paths for path in scope.unit_paths):
        found.add(WORK_ORDER)
    if case.registering_unit_id in scope.unit_ids:
        found.add(REGISTERING_UNIT)
    return found


def accused(user: Any, case: CaseFacts) -> bool:
    return case.accused_unit_id in access.case_scope(user).all_unit_ids


def expected(user: Any, cases: list[CaseFacts]) -> set[int]:
    return {case.pk for case in cases if ways(user, case) and not accused(user, case)}


@dataclass(frozen=True)
class Transferred:
    """Two cases the first district handed over to its sibling after the families moved there."""

    sender: User
    receiver: User
    dispatched: Case  # the first district had sent it to its units: it keeps it through their work orders
    registered: Case  # the first district registered it (a walk-in) and had not dispatched it: it keeps it as its registering unit


def transfer_to_sibling_district() -> Transferred:
    first = Unit.objects.filter(kind__code="federation-district").select_related("region").order_by("path").first()
    second = Unit.objects.filter(kind__code="federation-district", parent=first.parent).exclude(pk=first.pk).select_related("region").get()
    sender = Membership.objects.get(unit=first, role=StaffRole.DISPATCHER).user
    receiver = Membership.objects.get(unit=second, role=StaffRole.DISPATCHER).user
    street = Region.objects.filter(parent=second.region).order_by("pk").first()
    finished_lead = WorkOrder.objects.filter(
        case=OuterRef("pk"), parent__isnull=True, role=Role.LEAD, status__in=[WorkOrderStatus.COMPLETED, WorkOrderStatus.ACCEPTED]
    )
    in_first = Case.objects.filter(region__path__startswith=first.region.path, accused_unit__isnull=True).order_by("pk")
    dispatched = (
        in_first.filter(status__in=[CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS]).exclude(registering_unit=first).exclude(Exists(finished_lead)).first()
    )
    assert dispatched is not None
    registered = services.register_case(
        by=sender,
        unit=first,
        request_type=RequestType.HELP,
        category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
        summary="来访：工资被拖欠。",
        region=Region.objects.filter(parent=first.region).order_by("pk").first(),
        address="旧住址",
    )
    for case in (dispatched, registered):
        transfer = services.request_transfer(
            case=case, by=sender, from_unit=first, to_unit=second, reason="全家搬迁。", new_region=street, new_address="新住址"
        )
        services.decide_transfer(transfer=transfer, by=receiver, accept=True)
        case.refresh_from_db()
        assert case.region == street
    return Transferred(sender=sender, receiver=receiver, dispatched=dispatched, registered=registered)


def register_walk_in(role: StaffRole) -> Case:
    """A case registered now, waiting for dispatch: by a city operator, or by the last district's dispatcher."""
    kind = "federation-city" if role == StaffRole.INTAKE_OPERATOR else "federation-district"
    membership = Membership.objects.filter(unit__kind__code=kind, role=role).select_related("user", "unit__region").order_by("-unit__path").first()
    unit = membership.unit
    street = Region.objects.filter(path__startswith=unit.region.path, level="street").order_by("path").first()
    return services.register_case(
        by=membership.user,
        unit=unit,
        request_type=RequestType.CONSULTATION,
        category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
        summary="咨询：工资被拖欠。",
        region=street,
        address="某小区",
    )


def personas() -> list[Any]:
    """Every generated user, and the roles the generator does not make (some with memberships in two districts)."""
    district_federations = list(Unit.objects.filter(kind__code="federation-district").order_by("path"))
    city_federation = Unit.objects.filter(kind__code="federation-city").order_by("path").first()
    department = Unit.objects.filter(kind__code="human-resources").order_by("path").last()
    extra = {
        "system_admin": [(city_federation, StaffRole.SYSTEM_ADMIN)],
        "auditor": [(city_federation, StaffRole.AUDITOR)],
        "unit_admin": [(city_federation, StaffRole.UNIT_ADMIN)],
        "volunteer": [(district_federations[0], StaffRole.VOLUNTEER)],
        "return_visit_officer": [(city_federation, StaffRole.RETURN_VISIT_OFFICER)],
        "two_districts": [(district_federations[0], StaffRole.HANDLER), (district_federations[-1], StaffRole.DISPATCHER)],
        "department_and_federation": [(department, StaffRole.HANDLER), (district_federations[1], StaffRole.SUPERVISOR)],
    }
    for username, memberships in extra.items():
        user = UserFactory(username=username)
        for unit, role in memberships:
            Membership.objects.create(user=user, unit=unit, role=role)
    revoked = UserFactory(username="revoked")
    Membership.objects.create(user=revoked, unit=district_federations[0], role=StaffRole.DISPATCHER, revoked_at=timezone.now())
    return [*User.objects.order_by("pk"), AnonymousUser()]


@pytest.fixture
def generated(db):
    """300 cases over two cities, two of them transferred between sibling districts."""
    generate(cases=300, seed=5, shape=TWO_CITIES, years=1, until=UNTIL, chunk=100, progress=False)
    transferred = transfer_to_sibling_district()
    waiting = [register_walk_in(role) for role in (StaffRole.INTAKE_OPERATOR, StaffRole.DISPATCHER)]
    return {"transferred": transferred, "waiting": waiting, "personas": personas(), "cases": facts()}


def test_lists_exactly_the_cases_she_may_open(generated):
    cases, mismatches, decided = generated["cases"], {}, defaultdict(int)
    for user in generated["personas"]:
        rule = expected(user, cases)
        listed = set(Case.objects.listed_for(user).values_list("pk", flat=True))
        visible = set(Case.objects.visible_to(user).values_list("pk", flat=True))
        if not listed == visible == rule:
            mismatches[str(user)] = {"listed - rule": listed - rule, "rule - listed": rule - listed, "visible ^ rule": visible ^ rule}
        for case in cases:
            reached = ways(user, case)
            if len(reached) == 1:
                decided[next(iter(reached))] += 1
            if reached and accused(user, case):
                decided["accusation"] += 1
    assert mismatches == {}
    # Each way alone lets someone in, and an accusation keeps someone out, somewhere in the data.
    assert {REGION, WORK_ORDER, REGISTERING_UNIT, "accusation"} <= {way for way, count in decided.items() if count}, decided


def test_a_transferred_case_stays_with_the_sending_district_through_its_work_orders_or_its_registration(generated):
    transferred, by_pk = generated["transferred"], {case.pk: case for case in generated["cases"]}
    assert ways(transferred.sender, by_pk[transferred.dispatched.pk]) == {WORK_ORDER}
    assert ways(transferred.sender, by_pk[transferred.registered.pk]) == {REGISTERING_UNIT}
    for case in (transferred.dispatched, transferred.registered):
        assert REGION in ways(transferred.receiver, by_pk[case.pk])
        for user in (transferred.sender, transferred.receiver):
            assert Case.objects.listed_for(user).filter(pk=case.pk).exists()
            assert list(selectors.search_cases(by=user, filters=selectors.CaseSearch(number=case.number))) == [case]


def test_the_search_and_the_dispatch_queue_find_what_they_found_before(generated):
    employment = Category.objects.get(code="employment", valid_until__isnull=True)
    searches = [
        selectors.CaseSearch(status=CaseStatus.CLOSED),
        selectors.CaseSearch(category=employment),
        selectors.CaseSearch(created_from=datetime.date(2025, 9, 1), created_to=datetime.date(2025, 12, 31)),
        selectors.CaseSearch(number=generated["transferred"].dispatched.number),
        selectors.CaseSearch(name="王"),
    ]
    petitioner = Case.objects.filter(petitioner__phones__isnull=False).order_by("pk").first().petitioner
    searches.append(selectors.CaseSearch(phone=petitioner.phones.first().phone))
    city = Unit.objects.filter(kind__code="federation-city").order_by("path").first()
    searches.append(selectors.CaseSearch(region_path=city.region.path))
    checked = queued = 0
    for user in generated["personas"]:
        visible = Case.objects.visible_to(user)
        for filters in searches:
            found = list(selectors.search_cases(by=user, filters=filters))
            old = visible
            if filters.status:
                old = old.filter(status=filters.status)
            if filters.category:
                old = old.filter(category__in=[filters.category, *filters.category.children.all()])
            if filters.created_from:
                old = old.filter(created_at__date__gte=filters.created_from, created_at__date__lte=filters.created_to)
            if filters.number:
                old = old.filter(number=filters.number)
            if filters.region_path:
                old = old.filter(region__path__startswith=filters.region_path)
            if filters.name:
                named = CaseParty.objects.filter(case=OuterRef("pk"), person__name__startswith=filters.name, confidential=False).exclude(
                    role=PartyRole.RESPONDENT
                )
                old = old.filter(Q(petitioner__name__startswith=filters.name) | Exists(named))
            if filters.phone:
                people = PersonPhone.objects.filter(
                    phone_index__in=PersonPhone.phone_index.field.candidates(normalise_phone(filters.phone)), respondent_flag=False
                )
                people_ids = people.values("person_id")
                old = old.filter(Q(petitioner_id__in=people_ids) | Exists(CaseParty.objects.filter(case=OuterRef("pk"), person_id__in=people_ids)))
            assert found == list(old.order_by("-created_at", "-id")), (str(user), filters)
            checked += bool(found)
        units = access.units_with_capability(user, Capability.DISPATCH_CASES)
        area = access.path_prefix_q("region__path", {unit.region.path for unit in units})
        waiting = visible.filter(status=CaseStatus.REGISTERED).filter(area | Q(registering_unit__in=units)) if units else Case.objects.none()
        queue = list(selectors.dispatch_queue(by=user).order_by("created_at", "id"))
        assert queue == list(waiting.order_by("created_at", "id")), str(user)
        queued += bool(queue)
    assert checked > 20
    # Both waiting cases, each in the queues of her district's and her city's dispatchers (and of the province's).
    assert queued >= 4


def test_the_open_work_she_supervises_is_read_the_same_both_ways(generated):
    """``supervised_open_work_orders`` (UNION of index-backed id queries, for the board) == ``supervised_work_orders`` in those statuses."""
    from rightscare.supervision.chasing import CHASEABLE_STATUSES
    from rightscare.supervision.services import supervised_open_work_orders, supervised_work_orders

    mismatches, reached = {}, 0
    for user in generated["personas"]:
        union = set(supervised_open_work_orders(user, CHASEABLE_STATUSES).values_list("pk", flat=True))
        plain = set(supervised_work_orders(user).filter(status__in=CHASEABLE_STATUSES).values_list("pk", flat=True))
        if union != plain:
            mismatches[str(user)] = {"union - plain": union - plain, "plain - union": plain - union}
        reached += bool(union)
    assert mismatches == {}
    # Supervisors of both kinds exist in the data and see open work: the comparison is not of empty sets.
    assert reached >= 2


def test_listed_ids_are_the_ids_of_listed_for(generated):
    """``listed_ids`` (the UNION read as it is, accusations taken out in Python) names exactly the cases of ``listed_for``."""
    accusations = 0
    for user in generated["personas"]:
        ids = Case.objects.listed_ids(user)
        assert len(ids) == len(set(ids))
        assert set(ids) == set(Case.objects.listed_for(user).values_list("pk", flat=True))
        accusations += sum(1 for case in generated["cases"] if accused(user, case) and ways(user, case))
    assert accusations  # somewhere a case is reached and accuses her unit: taken out
