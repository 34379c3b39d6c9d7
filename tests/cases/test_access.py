"""Who sees which case, at the level of services and selectors (pages and API are tested with them).

Personas come from the demo organisation: the unit that owns a case, a unit that is
sent work on it, and outsiders (the sibling district's dispatcher and handlers, a
department nobody sent anything). Every selector that lists cases is asked: the
scoped queryset, the case search, the caller-history pop-up and the duplicate check.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from rightscare.cases import selectors, services
from rightscare.cases.demo import _play_cai
from rightscare.cases.models import Case, CaseEvent, Category, PartyRole, RequestType, Transfer, WorkOrder
from rightscare.core.identity import build_id_number
from rightscare.intake.models import Channel
from rightscare.intake.services import record_contact
from rightscare.org.models import Region, Unit
from rightscare.registry.models import Person, Sex
from rightscare.registry.services import record_person
from tests.cases import invariants
from tests.cases.test_state_machine import snapshot
from tests.cases.test_zhao_case import unit_of

PETITIONER_PHONE = "138 0013 8101"
RESPONDENT_PHONE = "138 0013 8102"
OTHER_PHONE = "138 0013 8103"

#: Outside the Pingshan case: the sibling districts' dispatchers and handlers, and departments nobody sent it to.
OUTSIDERS = ("longhua.dispatcher", "longhua.police", "guangming.dispatcher", "guangming.police", "guangming.civil")


def category(code: str) -> Category:
    return Category.objects.get(code=code, valid_until__isnull=True)


def visible(user: Any) -> list[str]:
    return sorted(Case.objects.visible_to(user).values_list("number", flat=True))


@pytest.fixture
def pingshan_case(demo_org):
    """A labour case registered by the Pingshan dispatcher for Ms Wu, with a contact from her phone."""
    dispatcher = demo_org["pingshan.dispatcher"]
    unit = unit_of(dispatcher)
    wu = record_person(by=dispatcher, unit=unit, name="吴女士", sex=Sex.FEMALE, approximate_age=30, phones=[(PETITIONER_PHONE, False)])
    case = services.register_case(
        by=dispatcher,
        unit=unit,
        request_type=RequestType.HELP,
        category=category("wage-arrears"),
        summary="工厂拖欠三个月工资。",
        region=Region.objects.get(name="坪山街道"),
        address="坪山街道某工业园",
        petitioner=wu,
    )
    record_contact(by=dispatcher, unit=unit, channel=Channel.HOTLINE, caller=wu, caller_phone=PETITIONER_PHONE, content="来电。", case=case)
    return case


def forward_to_departments(demo_org: dict[str, Any], case: Case) -> list[WorkOrder]:
    """The Pingshan federation leads and forwards the case to the HR bureau (lead) and the labour team."""
    dispatcher = demo_org["pingshan.dispatcher"]
    unit = unit_of(dispatcher)
    [order] = services.dispatch_case(case=case, by=dispatcher, dispatching_unit=unit, lead=unit)
    order = services.sign_for_work_order(work_order=order, by=dispatcher)
    suggestion = services.suggest_dispatch(dispatching_unit=unit, category=case.category, region=case.region)
    return services.forward_work_order(work_order=order, by=dispatcher, lead=suggestion.lead, cohandlers=suggestion.cohandlers)


# --- sibling districts ------------------------------------------------------------------------


def test_the_owning_district_finds_its_case_everywhere(demo_org, pingshan_case):
    owner = demo_org["pingshan.dispatcher"]
    wu = pingshan_case.petitioner
    assert visible(owner) == [pingshan_case.number]
    assert list(selectors.search_cases(by=owner, filters=selectors.CaseSearch(number=pingshan_case.number))) == [pingshan_case]
    assert list(selectors.search_cases(by=owner, filters=selectors.CaseSearch(phone=PETITIONER_PHONE))) == [pingshan_case]
    assert list(selectors.search_cases(by=owner, filters=selectors.CaseSearch(name="吴女"))) == [pingshan_case]
    history = selectors.caller_history(by=owner, phone=PETITIONER_PHONE)
    assert (history.phone_known, history.cases, [c.case_id for c in history.contacts]) == (True, [pingshan_case], [pingshan_case.pk])
    assert selectors.possible_duplicates(by=owner, category=category("wage-arrears"), person=wu) == [pingshan_case]
    assert selectors.possible_duplicates(by=owner, phone=PETITIONER_PHONE) == [pingshan_case]
    # The city federation above it sees it too.
    assert visible(demo_org["city.dispatcher"]) == [pingshan_case.number]


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_sibling_districts_see_nothing(demo_org, pingshan_case, outsider):
    user = demo_org[outsider]
    wu = pingshan_case.petitioner
    assert visible(user) == []
    assert not WorkOrder.objects.visible_to(user).exists()
    for filters in (
        selectors.CaseSearch(number=pingshan_case.number),
        selectors.CaseSearch(phone=PETITIONER_PHONE),
        selectors.CaseSearch(name="吴女士"),
        selectors.CaseSearch(category=category("employment")),
        selectors.CaseSearch(region_path=pingshan_case.region.path),
    ):
        assert list(selectors.search_cases(by=user, filters=filters)) == [], filters
    assert selectors.caller_history(by=user, phone=PETITIONER_PHONE) == selectors.CallerHistory(phone_known=False, cases=[], contacts=[])
    assert selectors.possible_duplicates(by=user, category=category("wage-arrears"), person=wu) == []
    assert selectors.possible_duplicates(by=user, phone=PETITIONER_PHONE) == []
    assert list(selectors.unit_inbox(by=user)) == []


def test_sibling_districts_still_see_nothing_once_it_is_handled(demo_org, pingshan_case):
    forward_to_departments(demo_org, pingshan_case)
    for outsider in OUTSIDERS:
        assert visible(demo_org[outsider]) == [], outsider
        assert list(selectors.unit_inbox(by=demo_org[outsider])) == [], outsider


# --- departments --------------------------------------------------------------------------------


@pytest.fixture
def second_case(demo_org):
    """Another Pingshan labour case, never sent to the departments."""
    dispatcher = demo_org["pingshan.dispatcher"]
    return services.register_case(
        by=dispatcher,
        unit=unit_of(dispatcher),
        request_type=RequestType.HELP,
        category=category("unlawful-dismissal"),
        summary="孕期被辞退。",
        region=Region.objects.get(name="坪山区"),
    )


def test_a_department_sees_nothing_until_sent_a_work_order(demo_org, pingshan_case, second_case):
    hr, labour = demo_org["pingshan.hr"], demo_org["pingshan.labour"]
    assert (visible(hr), visible(labour)) == ([], [])
    assert list(selectors.search_cases(by=hr, filters=selectors.CaseSearch(phone=PETITIONER_PHONE))) == []
    assert selectors.caller_history(by=hr, phone=PETITIONER_PHONE).cases == []

    children = forward_to_departments(demo_org, pingshan_case)

    # Exactly the case sent, not the other case of the same district.
    assert (visible(hr), visible(labour)) == ([pingshan_case.number], [pingshan_case.number])
    assert [o.pk for o in selectors.unit_inbox(by=hr)] == [o.pk for o in children if o.unit.kind.code == "human-resources"]
    assert [o.pk for o in selectors.unit_inbox(by=labour)] == [o.pk for o in children if o.unit.kind.code == "labour-inspection"]
    assert list(selectors.search_cases(by=hr, filters=selectors.CaseSearch())) == [pingshan_case]
    assert list(selectors.search_cases(by=hr, filters=selectors.CaseSearch(phone=PETITIONER_PHONE))) == [pingshan_case]
    assert selectors.caller_history(by=hr, phone=PETITIONER_PHONE).cases == [pingshan_case]
    assert selectors.possible_duplicates(by=hr, phone=PETITIONER_PHONE) == [pingshan_case]
    # The department of another district still sees nothing.
    assert visible(demo_org["guangming.civil"]) == []


# --- accusations --------------------------------------------------------------------------------


@pytest.fixture
def accusation(demo_org):
    """An accusation against the Pingshan HR bureau, registered by the Pingshan federation."""
    dispatcher = demo_org["pingshan.dispatcher"]
    return services.register_case(
        by=dispatcher,
        unit=unit_of(dispatcher),
        request_type=RequestType.ACCUSATION,
        category=category("hiring-discrimination"),
        summary="人力资源局工作人员在招聘中歧视女性。",
        region=Region.objects.get(name="坪山街道"),
        accused_unit=Unit.objects.get(name="深圳市坪山区人力资源局"),
    )


def test_the_accused_unit_is_never_suggested(demo_org, accusation):
    accused = accusation.accused_unit
    district = unit_of(demo_org["pingshan.dispatcher"])
    without = services.suggest_dispatch(dispatching_unit=district, category=accusation.category, region=accusation.region)
    assert without.lead == accused  # the rule names it for any other labour case …
    suggestion = services.suggest_dispatch(dispatching_unit=district, category=accusation.category, region=accusation.region, accused_unit=accused)
    assert suggestion.lead is None  # … but not for the accusation against it
    assert [u.name for u in suggestion.cohandlers] == ["坪山街道劳动监察中队"]


def test_the_accused_unit_cannot_be_dispatched_to(demo_org, accusation):
    dispatcher = demo_org["pingshan.dispatcher"]
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        services.dispatch_case(case=accusation, by=dispatcher, dispatching_unit=unit_of(dispatcher), lead=accusation.accused_unit)
    assert "lead" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.dispatch_case(
            case=accusation, by=dispatcher, dispatching_unit=unit_of(dispatcher), lead=unit_of(dispatcher), cohandlers=[accusation.accused_unit]
        )
    assert snapshot() == before


def test_the_accused_unit_cannot_be_forwarded_to(demo_org, accusation):
    dispatcher = demo_org["pingshan.dispatcher"]
    [order] = services.dispatch_case(case=accusation, by=dispatcher, dispatching_unit=unit_of(dispatcher), lead=unit_of(dispatcher))
    order = services.sign_for_work_order(work_order=order, by=dispatcher)
    before = snapshot()
    with pytest.raises(ValidationError):
        services.forward_work_order(work_order=order, by=dispatcher, lead=accusation.accused_unit)
    assert snapshot() == before


def test_the_accused_unit_never_sees_the_case(demo_org, accusation):
    hr = demo_org["pingshan.hr"]
    dispatcher = demo_org["pingshan.dispatcher"]
    [order] = services.dispatch_case(case=accusation, by=dispatcher, dispatching_unit=unit_of(dispatcher), lead=unit_of(dispatcher), legal_basis="statutory")
    services.sign_for_work_order(work_order=order, by=dispatcher)
    services.forward_work_order(work_order=order, by=dispatcher, lead=Unit.objects.get(name="坪山街道劳动监察中队"))
    assert visible(hr) == []
    assert list(selectors.search_cases(by=hr, filters=selectors.CaseSearch(number=accusation.number))) == []
    assert list(selectors.unit_inbox(by=hr)) == []
    # The labour team under the HR bureau works on it; the federation and the city see it.
    assert visible(demo_org["pingshan.labour"]) == [accusation.number]
    assert visible(dispatcher) == visible(demo_org["city.dispatcher"]) == [accusation.number]


def test_an_accusation_is_never_transferred_to_the_accused_unit(demo_org):
    longhua = demo_org["longhua.dispatcher"]
    case = services.register_case(
        by=longhua,
        unit=unit_of(longhua),
        request_type=RequestType.ACCUSATION,
        category=category("hiring-discrimination"),
        summary="光明区妇联工作人员泄露求助者信息。",
        region=Region.objects.get(name="龙华街道"),
        accused_unit=unit_of(demo_org["guangming.dispatcher"]),
    )
    services.dispatch_case(case=case, by=longhua, dispatching_unit=unit_of(longhua), lead=unit_of(longhua))
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        services.request_transfer(case=case, by=longhua, from_unit=unit_of(longhua), to_unit=case.accused_unit, reason="她搬去光明区。")
    assert "to_unit" in refused.value.message_dict
    assert snapshot() == before
    assert visible(demo_org["guangming.dispatcher"]) == []


# --- the respondent's phone ----------------------------------------------------------------------


@pytest.fixture
def violence_case(demo_org):
    """A domestic-violence case in Longhua: Ms Liu petitions, her husband is the respondent and has called too."""
    longhua = demo_org["longhua.dispatcher"]
    unit = unit_of(longhua)
    husband = record_person(by=longhua, unit=unit, name="蔡某", sex=Sex.MALE, approximate_age=45, phones=[(RESPONDENT_PHONE, False)])
    liu = record_person(by=longhua, unit=unit, name="刘某某", sex=Sex.FEMALE, approximate_age=41, phones=[(PETITIONER_PHONE, True)])
    case = services.register_case(
        by=longhua,
        unit=unit,
        request_type=RequestType.HELP,
        category=category("dv-physical"),
        summary="丈夫长期殴打。",
        region=Region.objects.get(name="龙华街道"),
        petitioner=liu,
        parties=[services.PartyInput(role=PartyRole.RESPONDENT, person=husband)],
    )
    record_contact(by=longhua, unit=unit, channel=Channel.HOTLINE, caller=liu, caller_phone=PETITIONER_PHONE, content="求助。", case=case)
    # He called the hotline asking where she is; the operator attached the call to the case.
    record_contact(by=longhua, unit=unit, channel=Channel.HOTLINE, caller=husband, caller_phone=RESPONDENT_PHONE, content="打听妻子下落。", case=case)
    return case


def test_the_respondents_phone_shows_nothing_of_the_victims_cases(demo_org, violence_case):
    for name in ("longhua.dispatcher", "city.dispatcher", "hotline"):
        user = demo_org[name]
        history = selectors.caller_history(by=user, phone=RESPONDENT_PHONE)
        assert (history.cases, history.contacts) == ([], []), name
        assert list(selectors.search_cases(by=user, filters=selectors.CaseSearch(phone=RESPONDENT_PHONE))) == [], name
        assert selectors.possible_duplicates(by=user, phone=RESPONDENT_PHONE) == [], name


def test_the_victims_own_phone_shows_her_cases(demo_org, violence_case):
    history = selectors.caller_history(by=demo_org["longhua.dispatcher"], phone=PETITIONER_PHONE)
    assert history.phone_known
    assert history.cases == [violence_case]
    assert [contact.content for contact in history.contacts] == ["求助。"]


def test_the_respondents_own_cases_still_show(demo_org, violence_case):
    """Flagging his phone hides her cases, not the ones he brought himself."""
    longhua = demo_org["longhua.dispatcher"]
    husband = Person.objects.get(name="蔡某")
    own = services.register_case(
        by=longhua,
        unit=unit_of(longhua),
        request_type=RequestType.HELP,
        category=category("wage-arrears"),
        summary="他本人被拖欠工资。",
        region=Region.objects.get(name="龙华街道"),
        petitioner=husband,
    )
    assert selectors.caller_history(by=longhua, phone=RESPONDENT_PHONE).cases == [own]


# --- the Cai transfer ------------------------------------------------------------------------------


KINDS_WRITTEN_BY_LONGHUA = sorted(["registered", "contact", "dispatched", "signed_for", "signed_for", "first_contact", "first_contact", "transfer_requested"])


@pytest.fixture
def cai_case(demo_org):
    _play_cai({})
    return Case.objects.get(category__code="dv-with-children")


def test_after_the_transfer_longhua_keeps_the_case_and_its_own_events(demo_org, cai_case):
    longhua_units = {unit_of(demo_org["longhua.dispatcher"]).pk, unit_of(demo_org["longhua.police"]).pk}
    written = set(CaseEvent.objects.filter(case=cai_case, unit_id__in=longhua_units).values_list("pk", flat=True))
    assert sorted(CaseEvent.objects.filter(pk__in=written).values_list("kind", flat=True)) == KINDS_WRITTEN_BY_LONGHUA
    for name in ("longhua.dispatcher", "longhua.police"):
        user = demo_org[name]
        assert visible(user) == [cai_case.number], name
        shown = {event.pk for event in selectors.timeline(by=user, case=cai_case)}
        assert written <= shown, name
        # Their own work orders are handed over, not deleted.
        assert set(WorkOrder.objects.filter(case=cai_case, unit__in=longhua_units).values_list("status", flat=True)) == {"transferred"}


def test_after_the_transfer_only_the_handling_side_sees_the_new_address(demo_org, cai_case):
    assert cai_case.location_confidential
    assert cai_case.region.path.startswith(unit_of(demo_org["guangming.dispatcher"]).region.path)
    for name in ("longhua.dispatcher", "longhua.police"):
        assert services.location_visible_to(demo_org[name], cai_case) is False, name
    for name in ("guangming.dispatcher", "guangming.police", "guangming.civil"):
        assert services.location_visible_to(demo_org[name], cai_case) is True, name
    # A unit with no part in it sees neither the case nor, were it to, the address.
    assert visible(demo_org["pingshan.dispatcher"]) == []
    assert services.location_visible_to(demo_org["pingshan.dispatcher"], cai_case) is False
    assert Transfer.objects.get(case=cai_case).status == "accepted"
    assert invariants.problems() == []


# --- mandatory reporters and children ------------------------------------------------------------


def test_a_confidential_reporter_is_not_found_by_name(demo_org):
    longhua = demo_org["longhua.dispatcher"]
    unit = unit_of(longhua)
    teacher = record_person(by=longhua, unit=unit, name="钱老师", sex=Sex.FEMALE, approximate_age=38)
    child = record_person(by=longhua, unit=unit, name="孙小妹", sex=Sex.FEMALE, date_of_birth=datetime.date(2015, 3, 1))
    case = services.register_case(
        by=longhua,
        unit=unit,
        request_type=RequestType.HELP,
        category=category("child-physical-abuse"),
        summary="学校老师发现学生身上有伤（强制报告）。",
        region=Region.objects.get(name="龙华街道"),
        parties=[
            services.PartyInput(role=PartyRole.VICTIM, person=child),
            services.PartyInput(role=PartyRole.REPORTER, person=teacher, confidential=True),
        ],
    )
    for name in ("longhua.dispatcher", "city.dispatcher"):
        user = demo_org[name]
        assert list(selectors.search_cases(by=user, filters=selectors.CaseSearch(name="钱老师"))) == [], name
        assert list(selectors.search_cases(by=user, filters=selectors.CaseSearch(name="钱"))) == [], name
        assert list(selectors.search_cases(by=user, filters=selectors.CaseSearch(name="孙小妹"))) == [case], name


@pytest.fixture
def frozen_today():
    with time_machine.travel(datetime.datetime(2026, 4, 12, 10, 0, tzinfo=datetime.UTC), tick=False):
        yield timezone.localdate()


def test_contact_person_follows_the_age_of_fourteen(demo_org, frozen_today):
    longhua = demo_org["longhua.dispatcher"]
    unit = unit_of(longhua)
    mother = record_person(by=longhua, unit=unit, name="刘某某", sex=Sex.FEMALE, approximate_age=41)
    father = record_person(by=longhua, unit=unit, name="蔡某", sex=Sex.MALE, approximate_age=45)

    def child(born: datetime.date, guardian: Person, abuser: bool = False) -> Person:
        id_number = build_id_number(birth_place="440303", birth_date=born, sequence=2)
        return record_person(
            by=longhua, unit=unit, name="蔡某某", sex=Sex.FEMALE, date_of_birth=born, id_number=id_number, guardian=guardian, guardian_is_alleged_abuser=abuser
        )

    day_before_fourteen = frozen_today.replace(year=frozen_today.year - 14) + datetime.timedelta(days=1)
    fourteen_today = frozen_today.replace(year=frozen_today.year - 14)
    assert child(day_before_fourteen, mother).contact_person() == mother
    assert child(day_before_fourteen, father, abuser=True).contact_person() is None
    assert child(datetime.date(2020, 1, 1), father, abuser=True).contact_person() is None
    fourteen = child(fourteen_today, mother)
    assert fourteen.contact_person() == fourteen
    sixteen = child(datetime.date(2010, 5, 12), father, abuser=True)
    assert sixteen.contact_person() == sixteen
    assert mother.contact_person() == mother
