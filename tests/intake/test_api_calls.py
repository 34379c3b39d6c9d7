"""``POST /api/v1/calls``: the hotline screen's one save through the API (``intake.services.take_call``).

The demo organisation (Shenzhen, the seed's units and the responsibility list): Zhao's
call from Pingshan is dispatched on the suggestion, a consultation answered on the spot,
a call added to the case it is about; bad input is a 422 naming the body's field with
nothing saved, and a retry with the same ``Idempotency-Key`` makes one case.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from rightscare.cases.models import Case, CaseParty, CaseStatus, EmergencyHandoff, EventKind, LegalBasis, PartyRole, WorkOrder
from rightscare.cases.services import suggest_dispatch
from rightscare.core.identity import build_id_number
from rightscare.core.models import IdempotencyRecord
from rightscare.intake.models import Contact, Outcome
from rightscare.registry.models import Person, SafeContact
from tests.api_client import ApiClient, error_fields
from tests.intake.conftest import category, counts, region, unit_named, unit_of

PINGSHAN_FEDERATION = "坪山区妇联"
PINGSHAN_STREET = "坪山街道妇联"
PINGSHAN_HR = "深圳市坪山区人力资源局"
PINGSHAN_LABOUR = "坪山街道劳动监察中队"
CITY_FEDERATION = "深圳市妇联"
ZHAO_SAID = "孕期被扣工资、安排出差；哺乳期公司拒绝续签劳动合同。"


def zhao_call(user: Any, **changes: Any) -> dict[str, Any]:
    """Zhao's call as a client sends it: a new caller, pregnancy discrimination in the Pingshan street."""
    return {
        "unit_id": unit_of(user).pk,
        "channel": "hotline",
        "caller_phone": "138 0013 8021",
        "new_caller": {"name": "赵女士", "sex": "female", "approximate_age": 33},
        "request_type": "help",
        "content": ZHAO_SAID,
        "category": "pregnancy-discrimination",
        "region_id": region("坪山街道").pk,
        "address": "坪山街道某工业园",
        **changes,
    }


def everything() -> dict[str, int]:
    """``counts()`` and the claimed submission keys: a refused call leaves them all as they were."""
    return {**counts(), "IdempotencyRecord": IdempotencyRecord.objects.count()}


def added(before: dict[str, int]) -> dict[str, int]:
    after = everything()
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


@pytest.fixture
def api(client, demo_org):
    """An API client for a demo user: ``api("pingshan.dispatcher").post(...)``."""
    return lambda username: ApiClient(client, demo_org[username])


def orders_of(body: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    return [(o["unit"]["name"], o["role"], o["status"], o["sent_by_unit"]["name"], o["legal_basis"], o["time_class"]) for o in body["work_orders"]]


# --- the outcomes -------------------------------------------------------------------------------------


def test_zhao_is_dispatched_on_the_suggestion(demo_org, api):
    dispatcher = api("pingshan.dispatcher")
    pingshan = unit_named(PINGSHAN_FEDERATION)
    suggestion = suggest_dispatch(dispatching_unit=pingshan, category=category("pregnancy-discrimination"), region=region("坪山街道"))
    suggested = [suggestion.lead.pk, *(unit.pk for unit in suggestion.cohandlers)]
    assert suggested == [unit_named(PINGSHAN_HR).pk, unit_named(PINGSHAN_LABOUR).pk]
    before = everything()

    response = dispatcher.post("/calls", zhao_call(demo_org["pingshan.dispatcher"], action="dispatch", dispatch={"expected_unit_ids": suggested}))

    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.select_related("petitioner", "category", "region").get()
    zhao = Person.objects.get()
    assert (case.status, case.category.code, case.region.name, case.address, case.summary) == (
        CaseStatus.DISPATCHED,
        "pregnancy-discrimination",
        "坪山街道",
        "坪山街道某工业园",
        ZHAO_SAID,
    )
    assert (case.petitioner, case.registering_unit, case.registered_by) == (zhao, pingshan, demo_org["pingshan.dispatcher"])
    assert (zhao.name, zhao.sex, zhao.approximate_age) == ("赵女士", "female", 33)
    assert list(zhao.phones.values_list("phone", "shared")) == [("+8613800138021", False)]
    assert SafeContact.objects.filter(person=zhao, may_call=True, may_text=True, may_leave_voicemail=False).count() == 1
    # Exactly the suggested units, the lead first, sent by her district federation on Zhao's consent.
    assert orders_of(body) == [
        (PINGSHAN_HR, "lead", "sent", PINGSHAN_FEDERATION, LegalBasis.CONSENT, "complex"),
        (PINGSHAN_LABOUR, "cohandler", "sent", PINGSHAN_FEDERATION, LegalBasis.CONSENT, "complex"),
    ]
    assert [o["id"] for o in body["work_orders"]] == list(WorkOrder.objects.order_by("id").values_list("pk", flat=True))
    assert (body["case"]["id"], body["case"]["number"], body["case"]["status"], body["case"]["petitioner_id"]) == (case.pk, case.number, "dispatched", zhao.pk)
    # The case is answered in the same schema as everywhere else in the API.
    assert body["case"] == dispatcher.get(f"/cases/{case.pk}").json()
    contact = Contact.objects.get()
    assert body["contact"] == {
        "id": contact.pk,
        "channel": "hotline",
        "occurred_at": body["contact"]["occurred_at"],
        "unit_id": pingshan.pk,
        "caller_id": zhao.pk,
        "outcome": "new_case",
        "case_id": case.pk,
        "external_ticket_number": "",
        "external_deadline": None,
    }
    assert (contact.caller_phone, contact.content, contact.operator) == ("+8613800138021", ZHAO_SAID, demo_org["pingshan.dispatcher"])
    assert list(case.events.order_by("id").values_list("kind", flat=True)) == [EventKind.REGISTERED, EventKind.CONTACT, EventKind.DISPATCHED]
    assert added(before) == {
        "Person": 1,
        "PersonPhone": 1,
        "SafeContact": 1,
        "Case": 1,
        "CaseParty": 1,
        "CaseEvent": 3,
        "Contact": 1,
        "WorkOrder": 2,
        "AuditEntry": 4,  # record_person, register_case, record_contact, dispatch_case
    }


def test_the_city_dispatches_from_her_own_unit_to_the_district_without_naming_it(api, demo_org):
    response = api("city.dispatcher").post("/calls", zhao_call(demo_org["city.dispatcher"], action="dispatch"))
    assert response.status_code == 201, response.content
    assert orders_of(response.json()) == [(PINGSHAN_FEDERATION, "lead", "sent", CITY_FEDERATION, LegalBasis.CONSENT, "standard")]


def test_a_dispatch_to_units_she_names_with_a_legal_basis(api, demo_org):
    body = zhao_call(
        demo_org["pingshan.dispatcher"],
        action="dispatch",
        dispatch={"lead_id": unit_named(PINGSHAN_STREET).pk, "cohandler_ids": [unit_named(PINGSHAN_HR).pk], "legal_basis": "statutory"},
    )
    response = api("pingshan.dispatcher").post("/calls", body)
    assert response.status_code == 201, response.content
    assert [row[:5] for row in orders_of(response.json())] == [
        (PINGSHAN_STREET, "lead", "sent", PINGSHAN_FEDERATION, LegalBasis.STATUTORY_DUTY),
        (PINGSHAN_HR, "cohandler", "sent", PINGSHAN_FEDERATION, LegalBasis.STATUTORY_DUTY),
    ]
    assert Case.objects.get().status == CaseStatus.DISPATCHED


def test_a_registered_call_waits_for_dispatch(api, demo_org):
    response = api("hotline").post("/calls", zhao_call(demo_org["hotline"]))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["case"]["status"], body["work_orders"], body["contact"]["outcome"]) == ("registered", [], "new_case")
    assert WorkOrder.objects.count() == 0


def test_a_consultation_is_answered_on_the_spot_and_closed(api, demo_org):
    operator = api("hotline")
    before = everything()
    reply = "孕期不得降低工资；可向人力资源局投诉，或拨打 12333。"
    response = operator.post("/calls", zhao_call(demo_org["hotline"], request_type="consultation", action="answer", reply=reply, content="孕期能否被降薪？"))
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get()
    assert (case.status, case.reply, case.closed_at is not None) == (CaseStatus.ANSWERED, reply, True)
    assert (body["case"]["status"], body["case"]["reply"], body["work_orders"], body["contact"]["outcome"]) == ("answered", reply, [], "answered")
    assert Contact.objects.get().outcome == Outcome.ANSWERED
    assert list(case.events.order_by("id").values_list("kind", flat=True)) == [EventKind.REGISTERED, EventKind.CONTACT, EventKind.ANSWERED]
    assert added(before) == {
        "Person": 1,
        "PersonPhone": 1,
        "SafeContact": 1,
        "Case": 1,
        "CaseParty": 1,
        "CaseEvent": 3,
        "Contact": 1,
        "AuditEntry": 4,  # record_person, register_case, record_contact, answer_directly
    }


def test_a_call_is_added_to_the_case_it_is_about(api, demo_org):
    operator = api("hotline")
    first = operator.post("/calls", zhao_call(demo_org["hotline"])).json()
    zhao = Person.objects.get()
    before = everything()
    response = operator.post(
        "/calls",
        {
            "unit_id": unit_of(demo_org["hotline"]).pk,
            "channel": "hotline",
            "caller_phone": "13800138021",
            "caller_id": zhao.pk,
            "content": "又来电询问进展。",
            "action": "attach",
            "case_id": first["case"]["id"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    contact = Contact.objects.order_by("-id").first()
    assert (body["case"]["id"], body["work_orders"], body["contact"]["id"]) == (first["case"]["id"], [], contact.pk)
    assert (contact.case_id, contact.outcome, contact.caller, contact.content) == (first["case"]["id"], Outcome.ATTACHED, zhao, "又来电询问进展。")
    assert added(before) == {"Contact": 1, "CaseEvent": 1, "AuditEntry": 1}


def test_a_call_is_not_added_to_a_closed_case_or_one_outside_her_scope(api, demo_org):
    pingshan, longhua = api("pingshan.dispatcher"), api("longhua.dispatcher")
    pingshan.post("/calls", zhao_call(demo_org["pingshan.dispatcher"]))
    case = Case.objects.get()
    attach = {"channel": "hotline", "content": "来电。", "action": "attach", "case_id": case.pk}
    before = everything()
    response = longhua.post("/calls", {**attach, "unit_id": unit_of(demo_org["longhua.dispatcher"]).pk})
    assert error_fields(response) == {"case_id"}
    assert everything() == before
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED)
    response = pingshan.post("/calls", {**attach, "unit_id": unit_of(demo_org["pingshan.dispatcher"]).pk})
    assert error_fields(response) == {"case_id"}
    assert everything() == before


def test_an_emergency_hand_off_and_a_confidential_place(api, demo_org):
    body = zhao_call(
        demo_org["hotline"],
        category="dv-physical",
        urgency="emergency",
        location_confidential=True,
        handoff={"service": "110", "incident_number": "SZ110-0603-17"},
        respondent={"name": "某男", "phone": "139 2233 4455"},
    )
    response = api("hotline").post("/calls", body)
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert (case.urgency, case.location_confidential, case.police_notified, case.police_incident_number) == ("emergency", True, True, "SZ110-0603-17")
    assert list(EmergencyHandoff.objects.values_list("service", "incident_number", "recorded_by")) == [("110", "SZ110-0603-17", demo_org["hotline"].pk)]
    assert list(CaseParty.objects.order_by("id").values_list("role", "person__name")) == [(PartyRole.PETITIONER, "赵女士"), (PartyRole.RESPONDENT, "某男")]
    assert list(Person.objects.get(name="某男").phones.values_list("phone", "respondent_flag")) == [("+8613922334455", True)]


@pytest.mark.parametrize(
    ("code", "safe_contact", "texts"), [("dv-physical", None, False), ("dv-physical", {"may_text": True}, True), ("wage-arrears", None, True)]
)
def test_a_sensitive_category_defaults_to_no_text_messages(api, demo_org, code, safe_contact, texts):
    caller = {"name": "刘某某", **({"safe_contact": safe_contact} if safe_contact else {})}
    response = api("hotline").post("/calls", zhao_call(demo_org["hotline"], category=code, new_caller=caller))
    assert response.status_code == 201, response.content
    assert SafeContact.objects.get().may_text is texts


def test_a_mandatory_report_keeps_its_reporter_confidential_and_is_shared_on_statutory_duty(api, demo_org):
    hospital = unit_named("深圳市龙华区人民医院")
    body = zhao_call(
        demo_org["longhua.dispatcher"],
        channel="referral",
        category="dv-with-children",
        region_id=region("龙华区").pk,
        new_caller=None,
        caller_phone="",
        reporting_institution_id=hospital.pk,
        reporter={"name": "急诊科护士", "phone": "0755-2345 6789"},
        police_notified=True,
        police_incident_number="LH-2026-0042",
        action="dispatch",
    )
    response = api("longhua.dispatcher").post("/calls", body)
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert (case.reporting_institution, case.petitioner, case.police_incident_number) == (hospital, None, "LH-2026-0042")
    assert list(CaseParty.objects.values_list("role", "person__name", "confidential")) == [(PartyRole.REPORTER, "急诊科护士", True)]
    assert {o["legal_basis"] for o in response.json()["work_orders"]} == {LegalBasis.STATUTORY_DUTY}


def test_a_12345_transfer_keeps_its_ticket_and_deadline_in_utc(api, demo_org):
    body = zhao_call(demo_org["hotline"], channel="platform_12345", external_ticket_number="SZ12345-77", external_deadline="2026-06-05T18:00:00+08:00")
    response = api("hotline").post("/calls", body)
    assert response.status_code == 201, response.content
    contact = Contact.objects.get()
    assert (contact.external_ticket_number, contact.external_deadline) == ("SZ12345-77", datetime.datetime(2026, 6, 5, 10, 0, tzinfo=datetime.UTC))


# --- one call, however often it is sent -----------------------------------------------------------------


def test_a_retry_with_the_same_key_answers_the_first_call(api, demo_org):
    dispatcher = api("pingshan.dispatcher")
    body = zhao_call(demo_org["pingshan.dispatcher"], action="dispatch")
    responses = [dispatcher.post("/calls", body, headers={"Idempotency-Key": "cti-0603-0017"}) for _ in range(2)]
    assert [r.status_code for r in responses] == [201, 200]
    assert responses[0].json() == responses[1].json()
    assert (Case.objects.count(), Contact.objects.count(), Person.objects.count(), WorkOrder.objects.count()) == (1, 1, 1, 2)
    # Another user's same key is another submission.
    other = api("city.dispatcher").post("/calls", zhao_call(demo_org["city.dispatcher"]), headers={"Idempotency-Key": "cti-0603-0017"})
    assert other.status_code == 201 and other.json()["case"]["id"] != responses[0].json()["case"]["id"]


def test_the_same_key_with_another_body_is_a_conflict_and_saves_nothing(api, demo_org):
    operator = api("hotline")
    headers = {"Idempotency-Key": "cti-0603-0018"}
    first = operator.post("/calls", zhao_call(demo_org["hotline"]), headers=headers)
    assert first.status_code == 201
    before = everything()
    response = operator.post("/calls", zhao_call(demo_org["hotline"], content="另一个电话。"), headers=headers)
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert "Idempotency-Key" in response.json()["detail"]
    assert everything() == before


def test_a_refused_call_does_not_use_up_its_key(api, demo_org):
    operator = api("hotline")
    headers = {"Idempotency-Key": "cti-0603-0019"}
    assert error_fields(operator.post("/calls", zhao_call(demo_org["hotline"], caller_phone="138"), headers=headers)) == {"caller_phone"}
    assert operator.post("/calls", zhao_call(demo_org["hotline"]), headers=headers).status_code == 201
    assert Case.objects.count() == 1


# --- bad input and scope --------------------------------------------------------------------------------


def _wrong_check_digit() -> str:
    good = build_id_number(birth_place="440303", birth_date=datetime.date(1993, 3, 8), sequence=128)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


#: Changes to Zhao's call by the Pingshan dispatcher, and the one field each 422 names. Callables get the demo users.
BAD_CALLS: list[tuple[str, Any, str]] = [
    ("unknown category", {"category": "no-such-category"}, "category"),
    ("first-level category", {"category": "employment"}, "category"),
    ("no category", {"category": ""}, "category"),
    ("region outside her scope", lambda: {"region_id": region("龙华街道").pk}, "region_id"),
    ("no region", {"region_id": None}, "region_id"),
    ("incomplete phone", {"caller_phone": "138 0013"}, "caller_phone"),
    ("phone in words", {"caller_phone": "call me"}, "caller_phone"),
    ("anonymous caller's bad phone", {"new_caller": None, "caller_phone": "12345"}, "caller_phone"),
    ("short ID number", {"new_caller": {"name": "赵女士", "id_number": "44030319880517246"}}, "new_caller.id_number"),
    ("wrong check digit", lambda: {"new_caller": {"name": "赵女士", "id_number": _wrong_check_digit()}}, "new_caller.id_number"),
    ("age", {"new_caller": {"name": "赵女士", "approximate_age": 200}}, "new_caller.approximate_age"),
    ("respondent's phone", {"respondent": {"name": "某男", "phone": "12345"}}, "respondent.phone"),
    ("reporter's phone", {"reporter": {"name": "护士", "phone": "0755"}}, "reporter.phone"),
    ("nothing said", {"content": ""}, "content"),
    ("unknown channel", {"channel": "pigeon"}, "channel"),
    ("12345 without its ticket", {"channel": "platform_12345"}, "external_ticket_number"),
    ("another district's unit", lambda: {"unit_id": unit_named("龙华区妇联").pk}, "unit_id"),
    ("unknown caller on file", {"caller_id": 999999, "new_caller": None}, "caller_id"),
    ("caller on file and new", lambda: {"caller_id": Person.objects.get(name="孙女士").pk}, "new_caller"),
    ("accusation without the unit", {"request_type": "accusation"}, "accused_unit_id"),
    ("accused unit of a help request", lambda: {"accused_unit_id": unit_named(PINGSHAN_STREET).pk}, "accused_unit_id"),
    ("incident number without police", {"police_incident_number": "PS-1"}, "police_notified"),
    ("hand-off of a normal call", {"handoff": {"service": "110"}}, "handoff"),
    ("reporting unit that is not an institution", lambda: {"reporting_institution_id": unit_named(PINGSHAN_STREET).pk}, "reporting_institution_id"),
    ("answer without a reply", {"request_type": "consultation", "action": "answer"}, "reply"),
    ("answer to a request for help", {"action": "answer", "reply": "已答复。"}, "reply"),
    ("reply without answering", {"reply": "已答复。"}, "reply"),
    ("dispatch plan without dispatching", {"dispatch": {}}, "dispatch"),
    ("case without attaching", {"case_id": 1}, "case_id"),
    ("attach without a case", {"action": "attach", "new_caller": None}, "case_id"),
    ("unknown lead", {"action": "dispatch", "dispatch": {"lead_id": 999999}}, "dispatch.lead_id"),
    ("lead outside her reach", lambda: {"action": "dispatch", "dispatch": {"lead_id": unit_named("龙华区妇联").pk}}, "dispatch.lead_id"),
    ("co-handlers without a lead", lambda: {"action": "dispatch", "dispatch": {"cohandler_ids": [unit_named(PINGSHAN_HR).pk]}}, "dispatch.cohandler_ids"),
    (
        "unknown co-handler",
        lambda: {"action": "dispatch", "dispatch": {"lead_id": unit_named(PINGSHAN_HR).pk, "cohandler_ids": [999999]}},
        "dispatch.cohandler_ids",
    ),
    (
        "lead again as co-handler",
        lambda: {"action": "dispatch", "dispatch": {"lead_id": unit_named(PINGSHAN_HR).pk, "cohandler_ids": [unit_named(PINGSHAN_HR).pk]}},
        "dispatch.cohandler_ids",
    ),
    (
        "another unit's dispatch",
        lambda: {"action": "dispatch", "dispatch": {"dispatching_unit_id": unit_named(CITY_FEDERATION).pk}},
        "dispatch.dispatching_unit_id",
    ),
    ("changed suggestion", lambda: {"action": "dispatch", "dispatch": {"expected_unit_ids": [unit_named(PINGSHAN_HR).pk]}}, "dispatch"),
    ("no suggestion", {"action": "dispatch", "category": "online-abuse"}, "dispatch"),
    ("unknown legal basis", {"action": "dispatch", "dispatch": {"legal_basis": "whim"}}, "dispatch.legal_basis"),
]


@pytest.mark.parametrize(("changes", "field"), [(changes, field) for _name, changes, field in BAD_CALLS], ids=[name for name, _c, _f in BAD_CALLS])
def test_bad_input_is_422_naming_the_field_and_saves_nothing(api, demo_org, changes, field):
    from rightscare.registry.services import record_person

    record_person(by=demo_org["pingshan.dispatcher"], unit=unit_of(demo_org["pingshan.dispatcher"]), name="孙女士", phones=[("13700000001", False)])
    changes = changes() if callable(changes) else changes
    dispatcher = api("pingshan.dispatcher")
    before = everything()
    response = dispatcher.post("/calls", zhao_call(demo_org["pingshan.dispatcher"], **changes), headers={"Idempotency-Key": "bad-call"})
    assert error_fields(response) == {field}
    assert everything() == before


def test_a_dispatch_by_someone_who_does_not_dispatch_is_403_and_saves_nothing(api, demo_org):
    operator = api("hotline")
    before = everything()
    response = operator.post("/calls", zhao_call(demo_org["hotline"], action="dispatch"))
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert everything() == before


@pytest.mark.parametrize("username", ["city.supervisor", "pingshan.hr", "pingshan.street", "auditor", "admin"])
def test_only_those_who_take_calls_may(api, demo_org, username):
    someone = api(username)
    before = everything()
    response = someone.post("/calls", zhao_call(demo_org["hotline"]))
    assert response.status_code == 403
    assert everything() == before


def test_an_anonymous_client_is_401(client, demo_org):
    response = client.post("/api/v1/calls", {}, content_type="application/json")
    assert response.status_code == 401


def test_a_caller_on_file_outside_her_reach_is_unknown(api, demo_org):
    pingshan, longhua = api("pingshan.dispatcher"), api("longhua.dispatcher")
    pingshan.post("/calls", zhao_call(demo_org["pingshan.dispatcher"]))
    zhao = Person.objects.get()
    before = everything()
    body = zhao_call(demo_org["longhua.dispatcher"], region_id=region("龙华街道").pk, new_caller=None, caller_id=zhao.pk)
    response = longhua.post("/calls", body)
    assert error_fields(response) == {"caller_id"}
    assert response.json()["errors"] == [{"field": "caller_id", "message": "Unknown person."}]
    assert everything() == before
