"""Demo data of the cases app: the responsibility list and the two cases of the seed article.

Zhao's pregnancy-discrimination case (Pingshan) is played through to its close; the
Cai family's domestic-violence case (Longhua → Guangming) up to the joint handling
in Guangming with the new address kept confidential. Both go through the same
services as the pages, so the demo is what a user would have produced.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from rightscare.cases import services
from rightscare.cases.models import Category, LegalBasis, PartyRole, RequestType, ResponsibilityRule, TimeClass, Urgency, Visibility, WorkOrder
from rightscare.intake.models import Channel
from rightscare.intake.services import record_contact
from rightscare.org.divisions import RegionLevel
from rightscare.org.models import Region, Unit, UnitKind, User
from rightscare.registry.models import Sex
from rightscare.registry.services import SafeContactInput, record_person

#: (dispatching level, category code, lead kind, co-handler kinds, time class) — the seed's responsibility list.
RULES: list[tuple[str, str, str, list[str], str]] = [
    (RegionLevel.CITY, "employment", "federation-district", [], TimeClass.STANDARD),
    (RegionLevel.CITY, "domestic-violence", "federation-district", [], TimeClass.STANDARD),
    (RegionLevel.CITY, "child-abuse-neglect", "federation-district", [], TimeClass.STANDARD),
    (RegionLevel.CITY, "marriage-family", "federation-district", [], TimeClass.STANDARD),
    (RegionLevel.DISTRICT, "employment", "human-resources", ["labour-inspection"], TimeClass.COMPLEX),
    (RegionLevel.DISTRICT, "domestic-violence", "federation-district", ["public-security"], TimeClass.STANDARD),
    (RegionLevel.DISTRICT, "dv-with-children", "federation-district", ["public-security", "civil-affairs"], TimeClass.COMPLEX),
    (RegionLevel.DISTRICT, "child-abuse-neglect", "federation-district", ["public-security", "civil-affairs", "education"], TimeClass.COMPLEX),
]


def load_rules() -> int:
    """Create the demo responsibility list (unit kinds that do not exist are skipped)."""
    kinds = {kind.code: kind for kind in UnitKind.objects.all()}
    created = 0
    for level, category_code, lead, cohandlers, time_class in RULES:
        category = Category.objects.get(code=category_code, valid_until__isnull=True)
        if lead not in kinds:
            continue
        rule = ResponsibilityRule.objects.create(dispatch_level=level, category=category, lead_kind=kinds[lead], time_class=time_class)
        rule.cohandler_kinds.set([kinds[code] for code in cohandlers if code in kinds])
        created += 1
    return created


def _user(username: str) -> User:
    return User.objects.get(username=username)


def _region(path_names: list[str]) -> Region:
    region = None
    for name in path_names:
        region = Region.objects.get(name=name, parent=region)
    assert region is not None
    return region


def _play_zhao(units: dict[str, Unit]) -> None:
    operator, city, pingshan = _user("hotline"), _user("city.dispatcher"), _user("pingshan.dispatcher")
    hr, labour = _user("pingshan.hr"), _user("pingshan.labour")
    city_unit = Unit.objects.get(pk=operator.memberships.get().unit_id)
    street = _region(["广东省", "深圳市", "坪山区", "坪山街道"])
    zhao = record_person(
        by=operator,
        unit=city_unit,
        name="赵女士",
        sex=Sex.FEMALE,
        approximate_age=33,
        phones=[("13800138021", False)],
        safe_contact=SafeContactInput(may_call=True, may_text=True),
    )
    case = services.register_case(
        by=operator,
        unit=city_unit,
        request_type=RequestType.HELP,
        category=Category.objects.get(code="pregnancy-discrimination", valid_until__isnull=True),
        summary="在公司工作六年，怀孕期间被扣工资、安排出差；哺乳期公司拒绝续签劳动合同。",
        region=street,
        address="坪山街道某工业园",
        petitioner=zhao,
        parties=[services.PartyInput(role=PartyRole.RESPONDENT, organisation_name="深圳某电子科技有限公司")],
    )
    record_contact(
        by=operator,
        unit=city_unit,
        channel=Channel.HOTLINE,
        caller=zhao,
        caller_phone="13800138021",
        content="来电反映孕期被扣工资、哺乳期不续签合同。志愿律师当即解答了相关法律问题。",
        case=case,
    )
    suggestion = services.suggest_dispatch(dispatching_unit=city_unit, category=case.category, region=case.region)
    assert suggestion.lead is not None
    [district_order] = services.dispatch_case(case=case, by=city, dispatching_unit=city_unit, lead=suggestion.lead, cohandlers=suggestion.cohandlers)
    services.sign_for_work_order(work_order=district_order, by=pingshan)
    forwarded = services.suggest_dispatch(dispatching_unit=district_order.unit, category=case.category, region=case.region)
    assert forwarded.lead is not None
    children = services.forward_work_order(
        work_order=district_order, by=pingshan, lead=forwarded.lead, cohandlers=forwarded.cohandlers, instructions="请人社局牵头，街道劳动监察中队协办。"
    )
    district_order = services.record_first_contact(work_order=district_order, by=pingshan, note="电话联系赵女士，说明区妇联将会同人社部门处理。")
    for child in children:
        handler = hr if child.unit.kind.code == "human-resources" else labour
        child = services.sign_for_work_order(work_order=child, by=handler)
        child = services.record_first_contact(work_order=child, by=handler, note="约谈赵女士了解情况。")
        services.add_progress_note(
            work_order=child, by=handler, text="组织企业、赵女士三方协商。", visibility=Visibility.PUBLIC, public_text="承办单位已组织协商。"
        )
        amount = Decimal("130000.00") if handler is hr else None
        result = "企业向赵女士道歉，补发工资并支付补偿金13万元。" if handler is hr else "已对企业开展劳动监察并责令整改。"
        child = services.complete_work_order(work_order=child, by=handler, result=result, outcome_codes=["mediated"], amount_yuan=amount)
        services.review_work_order(work_order=child, by=pingshan, accept=True)
    district_order = services.complete_work_order(
        work_order=WorkOrder.objects.get(pk=district_order.pk),
        by=pingshan,
        result="经多次协商，企业道歉并补发工资、支付补偿金13万元。",
        amount_yuan=Decimal("130000.00"),
    )
    services.review_work_order(work_order=district_order, by=city, accept=True)
    case.refresh_from_db()
    _rate_by_phone(
        case, officer="city.returnvisit", note="回访赵女士：对处理结果满意。", solved="yes", speed=5, quality=5, comment="感谢妇联和人社局帮我维权。"
    )
    services.close_case(case=case, by=city, note="诉求已解决。")


def _rate_by_phone(case: Any, *, officer: str, note: str, solved: str, speed: int, quality: int, comment: str) -> None:
    """The city's return-visit officer (not a handling unit) calls the petitioner and takes her rating."""
    from rightscare.ratings import services as ratings

    round_ = ratings.open_round(case)
    assert round_ is not None, case
    rating = ratings.RatingInput(solved=solved, speed=speed, quality=quality, comment=comment)
    ratings.record_return_visit(round_=round_, by=_user(officer), reached=True, note=note, rating=rating)


def _play_cai(units: dict[str, Unit]) -> None:
    longhua, guangming = _user("longhua.dispatcher"), _user("guangming.dispatcher")
    police, g_police, g_civil = _user("longhua.police"), _user("guangming.police"), _user("guangming.civil")
    longhua_unit = Unit.objects.get(pk=longhua.memberships.get().unit_id)
    guangming_unit = Unit.objects.get(pk=guangming.memberships.get().unit_id)
    hospital = Unit.objects.filter(kind__code="hospital").first()
    longhua_region = longhua_unit.region
    father = record_person(by=longhua, unit=longhua_unit, name="蔡某", sex=Sex.MALE, approximate_age=45, phones=[("13800138031", False)])
    mother = record_person(
        by=longhua,
        unit=longhua_unit,
        name="刘某某",
        sex=Sex.FEMALE,
        approximate_age=41,
        phones=[("13800138032", True)],
        safe_contact=SafeContactInput(may_call=True, may_text=False, safe_from=datetime.time(9, 0), safe_until=datetime.time(17, 0), neutral_sender="社区服务"),
    )
    daughter = record_person(by=longhua, unit=longhua_unit, name="蔡某某", sex=Sex.FEMALE, date_of_birth=datetime.date(2010, 5, 12), guardian=mother)
    case = services.register_case(
        by=longhua,
        unit=longhua_unit,
        request_type=RequestType.HELP,
        category=Category.objects.get(code="dv-with-children", valid_until__isnull=True),
        urgency=Urgency.URGENT,
        summary="医院发现16岁女孩多处伤情并报警（强制报告）。父亲长期殴打妻子和四个女儿。龙华公安分局通过系统联系区妇联。",
        region=longhua_region,
        address="龙华区某小区",
        petitioner=mother,
        parties=[
            services.PartyInput(role=PartyRole.VICTIM, person=daughter),
            services.PartyInput(role=PartyRole.RESPONDENT, person=father),
            services.PartyInput(role=PartyRole.REPORTER, organisation_name=hospital.name if hospital else "医院", confidential=True),
        ],
        reporting_institution=hospital,
        police_notified=True,
        police_incident_number="LH-2026-0412-017",
    )
    record_contact(by=longhua, unit=longhua_unit, channel=Channel.REFERRAL, content="龙华公安分局转来医院强制报告。", case=case)
    suggestion = services.suggest_dispatch(dispatching_unit=longhua_unit, category=case.category, region=case.region)
    assert suggestion.lead is not None
    orders = services.dispatch_case(
        case=case, by=longhua, dispatching_unit=longhua_unit, lead=suggestion.lead, cohandlers=suggestion.cohandlers, legal_basis=LegalBasis.STATUTORY_DUTY
    )
    for order in orders:
        actor = police if order.unit.kind.code == "public-security" else longhua
        order = services.sign_for_work_order(work_order=order, by=actor)
        services.record_first_contact(work_order=order, by=actor, note="与刘某某面谈，开展调解与安全评估。")
    new_region = Region.objects.filter(parent=guangming_unit.region).order_by("code").first() or guangming_unit.region
    transfer = services.request_transfer(
        case=case,
        by=longhua,
        from_unit=longhua_unit,
        to_unit=guangming_unit,
        reason="调解后母亲带五个孩子搬到光明区居住。",
        new_region=new_region,
        new_address="光明区某街道某小区（保密）",
    )
    services.decide_transfer(transfer=transfer, by=guangming, accept=True, note="光明区妇联接手统筹。")
    lead = WorkOrder.objects.get(case=case, unit=guangming_unit, status="signed")
    cohandlers = [
        u for u in (Unit.objects.filter(pk=g_police.memberships.get().unit_id).first(), Unit.objects.filter(pk=g_civil.memberships.get().unit_id).first()) if u
    ]
    children = services.forward_work_order(work_order=lead, by=guangming, lead=None, cohandlers=cohandlers, instructions="公安：新住址保密；民政：临时救助。")
    services.record_first_contact(work_order=lead, by=guangming, note="为刘某某提供法律咨询，协助申请家暴救助金。")
    for child in children:
        actor = g_police if child.unit.kind.code == "public-security" else g_civil
        child = services.sign_for_work_order(work_order=child, by=actor)
        services.record_first_contact(work_order=child, by=actor, note="已与刘某某联系。")


def load(*, admin: Any, units: dict[str, Unit]) -> None:
    """Demo loader hook (see ``rightscare.org.demo.DEMO_EXTENSIONS``)."""
    load_rules()
    _play_zhao(units)
    _play_cai(units)
