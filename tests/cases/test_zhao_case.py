"""Zhao's pregnancy-discrimination case, end to end through the services (PRODUCT.md case 1).

Hotline call at the city federation → dispatched down to the Pingshan district
federation on the responsibility list → forwarded to the district HR bureau (lead)
and the street labour-inspection team (co-handler) → both sign for, contact her,
complete (130,000 yuan) → reviewed up the chain → resolved and closed.
"""

from decimal import Decimal

import pytest

from rightscare.audit.models import AuditEntry
from rightscare.cases import services
from rightscare.cases.models import Case, CaseEvent, CaseStatus, Category, EventKind, PartyRole, RequestType, WorkOrder, WorkOrderStatus
from rightscare.org.models import Region, Unit
from rightscare.registry.models import Sex
from rightscare.registry.services import record_person


def unit_of(user) -> Unit:
    return Unit.objects.get(pk=user.memberships.get().unit_id)


@pytest.fixture
def zhao_case(demo_org):
    operator = demo_org["hotline"]
    zhao = record_person(by=operator, unit=unit_of(operator), name="赵女士", sex=Sex.FEMALE, approximate_age=33, phones=[("138 0013 8021", False)])
    street = Region.objects.get(name="坪山街道")
    return services.register_case(
        by=operator,
        unit=unit_of(operator),
        request_type=RequestType.HELP,
        category=Category.objects.get(code="pregnancy-discrimination", valid_until__isnull=True),
        summary="孕期被扣工资，哺乳期不续签合同。",
        region=street,
        petitioner=zhao,
        parties=[services.PartyInput(role=PartyRole.RESPONDENT, organisation_name="某电子科技有限公司")],
    )


def test_case_number_has_prefix_year_and_sequence(zhao_case):
    assert zhao_case.number.startswith("SZ-")
    assert zhao_case.number.endswith("-000001")
    assert zhao_case.status == CaseStatus.REGISTERED


def test_city_suggestion_is_pingshan_district_federation(demo_org, zhao_case):
    suggestion = services.suggest_dispatch(dispatching_unit=unit_of(demo_org["city.dispatcher"]), category=zhao_case.category, region=zhao_case.region)
    assert suggestion.lead is not None
    assert suggestion.lead.name == "坪山区妇女联合会" or suggestion.lead.region.name == "坪山区"
    assert suggestion.lead.kind.code == "federation-district"
    assert suggestion.cohandlers == []


def test_district_suggestion_is_hr_bureau_with_labour_inspection(demo_org, zhao_case):
    suggestion = services.suggest_dispatch(dispatching_unit=unit_of(demo_org["pingshan.dispatcher"]), category=zhao_case.category, region=zhao_case.region)
    assert suggestion.lead is not None and suggestion.lead.name == "深圳市坪山区人力资源局"
    assert [u.name for u in suggestion.cohandlers] == ["坪山街道劳动监察中队"]
    assert suggestion.time_class == "complex"


def test_played_to_the_end(demo_org, zhao_case):
    city, pingshan, hr, labour = (demo_org[n] for n in ("city.dispatcher", "pingshan.dispatcher", "pingshan.hr", "pingshan.labour"))
    city_unit = unit_of(city)
    first = services.suggest_dispatch(dispatching_unit=city_unit, category=zhao_case.category, region=zhao_case.region)
    [district_order] = services.dispatch_case(case=zhao_case, by=city, dispatching_unit=city_unit, lead=first.lead, cohandlers=first.cohandlers)
    assert Case.objects.get(pk=zhao_case.pk).status == CaseStatus.DISPATCHED

    district_order = services.sign_for_work_order(work_order=district_order, by=pingshan)
    assert Case.objects.get(pk=zhao_case.pk).status == CaseStatus.IN_PROGRESS
    second = services.suggest_dispatch(dispatching_unit=district_order.unit, category=zhao_case.category, region=zhao_case.region)
    children = services.forward_work_order(work_order=district_order, by=pingshan, lead=second.lead, cohandlers=second.cohandlers)
    assert sorted((c.unit.name, c.role) for c in children) == [("坪山街道劳动监察中队", "cohandler"), ("深圳市坪山区人力资源局", "lead")]
    district_order = services.record_first_contact(work_order=district_order, by=pingshan, note="电话联系赵女士。")

    for child in children:
        handler = hr if child.role == "lead" else labour
        child = services.sign_for_work_order(work_order=child, by=handler)
        child = services.record_first_contact(work_order=child, by=handler, note="约谈。")
        child = services.complete_work_order(work_order=child, by=handler, result="企业道歉并补偿。", amount_yuan=Decimal("130000") if handler is hr else None)
        services.review_work_order(work_order=child, by=pingshan, accept=True)

    district_order = services.complete_work_order(
        work_order=WorkOrder.objects.get(pk=district_order.pk), by=pingshan, result="已解决。", amount_yuan=Decimal("130000")
    )
    assert Case.objects.get(pk=zhao_case.pk).status == CaseStatus.IN_PROGRESS
    services.review_work_order(work_order=district_order, by=city, accept=True)
    case = Case.objects.get(pk=zhao_case.pk)
    assert case.status == CaseStatus.RESOLVED and case.resolved_at is not None
    services.close_case(case=case, by=city)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED

    hr_order = WorkOrder.objects.get(case=case, unit__name="深圳市坪山区人力资源局")
    assert (hr_order.status, hr_order.amount_yuan, hr_order.parent_id) == (WorkOrderStatus.ACCEPTED, Decimal("130000.00"), district_order.pk)
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds[0] == EventKind.REGISTERED and kinds[-1] == EventKind.CLOSED
    assert kinds.count(EventKind.SIGNED_FOR) == 3 and kinds.count(EventKind.ACCEPTED) == 3
    assert AuditEntry.objects.filter(object_type="cases.workorder", event="cases.sign_for_work_order").count() == 3


def test_department_sees_only_what_was_sent_to_it(demo_org, zhao_case):
    hr = demo_org["pingshan.hr"]
    assert not Case.objects.visible_to(hr).filter(pk=zhao_case.pk).exists()
    city = demo_org["city.dispatcher"]
    first = services.suggest_dispatch(dispatching_unit=unit_of(city), category=zhao_case.category, region=zhao_case.region)
    [order] = services.dispatch_case(case=zhao_case, by=city, dispatching_unit=unit_of(city), lead=first.lead)
    pingshan = demo_org["pingshan.dispatcher"]
    services.sign_for_work_order(work_order=order, by=pingshan)
    second = services.suggest_dispatch(dispatching_unit=order.unit, category=zhao_case.category, region=zhao_case.region)
    services.forward_work_order(work_order=order, by=pingshan, lead=second.lead, cohandlers=second.cohandlers)
    assert Case.objects.visible_to(hr).filter(pk=zhao_case.pk).exists()
    assert not Case.objects.visible_to(demo_org["guangming.police"]).filter(pk=zhao_case.pk).exists()
    assert not Case.objects.visible_to(demo_org["guangming.dispatcher"]).filter(pk=zhao_case.pk).exists()
