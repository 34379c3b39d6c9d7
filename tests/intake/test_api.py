"""The intake API: contacts, people and the caller-history pop-up."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from rightscare.core.identity import build_id_number
from rightscare.intake.models import Contact
from rightscare.registry.models import Person, PersonPhone
from tests.api_client import ApiClient, error_fields
from tests.case_scenarios import PETITIONER_PHONE, RESPONDENT_PHONE, build_case_targets, case_fingerprint


@pytest.fixture
def targets(org, personas) -> dict[str, Any]:
    return build_case_targets(org, personas)


@pytest.fixture
def operator(client, personas) -> ApiClient:
    return ApiClient(client, personas["operator"])


def _contact(org, **changes: Any) -> dict[str, Any]:
    return {"unit_id": org.units["pingshan"].pk, "channel": "hotline", "content": "来电咨询。", **changes}


def _person(org, **changes: Any) -> dict[str, Any]:
    return {"unit_id": org.units["pingshan"].pk, "name": "孙女士", "sex": "female", **changes}


# --- contacts --------------------------------------------------------------------------------


def test_contact_on_a_case_is_on_its_timeline(org, targets, operator):
    case = targets["case"]
    response = operator.post("/contacts", _contact(org, case_id=case.pk, caller_id=targets["petitioner"].pk, caller_phone=PETITIONER_PHONE, outcome="attached"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["case_id"], body["caller_id"], body["outcome"], body["channel"]) == (case.pk, targets["petitioner"].pk, "attached", "hotline")
    contact = Contact.objects.get(pk=body["id"])
    assert (contact.caller_phone, contact.operator) == ("+8613800138021", operator.user)
    assert case.events.filter(kind="contact", data__contact=contact.pk).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"caller_phone": "12345"}, "caller_phone"),
        ({"caller_phone": "电话号码"}, "caller_phone"),
        ({"channel": "pigeon"}, "channel"),
        ({"content": ""}, "content"),
        ({"unit_id": "longhua"}, "unit_id"),
        ({"case_id": 999999}, "case_id"),
        ({"caller_id": 999999}, "caller_id"),
        ({"channel": "platform_12345"}, "external_ticket_number"),
        ({"channel": "platform_12345", "external_ticket_number": "SZ12345-1", "external_deadline": "2026-12-01T12:00:00"}, "external_deadline"),
    ],
)
def test_bad_contact_is_422_naming_the_field_and_nothing_saved(org, targets, operator, changes, field):
    changes = {key: org.units[value].pk if key == "unit_id" else value for key, value in changes.items()}
    before = case_fingerprint()
    assert error_fields(operator.post("/contacts", _contact(org, **changes))) == {field}
    assert case_fingerprint() == before


def test_contact_on_a_case_of_another_district_is_422(org, personas, targets, client):
    twin = ApiClient(client, personas["operator_twin"])
    response = twin.post("/contacts", _contact(org, unit_id=org.units["longhua"].pk, case_id=targets["case"].pk))
    assert error_fields(response) == {"case_id"}


def test_contact_retried_with_the_same_key_is_one_contact(org, operator):
    responses = [operator.post("/contacts", _contact(org, caller_phone=PETITIONER_PHONE), headers={"Idempotency-Key": "cti-call-77"}) for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 200, 200]
    assert len({r.json()["id"] for r in responses}) == 1
    assert Contact.objects.count() == 1


def test_contact_list_is_my_units_newest_first_with_constant_queries(org, personas, client, operator, django_assert_num_queries):
    twin = ApiClient(client, personas["operator_twin"])
    twin.post("/contacts", _contact(org, unit_id=org.units["longhua"].pk))
    first = operator.post("/contacts", _contact(org)).json()["id"]
    with django_assert_num_queries(4):  # the token, her memberships, count, rows
        page = operator.get("/contacts").json()
    assert [c["id"] for c in page["items"]] == [first]
    for _ in range(3):
        operator.post("/contacts", _contact(org))
    with django_assert_num_queries(4):
        page = operator.get("/contacts").json()
    assert page["count"] == 4 and page["items"][-1]["id"] == first
    assert "content" not in page["items"][0] and "caller_phone" not in page["items"][0]


# --- people ----------------------------------------------------------------------------------


def test_person_with_id_number_phones_and_safe_contact(org, operator):
    id_number = build_id_number(birth_place="440303", birth_date=date(1990, 3, 8), sequence=128)
    response = operator.post(
        "/people",
        _person(
            org,
            id_number=id_number,
            date_of_birth="1990-03-08",
            phones=[{"number": "137 1234 5678", "shared": True}],
            address_region_id=org.regions["pingshan_street"].pk,
            address="坪山街道某小区",
            address_confidential=True,
            safe_contact={"may_text": False, "safe_from": "09:00", "safe_until": "17:00", "neutral_sender": "社区服务"},
        ),
    )
    assert response.status_code == 201, response.content
    person = Person.objects.get(pk=response.json()["id"])
    assert (person.id_number, person.address_confidential, person.recorded_by_unit) == (id_number, True, org.units["pingshan"])
    assert [(p.phone, p.shared) for p in person.phones.all()] == [("+8613712345678", True)]
    assert (person.safe_contact.may_text, person.safe_contact.neutral_sender) == (False, "社区服务")
    assert "id_number" not in response.json() and "address" not in response.json()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id_number": "440303199003081234"}, "id_number"),  # wrong check digit
        ({"id_number": "12345"}, "id_number"),
        ({"phones": [{"number": "12345"}]}, "phones"),
        ({"phones": [{"number": "1"}]}, "phones.0.number"),
        ({"guardian_id": 999999}, "guardian_id"),
        ({"guardian_is_alleged_abuser": True}, "guardian_id"),
        ({"address_region_id": "longhua"}, "address_region_id"),
        ({"unit_id": "longhua"}, "unit_id"),
        ({"approximate_age": 131}, "approximate_age"),
        ({"sex": "other"}, "sex"),
        ({"safe_contact": {"safe_from": "09:00:00+08:00"}}, "safe_contact.safe_from"),
    ],
)
def test_bad_person_is_422_naming_the_field_and_nothing_saved(org, operator, changes, field):
    named = {
        key: (org.regions[value].pk if key == "address_region_id" else org.units[value].pk) if value == "longhua" else value for key, value in changes.items()
    }
    before = (Person.objects.count(), PersonPhone.objects.count())
    assert error_fields(operator.post("/people", _person(org, **named))) == {field}
    assert (Person.objects.count(), PersonPhone.objects.count()) == before


def test_person_retried_with_the_same_key_is_one_person(org, operator):
    responses = [operator.post("/people", _person(org, phones=[{"number": "137 1234 5678"}]), headers={"Idempotency-Key": "intake-9"}) for _ in range(2)]
    assert [r.status_code for r in responses] == [201, 200]
    assert responses[0].json() == responses[1].json()
    assert (Person.objects.count(), PersonPhone.objects.count()) == (1, 1)


def test_handler_records_people_for_her_own_unit(org, personas, client):
    handler = ApiClient(client, personas["handler"])
    assert handler.post("/people", _person(org, unit_id=org.units["pingshan_street"].pk)).status_code == 201
    assert ApiClient(client, personas["supervisor"]).post("/people", _person(org)).status_code == 403


# --- caller history --------------------------------------------------------------------------


def test_caller_history_shows_her_cases(targets, operator):
    history = operator.get("/caller-history", {"phone": "+86 138-0013-8021"}).json()
    assert history["phone_known"] is True
    assert [c["id"] for c in history["cases"]] == [targets["case"].pk]
    assert history["cases"][0] == {
        "id": targets["case"].pk,
        "number": targets["case"].number,
        "status": "dispatched",
        "category": "wage-arrears",
        "created_at": history["cases"][0]["created_at"],
    }


def test_respondents_phone_shows_nothing_of_the_victims_cases(targets, operator):
    history = operator.get("/caller-history", {"phone": RESPONDENT_PHONE}).json()
    assert (history["cases"], history["contacts"]) == ([], [])


def test_respondents_calls_show_nothing_of_the_victims_case(org, targets, operator):
    operator.post("/contacts", _contact(org, case_id=targets["case"].pk, caller_phone=RESPONDENT_PHONE, content="被投诉人来电。"))
    history = operator.get("/caller-history", {"phone": RESPONDENT_PHONE}).json()
    assert (history["cases"], history["contacts"]) == ([], [])


def test_caller_history_of_another_district_is_empty(personas, targets, client):
    history = ApiClient(client, personas["operator_twin"]).get("/caller-history", {"phone": PETITIONER_PHONE}).json()
    assert (history["cases"], history["contacts"]) == ([], [])


def test_caller_history_needs_a_complete_valid_number(operator):
    assert error_fields(operator.get("/caller-history", {"phone": "138 0013"})) == {"phone"}
    assert error_fields(operator.get("/caller-history")) == {"phone"}


def test_caller_history_is_for_intake(personas, client):
    response = ApiClient(client, personas["handler"]).get("/caller-history", {"phone": PETITIONER_PHONE})
    assert (response.status_code, response["Content-Type"]) == (403, "application/problem+json")


def test_12345_deadline_with_an_unusual_offset_is_kept_in_utc(org, operator):
    body = _contact(org, channel="platform_12345", external_ticket_number="SZ12345-2026-1", external_deadline="2026-12-01T12:00:00+16:00")
    response = operator.post("/contacts", body)
    assert (response.status_code, response.json()["external_deadline"]) == (201, "2026-11-30T20:00:00Z")
