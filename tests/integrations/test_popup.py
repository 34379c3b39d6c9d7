"""The operator's call pop-up: her extension's call, the caller's history in her scope only, and the call attached to the contact she saves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from rightscare.audit.models import AuditEntry
from rightscare.cases.models import Category
from rightscare.cases.services import register_case
from rightscare.intake.models import Contact
from rightscare.intake.services import record_contact
from rightscare.integrations.models import CallRecord, CallState
from rightscare.integrations.services import attach_call, current_call, map_extension
from tests.intake.conftest import call_data

POPUP = "/intake/cti/call/"


def ring(*, user, phone: str = "+8613800138021", extension: str = "8001", state: str = CallState.RINGING, call_id: str = "call-1", **times) -> CallRecord:
    now = timezone.now()
    return CallRecord.objects.create(
        call_id=call_id, extension=extension, operator=user, caller_phone=phone, state=state, ringing_at=times.pop("ringing_at", now), **times
    )


@pytest.fixture
def pingshan_case(org, personas):
    """A Pingshan case with an earlier call from 138 0013 8021."""
    operator = personas["operator"]
    case = register_case(
        by=operator,
        unit=org.units["pingshan"],
        request_type="help",
        category=Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True),
        summary="孕期被辞退。",
        region=org.regions["pingshan_community"],
    )
    record_contact(by=operator, unit=org.units["pingshan"], channel="hotline", content="来电。", caller_phone="138 0013 8021", case=case)
    return case


def test_the_popup_shows_her_call_and_the_callers_history(as_user, personas, pingshan_case):
    operator = personas["operator"]
    map_extension(by=personas["system_admin"], extension="8001", user=operator)
    call = ring(user=operator)
    response = as_user(operator).get(POPUP)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Incoming call" in html
    assert f'name="cti_call" value="{call.pk}"' in html
    assert pingshan_case.number in html
    assert 'data-cti-phone="138 0013 8021"' in html


def test_an_operator_of_another_district_sees_no_history(as_user, personas, pingshan_case):
    twin = personas["operator_twin"]
    map_extension(by=personas["system_admin"], extension="8002", user=twin)
    ring(user=twin, extension="8002", call_id="call-2")
    html = as_user(twin).get(POPUP).content.decode()
    assert "Incoming call" in html
    assert pingshan_case.number not in html
    assert "No earlier calls or cases from this number in your scope." in html


def test_she_never_sees_another_operators_call(as_user, personas, pingshan_case):
    ring(user=personas["operator"])
    map_extension(by=personas["system_admin"], extension="8002", user=personas["operator_twin"])
    html = as_user(personas["operator_twin"]).get(POPUP).content.decode()
    assert "No call at your extension." in html
    assert "8021" not in html


def test_a_respondents_phone_reveals_nothing(as_user, personas, org):
    operator = personas["operator"]
    client = as_user(operator)
    # A victim's case naming her husband, whose number then calls the hotline.
    saved = client.post(
        reverse("intake"), call_data(caller_phone="13800138032", caller_name="刘某某", respondent_name="蔡某", respondent_phone="138 0013 8031")
    )
    assert saved.status_code == 302
    ring(user=operator, phone="+8613800138031")
    html = client.get(POPUP).content.decode()
    assert "No earlier calls or cases from this number in your scope." in html
    assert "SZ-" not in html


def test_an_ended_call_lingers_until_it_is_on_a_contact(personas, settings):
    operator = personas["operator"]
    settings.CTI_POPUP_LINGER_SECONDS = 600
    now = timezone.now()
    call = ring(user=operator, state=CallState.ENDED, ringing_at=now - timedelta(minutes=5), ended_at=now - timedelta(minutes=4))
    assert current_call(user=operator) == call
    assert current_call(user=operator, now=now + timedelta(minutes=7)) is None
    assert current_call(user=personas["operator_twin"]) is None


def test_the_screen_polls_only_for_an_operator_with_an_extension(as_user, personas):
    operator = personas["operator"]
    client = as_user(operator)
    assert 'hx-get="/intake/cti/call/"' not in client.get(reverse("intake")).content.decode()
    map_extension(by=personas["system_admin"], extension="8001", user=operator)
    assert 'hx-get="/intake/cti/call/"' in client.get(reverse("intake")).content.decode()


def test_the_popup_is_for_those_who_take_calls(as_user, personas):
    assert as_user(personas["handler"]).get(POPUP).status_code == 403


def test_saving_the_call_attaches_the_call_record_to_the_contact(as_user, personas):
    operator = personas["operator"]
    call = ring(user=operator, state=CallState.ANSWERED, answered_at=timezone.now())
    response = as_user(operator).post(reverse("intake"), call_data(cti_call=str(call.pk)))
    assert response.status_code == 302
    contact = Contact.objects.get()
    call.refresh_from_db()
    assert call.contact == contact
    assert AuditEntry.objects.filter(event="integrations.attach_call", object_id=str(call.pk)).count() == 1
    # Once on a contact, an ended call no longer lingers in her pop-up.
    CallRecord.objects.filter(pk=call.pk).update(state=CallState.ENDED, ended_at=timezone.now())
    assert current_call(user=operator) is None


def test_another_operators_call_id_is_ignored(as_user, personas):
    foreign = ring(user=personas["operator_twin"], extension="8002")
    response = as_user(personas["operator"]).post(reverse("intake"), call_data(cti_call=str(foreign.pk)))
    assert response.status_code == 302
    foreign.refresh_from_db()
    assert foreign.contact is None
    assert Contact.objects.count() == 1


def test_a_call_goes_on_one_contact_only(personas, org):
    operator = personas["operator"]
    call = ring(user=operator)
    first = record_contact(by=operator, unit=org.units["pingshan"], channel="hotline", content="一", caller_phone="13800138021")
    second = record_contact(by=operator, unit=org.units["pingshan"], channel="hotline", content="二", caller_phone="13800138021")
    assert attach_call(by=operator, call_id=call.pk, contact=first) is not None
    assert attach_call(by=operator, call_id=call.pk, contact=second) is None
    assert attach_call(by=operator, call_id="not-a-number", contact=second) is None
    call.refresh_from_db()
    assert call.contact == first
