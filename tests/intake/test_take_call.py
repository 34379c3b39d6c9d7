"""The hotline screen: a call saved as people + case + contact in one save, dispatched at once,
answered on the spot, handed to 110/120, or added to the case it duplicates."""

from __future__ import annotations

import datetime
import html
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from rightscare.cases.models import (
    Case,
    CaseEvent,
    CaseParty,
    CaseStatus,
    Category,
    DutyShift,
    EmergencyHandoff,
    EventKind,
    LegalBasis,
    PartyRole,
    WorkOrder,
)
from rightscare.core.identity import build_id_number
from rightscare.intake.models import Channel, Contact, Outcome
from rightscare.registry.models import Person, PersonPhone, SafeContact
from tests.intake.conftest import SHANGHAI, SUNDAY_EVENING, WORKING_MORNING, call_data, category, counts, field_errors, region, unit_named, unit_of

PINGSHAN_FEDERATION = "坪山区妇联"
PINGSHAN_HR = "深圳市坪山区人力资源局"
PINGSHAN_LABOUR = "坪山街道劳动监察中队"
CITY_FEDERATION = "深圳市妇联"


def shown(unit_name: str) -> str:
    """How a unit's name appears on an English page (its English name, HTML-escaped)."""
    return html.escape(unit_named(unit_name).display_name)


def save(client, **overrides):
    return client.post(reverse("intake"), call_data(**overrides))


def the_case() -> Case:
    return Case.objects.select_related("category", "region", "petitioner", "registering_unit").get()


# --- the screen -----------------------------------------------------------------------------------


def test_screen_is_built_for_the_keyboard(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    response = client.get(reverse("intake"))
    page = response.content.decode()
    assert response.status_code == 200
    phone = re.search(r"<input[^>]*name=\"caller_phone\"[^>]*>", page).group(0)
    assert "autofocus" in phone and 'type="tel"' in phone and 'accesskey="p"' in phone
    # The save button comes first of the form's buttons: Enter in any one-line field saves.
    buttons = re.findall(r"<button type=\"submit\"[^>]*>", page.split('id="intake-form"')[1])
    assert 'value="save"' in buttons[0] and 'accesskey="s"' in buttons[0]
    # Hotline 12338 and "request for help" are preselected; the pure operator has no "dispatch now".
    assert re.search(r'<option value="hotline" selected>', page)
    assert re.search(r'<option value="help" selected>', page)
    assert 'name="dispatch_now"' not in page
    assert 'src="/static/js/intake.js"' in page


def test_categories_are_grouped_by_parent_and_flag_sensitive_ones(demo_org, as_user):
    page = as_user(demo_org["hotline"]).get(reverse("intake")).content.decode()
    select = re.search(r'<select name="category".*?</select>', page, re.S).group(0)
    assert '<optgroup label="Employment and labour rights">' in select or '<optgroup label="就业与劳动权益">' in select
    labour = re.search(r'<optgroup label="(?:Employment and labour rights|就业与劳动权益)">(.*?)</optgroup>', select, re.S).group(1)
    assert f'value="{category("pregnancy-discrimination").pk}"' in labour
    assert f'value="{category("employment").pk}"' not in select  # a first-level category is a group, not a choice
    dv = re.search(rf'<option value="{category("dv-physical").pk}"[^>]*>', select).group(0)
    assert 'data-sensitive="true"' in dv and "data-child-protection" not in dv
    child = re.search(rf'<option value="{category("child-neglect").pk}"[^>]*>', select).group(0)
    assert 'data-sensitive="true"' in child and 'data-child-protection="true"' in child


def test_regions_are_the_operators_streets_and_communities(demo_org, as_user):
    pingshan = as_user(demo_org["pingshan.dispatcher"]).get(reverse("intake")).content.decode()
    select = re.search(r'<select name="region".*?</select>', pingshan, re.S).group(0)
    assert f'value="{region("坪山街道").pk}"' in select
    assert f'value="{region("六和社区").pk}"' in select
    assert f'value="{region("龙华区").pk}"' not in select
    assert f'value="{region("深圳市").pk}"' not in select  # above her area
    city = as_user(demo_org["hotline"]).get(reverse("intake")).content.decode()
    select = re.search(r'<select name="region".*?</select>', city, re.S).group(0)
    assert f'value="{region("坪山街道").pk}"' in select and f'value="{region("龙华区").pk}"' in select


def test_who_may_use_the_screen(demo_org, as_user):
    for username, status in (
        ("hotline", 200),
        ("city.dispatcher", 200),
        ("pingshan.dispatcher", 200),
        ("city.supervisor", 403),
        ("pingshan.hr", 403),
        ("liuhe.worker", 403),
    ):
        client = as_user(demo_org[username])
        assert client.get(reverse("intake")).status_code == status, username
        assert client.post(reverse("intake_caller_history"), {"caller_phone": "13800138021"}).status_code == status, username
        assert client.post(reverse("intake_checks"), {}).status_code == status, username
    client = as_user(demo_org["city.supervisor"])
    before = counts()
    assert client.post(reverse("intake"), call_data()).status_code == 403
    assert counts() == before


# --- saving a call --------------------------------------------------------------------------------


def test_a_new_callers_call_is_recorded_exactly(demo_org, as_user):
    operator = demo_org["hotline"]
    client = as_user(operator)
    before = counts()
    response = save(client)
    case = the_case()
    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", args=[case.pk])
    zhao = Person.objects.get()
    assert (zhao.name, zhao.sex, zhao.approximate_age, zhao.recorded_by_unit) == ("赵女士", "female", 33, unit_of(operator))
    assert [(p.phone, p.shared, p.respondent_flag) for p in zhao.phones.all()] == [("+8613800138021", False, False)]
    safe = SafeContact.objects.get(person=zhao)
    assert (safe.may_call, safe.may_text, safe.may_leave_voicemail, safe.code_word, safe.neutral_sender) == (True, True, False, "", "")
    assert (case.request_type, case.category.code, case.urgency, case.status) == ("help", "pregnancy-discrimination", "normal", CaseStatus.REGISTERED)
    assert (case.region.name, case.address, case.location_confidential, case.petitioner) == ("坪山街道", "坪山街道某工业园", False, zhao)
    assert (case.registering_unit, case.registered_by, case.summary) == (unit_of(operator), operator, "孕期被扣工资、安排出差；哺乳期公司拒绝续签劳动合同。")
    assert list(CaseParty.objects.values_list("role", "person__name")) == [(PartyRole.PETITIONER, "赵女士")]
    contact = Contact.objects.get()
    assert (contact.channel, contact.caller, contact.caller_phone, contact.outcome, contact.case, contact.operator) == (
        Channel.HOTLINE,
        zhao,
        "+8613800138021",
        Outcome.NEW_CASE,
        case,
        operator,
    )
    assert contact.content == case.summary
    assert WorkOrder.objects.count() == 0  # a pure operator's case waits in the dispatch queue
    assert list(case.events.values_list("kind", flat=True)) == [EventKind.REGISTERED, EventKind.CONTACT]
    after = counts()
    assert {name: after[name] - before[name] for name in after} == {
        "Person": 1,
        "PersonPhone": 1,
        "SafeContact": 1,
        "Case": 1,
        "CaseParty": 1,
        "CaseEvent": 2,
        "Contact": 1,
        "WorkOrder": 0,
        "EmergencyHandoff": 0,
        "AuditEntry": 3,  # record_person, register_case, record_contact
    }


def test_city_dispatcher_dispatches_at_once_to_the_suggested_district(demo_org, as_user):
    client = as_user(demo_org["city.dispatcher"])
    checks = client.post(reverse("intake_checks"), call_data()).content.decode()
    suggested = re.search(r'name="suggested_units" value="([^"]*)"', checks).group(1)
    assert suggested == str(unit_named(PINGSHAN_FEDERATION).pk)
    assert shown(PINGSHAN_FEDERATION) in checks
    response = save(client, dispatch_now="on", suggested_units=suggested)
    case = the_case()
    assert response.status_code == 302
    assert case.status == CaseStatus.DISPATCHED
    orders = list(WorkOrder.objects.values_list("unit__name", "role", "sent_by_unit__name", "legal_basis", "parent"))
    assert orders == [(PINGSHAN_FEDERATION, "lead", "深圳市妇联", LegalBasis.CONSENT, None)]
    assert list(case.events.values_list("kind", flat=True)) == [EventKind.REGISTERED, EventKind.CONTACT, EventKind.DISPATCHED]


def test_district_dispatcher_dispatches_to_hr_bureau_and_labour_inspection(demo_org, as_user):
    client = as_user(demo_org["pingshan.dispatcher"])
    checks = client.post(reverse("intake_checks"), call_data()).content.decode()
    assert shown(PINGSHAN_HR) in checks and shown(PINGSHAN_LABOUR) in checks
    suggested = re.search(r'name="suggested_units" value="([^"]*)"', checks).group(1)
    assert save(client, dispatch_now="on", suggested_units=suggested).status_code == 302
    assert list(WorkOrder.objects.order_by("id").values_list("unit__name", "role", "time_class")) == [
        (PINGSHAN_HR, "lead", "complex"),
        (PINGSHAN_LABOUR, "cohandler", "complex"),
    ]


def test_an_operator_is_told_the_case_goes_to_the_dispatch_queue(demo_org, as_user):
    checks = as_user(demo_org["hotline"]).post(reverse("intake_checks"), call_data()).content.decode()
    assert "will go to the dispatch queue" in checks
    assert shown(PINGSHAN_FEDERATION) in checks
    # Ticking "dispatch now" by hand changes nothing for her: she has no such box.
    assert save(as_user(demo_org["hotline"]), dispatch_now="on").status_code == 302
    assert WorkOrder.objects.count() == 0


def test_a_changed_suggestion_saves_nothing(demo_org, as_user):
    client = as_user(demo_org["city.dispatcher"])
    before = counts()
    response = save(client, dispatch_now="on", suggested_units=str(unit_named(PINGSHAN_HR).pk))
    assert response.status_code == 422
    assert "The suggested units have changed" in field_errors(response.content.decode())["id_dispatch_now"][0]
    assert counts() == before


def test_dispatch_now_without_a_suggestion_saves_nothing(demo_org, as_user):
    client = as_user(demo_org["city.dispatcher"])
    before = counts()
    response = save(client, dispatch_now="on", category=str(category("online-abuse").pk))
    assert response.status_code == 422
    assert "suggests no unit" in field_errors(response.content.decode())["id_dispatch_now"][0]
    assert counts() == before


def test_respondent_person_and_organisation(demo_org, as_user):
    client = as_user(demo_org["longhua.dispatcher"])
    response = save(
        client,
        caller_phone="13800138032",
        caller_name="刘某某",
        category=str(category("dv-physical").pk),
        region=str(region("龙华区").pk),
        address="",
        respondent_name="蔡某",
        respondent_phone="138 0013 8031",
        respondent_organisation="",
    )
    assert response.status_code == 302
    father = Person.objects.get(name="蔡某")
    assert list(father.phones.values_list("phone", "respondent_flag")) == [("+8613800138031", True)]
    assert list(CaseParty.objects.order_by("id").values_list("role", "person__name", "organisation_name")) == [
        (PartyRole.PETITIONER, "刘某某", ""),
        (PartyRole.RESPONDENT, "蔡某", ""),
    ]
    save(client, caller_phone="13800138022", caller_name="钱女士", region=str(region("龙华区").pk), respondent_organisation="某电子科技有限公司")
    assert CaseParty.objects.filter(role=PartyRole.RESPONDENT, organisation_name="某电子科技有限公司", person=None).count() == 1


def test_anonymous_call_keeps_the_number_but_records_nobody(demo_org, as_user):
    assert save(as_user(demo_org["hotline"]), anonymous="on").status_code == 302
    assert Person.objects.count() == 0
    contact = Contact.objects.get()
    assert (contact.caller, contact.caller_phone) == (None, "+8613800138021")
    assert the_case().petitioner is None


@pytest.mark.parametrize(
    ("code", "may_text_set", "texts"),
    [
        ("dv-physical", "", False),  # domestic violence: no SMS unless she said so
        ("child-neglect", "", False),  # child protection likewise
        ("dv-physical", "1", True),  # the operator ticked it herself
        ("pregnancy-discrimination", "", True),
    ],
)
def test_sensitive_categories_default_to_no_text_messages(demo_org, as_user, code, may_text_set, texts):
    response = save(as_user(demo_org["hotline"]), category=str(category(code).pk), may_text="on", may_text_set=may_text_set)
    assert response.status_code == 302
    assert SafeContact.objects.get().may_text is texts


def test_safe_contact_instructions_are_kept(demo_org, as_user):
    response = save(
        as_user(demo_org["hotline"]),
        may_call="on",
        may_text=None,
        may_leave_voicemail="on",
        phone_shared="on",
        safe_from="09:00",
        safe_until="17:00",
        code_word="买菜",
        neutral_sender="社区服务",
    )
    assert response.status_code == 302
    safe = SafeContact.objects.get()
    assert (safe.may_call, safe.may_text, safe.may_leave_voicemail) == (True, False, True)
    assert (safe.safe_from, safe.safe_until, safe.code_word, safe.neutral_sender) == (datetime.time(9), datetime.time(17), "买菜", "社区服务")
    assert PersonPhone.objects.get().shared is True


def test_accusation_names_the_accused_unit(demo_org, as_user):
    client = as_user(demo_org["pingshan.dispatcher"])
    hr = unit_named(PINGSHAN_HR)
    before = counts()
    response = save(client, request_type="accusation")
    assert response.status_code == 422
    assert field_errors(response.content.decode())["id_accused_unit"] == ["Name the unit the accusation is about."]
    assert counts() == before
    assert save(client, request_type="accusation", accused_unit=str(hr.pk)).status_code == 302
    assert the_case().accused_unit == hr
    # The accused unit is never suggested, and its staff cannot open the case.
    checks = client.post(reverse("intake_checks"), call_data(request_type="accusation", accused_unit=str(hr.pk))).content.decode()
    assert shown(PINGSHAN_HR) not in checks
    assert as_user(demo_org["pingshan.hr"]).get(reverse("case_detail", args=[the_case().pk])).status_code == 404


def test_mandatory_report_with_confidential_reporter(demo_org, as_user):
    client = as_user(demo_org["longhua.dispatcher"])
    hospital = unit_named("深圳市龙华区人民医院")
    checks = client.post(
        reverse("intake_checks"), call_data(category=str(category("child-physical-abuse").pk), region=str(region("龙华区").pk))
    ).content.decode()
    assert "Child protection: the police must be told" in checks
    response = save(
        client,
        channel="referral",
        anonymous="on",
        category=str(category("dv-with-children").pk),
        region=str(region("龙华区").pk),
        urgency="urgent",
        reporting_institution=str(hospital.pk),
        reporter_name="急诊科医生",
        reporter_phone="0755-2345 6789",
        reporter_confidential="on",
        police_notified="on",
        police_incident_number="LH-2026-0412-017",
    )
    assert response.status_code == 302
    case = the_case()
    assert (case.reporting_institution, case.police_notified, case.police_incident_number) == (hospital, True, "LH-2026-0412-017")
    reporter = CaseParty.objects.get(role=PartyRole.REPORTER)
    assert (reporter.person.name, reporter.confidential) == ("急诊科医生", True)
    assert Contact.objects.get().channel == Channel.REFERRAL


def test_incident_number_without_police_is_refused(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    before = counts()
    response = save(client, police_incident_number="LH-1")
    assert response.status_code == 422
    assert field_errors(response.content.decode())["id_police_notified"] == ["An incident number means the police were informed."]
    assert counts() == before


def test_mandatory_report_dispatched_on_statutory_duty(demo_org, as_user):
    client = as_user(demo_org["longhua.dispatcher"])
    data = {
        "category": str(category("dv-with-children").pk),
        "region": str(region("龙华区").pk),
        "reporting_institution": str(unit_named("深圳市龙华区人民医院").pk),
    }
    checks = client.post(reverse("intake_checks"), call_data(**data)).content.decode()
    suggested = re.search(r'name="suggested_units" value="([^"]*)"', checks).group(1)
    assert save(client, dispatch_now="on", suggested_units=suggested, **data).status_code == 302
    assert set(WorkOrder.objects.values_list("legal_basis", flat=True)) == {LegalBasis.STATUTORY_DUTY}


def test_a_12345_transfer_keeps_its_ticket_and_deadline(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    before = counts()
    response = save(client, channel="platform_12345")
    assert response.status_code == 422
    assert field_errors(response.content.decode())["id_external_ticket_number"] == ["A transfer from 12345 needs its ticket number."]
    assert counts() == before
    assert save(client, channel="platform_12345", external_ticket_number="12345-2026-0001", external_deadline="2026-06-10T18:00").status_code == 302
    contact = Contact.objects.get()
    assert (contact.channel, contact.external_ticket_number) == (Channel.PLATFORM_12345, "12345-2026-0001")
    assert contact.external_deadline == datetime.datetime(2026, 6, 10, 18, 0, tzinfo=SHANGHAI)


def test_ticket_fields_of_another_channel_are_not_kept(demo_org, as_user):
    assert save(as_user(demo_org["hotline"]), external_ticket_number="stale", external_deadline="2026-06-10T18:00").status_code == 302
    assert (Contact.objects.get().external_ticket_number, Contact.objects.get().external_deadline) == ("", None)


# --- answering on the spot -------------------------------------------------------------------------


def test_a_consultation_is_answered_and_closed_on_the_spot(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    response = save(client, request_type="consultation", action="answer", reply="根据《女职工劳动保护特别规定》，孕期不得降低工资。")
    assert response.status_code == 302
    case = the_case()
    assert (case.status, case.reply) == (CaseStatus.ANSWERED, "根据《女职工劳动保护特别规定》，孕期不得降低工资。")
    assert case.closed_at is not None
    assert Contact.objects.get().outcome == Outcome.ANSWERED
    assert WorkOrder.objects.count() == 0
    assert list(case.events.values_list("kind", flat=True)) == [EventKind.REGISTERED, EventKind.CONTACT, EventKind.ANSWERED]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"request_type": "consultation", "reply": ""}, "id_reply", "Write the answer given."),
        ({"request_type": "help", "reply": "可以。"}, "id_reply", "Only a consultation can be answered on the spot."),
    ],
)
def test_answer_needs_a_consultation_and_a_reply(demo_org, as_user, overrides, field, message):
    client = as_user(demo_org["hotline"])
    before = counts()
    response = save(client, action="answer", **overrides)
    assert response.status_code == 422
    assert field_errors(response.content.decode())[field] == [message]
    assert counts() == before


def test_a_saved_consultation_without_answer_waits_for_dispatch(demo_org, as_user):
    # "Save" ignores a reply typed in: only "Answer and close" answers.
    assert save(as_user(demo_org["hotline"]), request_type="consultation", reply="草稿").status_code == 302
    assert (the_case().status, the_case().reply) == (CaseStatus.REGISTERED, "")


# --- emergencies ------------------------------------------------------------------------------------


def _city_on_duty(demo_org, at):
    city = unit_of(demo_org["hotline"])
    return DutyShift.objects.create(
        unit=city, user=demo_org["city.dispatcher"], starts_at=at - datetime.timedelta(hours=2), ends_at=at + datetime.timedelta(hours=10), phone="0755-12338"
    )


def test_emergency_hand_off_is_recorded(demo_org, as_user):
    with time_machine.travel(WORKING_MORNING, tick=False):
        _city_on_duty(demo_org, WORKING_MORNING)
        client = as_user(demo_org["hotline"])
        checks = client.post(reverse("intake_checks"), call_data(urgency="emergency")).content.decode()
        assert "Emergency" in checks
        assert f"The case goes to the unit on duty: {shown(CITY_FEDERATION)} (陈慧敏 on duty)." in checks
        assert "0755-12338" in checks
        response = save(
            client,
            urgency="emergency",
            category=str(category("dv-physical").pk),
            handoff_service="110",
            handoff_at="2026-06-03T09:55",
            handoff_incident_number="SZ110-0603-0042",
        )
    assert response.status_code == 302
    case = the_case()
    handoff = EmergencyHandoff.objects.get()
    assert (handoff.case, handoff.service, handoff.incident_number, handoff.recorded_by) == (case, "110", "SZ110-0603-0042", demo_org["hotline"])
    assert handoff.at == datetime.datetime(2026, 6, 3, 9, 55, tzinfo=SHANGHAI)
    assert (case.urgency, case.police_notified, case.police_incident_number) == ("emergency", True, "SZ110-0603-0042")
    assert CaseEvent.objects.filter(case=case, kind=EventKind.EMERGENCY_HANDOFF).count() == 1


def test_hand_off_is_recorded_only_for_an_emergency(demo_org, as_user):
    assert save(as_user(demo_org["hotline"]), urgency="normal", handoff_service="120").status_code == 302
    assert EmergencyHandoff.objects.count() == 0


def test_hand_off_details_without_a_service_are_refused(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    before = counts()
    response = save(client, urgency="emergency", handoff_incident_number="X-1")
    assert response.status_code == 422
    assert field_errors(response.content.decode())["id_handoff_service"] == ["Choose whom the emergency was handed to."]
    assert counts() == before


def test_the_route_shows_outside_working_hours_only_then(demo_org, as_user):
    # (Signing in again after each jump in time: a session idle "since the future" is ended.)
    with time_machine.travel(WORKING_MORNING, tick=False):
        client = as_user(demo_org["hotline"])
        assert "Outside working hours" not in client.post(reverse("intake_checks"), call_data()).content.decode()
    with time_machine.travel(SUNDAY_EVENING, tick=False):
        client = as_user(demo_org["hotline"])
        assert "Outside working hours" in client.get(reverse("intake")).content.decode()  # before anything is typed
        checks = client.post(reverse("intake_checks"), call_data()).content.decode()
        assert "Outside working hours" in checks
        assert f"Nobody is on the duty roster of {shown(CITY_FEDERATION)} or the units above it now." in checks
        _city_on_duty(demo_org, SUNDAY_EVENING)
        assert (
            f"The case goes to the unit on duty: {shown(CITY_FEDERATION)} (陈慧敏 on duty)."
            in client.post(reverse("intake_checks"), call_data()).content.decode()
        )


def test_a_district_emergency_goes_to_the_city_duty_when_the_district_has_none(demo_org, as_user):
    with time_machine.travel(WORKING_MORNING, tick=False):
        _city_on_duty(demo_org, WORKING_MORNING)
        checks = as_user(demo_org["pingshan.dispatcher"]).post(reverse("intake_checks"), call_data(urgency="emergency")).content.decode()
    assert f"The case goes to the unit on duty: {shown(CITY_FEDERATION)} (陈慧敏 on duty)." in checks


# --- the caller's history -----------------------------------------------------------------------------


def history(client, phone: str) -> str:
    response = client.post(reverse("intake_caller_history"), {"caller_phone": phone})
    assert response.status_code == 200
    return response.content.decode()


def test_history_appears_only_for_a_complete_number(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    save(client)
    number = the_case().number
    assert number in history(client, "+86 138-0013-8021")
    assert number in history(client, "13800138021")
    for partial in ("138", "1380013802", "8021", "138 0013 802"):
        page = history(client, partial)
        assert number not in page and "Type the whole number" in page, partial


def test_history_lists_earlier_cases_and_calls_in_scope(demo_org, as_user):
    save(as_user(demo_org["hotline"]))
    number = the_case().number
    for username, sees in (
        ("hotline", True),
        ("city.dispatcher", True),
        ("pingshan.dispatcher", True),
        ("longhua.dispatcher", False),
        ("guangming.dispatcher", False),
    ):
        page = history(as_user(demo_org[username]), "13800138021")
        assert (number in page) is sees, username
        assert ("赵女士" in page) is sees, username
        if not sees:
            assert "No earlier calls or cases from +86 138****8021 in your scope." in page


def test_a_respondents_phone_shows_nothing_of_the_victims_case(demo_org, as_user):
    client = as_user(demo_org["longhua.dispatcher"])
    save(
        client,
        caller_phone="13800138032",
        caller_name="刘某某",
        category=str(category("dv-physical").pk),
        region=str(region("龙华区").pk),
        respondent_name="蔡某",
        respondent_phone="13800138031",
    )
    victim_case = the_case()
    assert victim_case.number in history(client, "13800138032")
    page = history(client, "13800138031")
    assert victim_case.number not in page
    assert "刘某某" not in page
    assert 'name="existing_caller"' not in page
    assert "No earlier calls or cases from +86 138****8031 in your scope." in page
    # Nor as a possible duplicate when he calls.
    checks = client.post(reverse("intake_checks"), call_data(caller_phone="13800138031", region=str(region("龙华区").pk))).content.decode()
    assert victim_case.number not in checks


def test_a_known_caller_is_chosen_instead_of_recorded_again(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    save(client)
    zhao = Person.objects.get()
    page = history(client, "13800138021")
    assert f'name="existing_caller" value="{zhao.pk}"' in page
    assert save(client, existing_caller=str(zhao.pk), caller_name="", category=str(category("wage-arrears").pk)).status_code == 302
    assert Person.objects.count() == 1
    second = Case.objects.order_by("-id").first()
    assert second.petitioner == zhao
    assert Contact.objects.order_by("-id").first().caller == zhao
    # A person not known by this number cannot be slipped in.
    stranger = Person.objects.create(name="某人")
    before = counts()
    response = save(client, existing_caller=str(stranger.pk))
    assert response.status_code == 422
    assert field_errors(response.content.decode())["id_caller_phone"] == ["The chosen caller is not known by this number: choose again."]
    assert counts() == before


# --- duplicates -------------------------------------------------------------------------------------------


def test_possible_duplicates_are_offered_before_saving(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    save(client)
    first = the_case()
    checks = client.post(reverse("intake_checks"), call_data()).content.decode()
    assert "Possible duplicates" in checks
    assert f'name="attach_to" value="{first.pk}"' in checks
    assert f"Add this call to {first.number} instead" in checks
    # Another number, nobody chosen: nothing to compare with.
    assert "Possible duplicates" not in client.post(reverse("intake_checks"), call_data(caller_phone="13800138055")).content.decode()


def test_only_open_cases_are_offered_as_duplicates(demo_org, as_user):
    with time_machine.travel(WORKING_MORNING, tick=False):
        save(as_user(demo_org["hotline"]))
    zhao = Person.objects.get()
    first = the_case()
    data = call_data(existing_caller=str(zhao.pk), category=str(category("wage-arrears").pk))
    with time_machine.travel(WORKING_MORNING + datetime.timedelta(days=20), tick=False):
        client = as_user(demo_org["hotline"])
        assert f'name="attach_to" value="{first.pk}"' in client.post(reverse("intake_checks"), data).content.decode()
    Case.objects.filter(pk=first.pk).update(status=CaseStatus.CLOSED)
    with time_machine.travel(WORKING_MORNING + datetime.timedelta(days=20), tick=False):
        client = as_user(demo_org["hotline"])
        assert "Possible duplicates" not in client.post(reverse("intake_checks"), data).content.decode()


def test_the_call_is_added_to_the_duplicate_instead(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    save(client)
    first = the_case()
    zhao = Person.objects.get()
    before = counts()
    response = client.post(
        reverse("intake"), call_data(attach_to=str(first.pk), existing_caller=str(zhao.pk), category="", region="", content="又来电询问进展。")
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", args=[first.pk])
    assert Case.objects.count() == 1
    contact = Contact.objects.order_by("-id").first()
    assert (contact.case, contact.outcome, contact.caller, contact.content) == (first, Outcome.ATTACHED, zhao, "又来电询问进展。")
    after = counts()
    assert {name: after[name] - before[name] for name in after if after[name] != before[name]} == {"Contact": 1, "CaseEvent": 1, "AuditEntry": 1}


def test_a_call_cannot_be_added_to_a_case_outside_scope(demo_org, as_user):
    save(as_user(demo_org["hotline"]))
    pingshan_case = the_case()
    client = as_user(demo_org["longhua.dispatcher"])
    before = counts()
    response = client.post(reverse("intake"), call_data(attach_to=str(pingshan_case.pk)))
    assert response.status_code == 422
    assert "That case cannot take this contact" in response.content.decode()
    assert counts() == before


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"category": "999999"}, "id_category", "Unknown category."),
        ({"category": "abc"}, "id_category", "Unknown category."),
        ({"category": ""}, "id_category", "Choose a category."),
        ({"region": "LONGHUA"}, "id_region", "This region is outside your scope."),
        ({"caller_phone": "138 0013"}, "id_caller_phone", "This is not a valid phone number: check the digits and the area code."),
        ({"caller_phone": "call me"}, "id_caller_phone", "Enter a valid phone number, e.g. 138 0013 8000 or 0755-2345 6789."),
        ({"respondent_phone": "12345"}, "id_respondent_phone", "This is not a valid phone number: check the digits and the area code."),
        ({"caller_id_number": "44030319880517246"}, "id_caller_id_number", "An ID number has 18 characters; this one has 17."),
        ({"caller_id_number": "BAD"}, "id_caller_id_number", "An ID number has 18 characters; this one has 3."),
        ({"caller_age": "200"}, "id_caller_age", "Ensure this value is less than or equal to 130."),
        ({"content": ""}, "id_content", "Describe what she said."),
    ],
)
def test_bad_input_changes_nothing(demo_org, as_user, overrides, field, message):
    client = as_user(demo_org["pingshan.dispatcher"])
    if overrides.get("region") == "LONGHUA":
        overrides = {"region": str(region("龙华街道").pk)}
    before = counts()
    response = save(client, dispatch_now="on", **overrides)
    assert response.status_code == 422
    assert field_errors(response.content.decode())[field] == [message]
    assert "Nothing has been saved." in response.content.decode()
    assert counts() == before


def test_a_wrong_id_check_digit_is_refused(demo_org, as_user):
    good = build_id_number(birth_place="440303", birth_date=datetime.date(1993, 3, 8), sequence=128)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    client = as_user(demo_org["hotline"])
    before = counts()
    response = save(client, caller_id_number=wrong)
    assert response.status_code == 422
    assert "check digit" in field_errors(response.content.decode())["id_caller_id_number"][0]
    assert counts() == before
    assert save(client, caller_id_number=good).status_code == 302
    assert Person.objects.get().id_number == good


def test_the_form_comes_back_as_typed(demo_org, as_user):
    response = save(as_user(demo_org["hotline"]), caller_phone="138", code_word="买菜")
    page = response.content.decode()
    assert response.status_code == 422
    assert 'value="赵女士"' in page and 'value="买菜"' in page
    assert "孕期被扣工资、安排出差；哺乳期公司拒绝续签劳动合同。" in page


def test_a_category_retired_meanwhile_is_refused(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    data = call_data()
    Category.objects.filter(code="pregnancy-discrimination").update(valid_until=datetime.datetime(2026, 1, 1, tzinfo=SHANGHAI))
    before = counts()
    response = client.post(reverse("intake"), data)
    assert response.status_code == 422
    assert field_errors(response.content.decode())["id_category"] == ["Unknown category."]
    assert counts() == before


# --- double submit ----------------------------------------------------------------------------------------


def test_a_double_click_creates_one_case(demo_org, as_user):
    client = as_user(demo_org["city.dispatcher"])
    suggested = str(unit_named(PINGSHAN_FEDERATION).pk)
    data = call_data(dispatch_now="on", suggested_units=suggested)
    first = client.post(reverse("intake"), data)
    second = client.post(reverse("intake"), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert (Case.objects.count(), Contact.objects.count(), Person.objects.count(), WorkOrder.objects.count()) == (1, 1, 1, 1)


def test_a_corrected_resubmission_after_an_error_saves_once(demo_org, as_user):
    client = as_user(demo_org["hotline"])
    data = call_data(caller_phone="138")
    assert client.post(reverse("intake"), data).status_code == 422
    data["caller_phone"] = "13800138021"
    assert client.post(reverse("intake"), data).status_code == 302
    assert client.post(reverse("intake"), data).status_code == 302
    assert Case.objects.count() == 1


def test_the_take_call_service_rolls_everything_back(demo_org):
    """A failure late in the call (the contact's 12345 ticket) leaves no person and no case."""
    from rightscare.intake.services import PersonDetails, take_call

    before = counts()
    with pytest.raises(ValidationError):
        take_call(
            by=demo_org["hotline"],
            unit=unit_of(demo_org["hotline"]),
            channel=Channel.PLATFORM_12345,
            content="转办",
            request_type="help",
            category=category("wage-arrears"),
            region=region("坪山街道"),
            new_caller=PersonDetails(name="某女士", phone="13800138099"),
            caller_phone="13800138099",
        )
    assert counts() == before


# --- language ----------------------------------------------------------------------------------------------


def test_screen_and_panels_leave_no_translated_message_in_english(demo_org, as_user):
    """The translations suite renders every page with GET; the panels are POST-only, so they are checked here."""
    from tests.test_translations import untranslated_phrases

    client = as_user(demo_org["city.dispatcher"])
    client.cookies["rightscare_language"] = "zh-hans"
    save(client)
    busy = call_data(urgency="emergency", request_type="consultation", category=str(category("child-neglect").pk))
    pages = {
        "screen": client.get(reverse("intake")),
        "screen with errors": client.post(reverse("intake"), call_data(caller_phone="138", channel="platform_12345")),
        "history": client.post(reverse("intake_caller_history"), busy),
        "history, partial number": client.post(reverse("intake_caller_history"), {"caller_phone": "138"}),
        "checks": client.post(reverse("intake_checks"), busy),
        "contacts": client.get(reverse("intake_contact_list")),
        "contact": client.get(reverse("intake_contact_detail", args=[Contact.objects.get().pk])),
        "duty": client.get(reverse("duty_overview")),
        "roster": client.get(reverse("duty_roster", args=[unit_of(demo_org["city.dispatcher"]).pk])),
    }
    for name, response in pages.items():
        assert response.status_code in {200, 422}, name
        assert untranslated_phrases(response.content.decode()) == [], name
