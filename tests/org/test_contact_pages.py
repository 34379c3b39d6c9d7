"""Phone and ID number in the user pages and in ``/api/v1/me``: the warning flow, masking, audited reads."""

from __future__ import annotations

from datetime import date

import pytest

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.core.identity import build_id_number, build_unchecked_id_number
from rightscare.org import services
from rightscare.org.models import User

ID_NUMBER = build_id_number(birth_place="440303", birth_date=date(1991, 7, 2), sequence=6)  # ends in X
WARNED_ID_NUMBER = build_unchecked_id_number(birth_place="440309", birth_date=date(1990, 3, 8), sequence=124)


def _reads(user: User) -> list[dict]:
    return [e.changes for e in AuditEntry.objects.filter(action=AuditAction.READ, object_id=str(user.pk)).order_by("id")]


def _edit_data(user: User, **overrides: str) -> dict[str, str]:
    data = {"full_name": user.full_name, "email": user.email, "is_active": "on", "phone": "", "id_number": ""}
    data.update(overrides)
    return data


@pytest.fixture
def admin(login, personas):
    login(personas["system_admin"])
    return personas["system_admin"]


# --- the user page ---------------------------------------------------------------------------


def test_detail_shows_phone_in_full_and_id_number_masked_and_audits_the_phone(client, admin, personas):
    handler = personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000", id_number=ID_NUMBER)
    html = client.get(f"/org/users/{handler.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "+86 138 0013 8000" in html
    assert "4403**********006X" in html
    assert ID_NUMBER not in html
    assert _reads(handler) == [{"fields": ["phone"]}]


def test_detail_without_contact_audits_nothing(client, admin, personas):
    handler = personas["handler"]
    response = client.get(f"/org/users/{handler.pk}/")
    assert response.status_code == 200
    assert _reads(handler) == []


def test_show_id_number_reveals_it_and_audits_the_read(client, admin, personas):
    handler = personas["handler"]
    services.set_user_contact(by=admin, user=handler, id_number=ID_NUMBER)
    response = client.post(f"/org/users/{handler.pk}/id-number/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert ID_NUMBER in html
    assert "<html" not in html
    assert _reads(handler) == [{"fields": ["id_number"]}]
    # Without htmx the whole page comes back, the number shown.
    page = client.post(f"/org/users/{handler.pk}/id-number/").content.decode()
    assert ID_NUMBER in page and "<html" in page
    assert _reads(handler)[-1] == {"fields": ["id_number"]}


def test_show_id_number_is_a_post(client, admin, personas):
    assert client.get(f"/org/users/{personas['handler'].pk}/id-number/").status_code == 405


def test_outsider_cannot_reveal_and_nothing_is_recorded(client, login, personas):
    handler = personas["handler"]
    services.set_user_contact(by=personas["system_admin"], user=handler, id_number=ID_NUMBER)
    login(personas["unit_admin_twin"])
    response = client.post(f"/org/users/{handler.pk}/id-number/")
    assert response.status_code == 404
    assert ID_NUMBER not in response.content.decode()
    assert _reads(handler) == []


# --- editing -------------------------------------------------------------------------------------


def test_edit_sets_phone_and_id_number(client, admin, personas):
    handler = personas["handler"]
    response = client.post(f"/org/users/{handler.pk}/edit/", _edit_data(handler, phone="+86 138-0013-8000", id_number=ID_NUMBER.lower()))
    assert response.status_code == 302
    stored = User.objects.get(pk=handler.pk)
    assert (stored.phone, stored.id_number) == ("+8613800138000", ID_NUMBER)


def test_edit_with_empty_id_number_keeps_it_and_remove_removes_it(client, admin, personas):
    handler = personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000", id_number=ID_NUMBER)
    client.post(f"/org/users/{handler.pk}/edit/", _edit_data(handler, phone="13800138000"))
    assert User.objects.get(pk=handler.pk).id_number == ID_NUMBER
    client.post(f"/org/users/{handler.pk}/edit/", _edit_data(handler, phone="13800138000", remove_id_number="on"))
    stored = User.objects.get(pk=handler.pk)
    assert (stored.phone, stored.id_number, stored.id_number_index) == ("+8613800138000", "", "")


def test_edit_with_bad_phone_shows_the_error_and_changes_nothing(client, admin, personas):
    handler = personas["handler"]
    response = client.post(f"/org/users/{handler.pk}/edit/", _edit_data(handler, full_name="改过的名字", phone="12338"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    assert "This is not a valid phone number: check the digits and the area code." in response.content.decode()
    stored = User.objects.get(pk=handler.pk)
    assert (stored.full_name, stored.phone) == ("handler", "")
    assert not AuditEntry.objects.filter(event__in=["org.update_user", "org.set_user_contact"]).exists()


def test_edit_warning_asks_for_confirmation_then_saves(client, admin, personas):
    handler = personas["handler"]
    url = f"/org/users/{handler.pk}/edit/"
    first = client.post(url, _edit_data(handler, id_number=WARNED_ID_NUMBER), HTTP_ACCEPT_LANGUAGE="en")
    html = first.content.decode()
    assert first.status_code == 422
    assert "was not in use in 1990" in html
    assert 'name="confirm_warnings"' in html
    assert User.objects.get(pk=handler.pk).id_number == ""
    # Sending it again without ticking the box is refused again.
    again = client.post(url, _edit_data(handler, id_number=WARNED_ID_NUMBER))
    assert again.status_code == 422
    assert User.objects.get(pk=handler.pk).id_number == ""
    confirmed = client.post(url, _edit_data(handler, id_number=WARNED_ID_NUMBER, confirm_warnings="on"))
    assert confirmed.status_code == 302
    assert User.objects.get(pk=handler.pk).id_number == WARNED_ID_NUMBER


def test_confirmation_box_is_not_offered_before_a_warning(client, admin, personas):
    html = client.get(f"/org/users/{personas['handler'].pk}/").content.decode()
    assert 'name="confirm_warnings"' not in html
    assert 'name="phone"' in html and 'name="id_number"' in html


def test_create_form_warning_flow(client, admin, org):
    data = {
        "username": "new.handler",
        "full_name": "新人",
        "email": "",
        "password": "a-long-enough-passphrase-2026",
        "unit": str(org.units["pingshan_street"].pk),
        "role": "handler",
        "phone": "0755-2345 6789",
        "id_number": WARNED_ID_NUMBER,
        "idempotency_key": "create-1",
    }
    first = client.post("/org/users/new/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert first.status_code == 422
    assert 'name="confirm_warnings"' in first.content.decode()
    assert not User.objects.filter(username="new.handler").exists()
    second = client.post("/org/users/new/", {**data, "confirm_warnings": "on"})
    assert second.status_code == 302
    created = User.objects.get(username="new.handler")
    assert (created.phone, created.id_number) == ("+8675523456789", WARNED_ID_NUMBER)


# --- the users list --------------------------------------------------------------------------------


def test_list_finds_by_exact_phone_in_any_form(client, admin, personas):
    handler = personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000")
    response = client.post("/org/users/", {"phone": "+86 138-0013-8000"})
    assert response.status_code == 200
    assert [u.pk for u in response.context["page"].object_list] == [handler.pk]
    assert list(client.post("/org/users/", {"phone": "13800138001"}).context["page"].object_list) == []


def test_list_phone_search_explains_a_bad_number(client, admin, personas):
    response = client.post("/org/users/", {"phone": "1380013"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    assert "This is not a valid phone number" in response.content.decode()
    assert list(response.context["page"].object_list) == []


def test_list_phone_search_is_scoped(client, login, personas):
    services.set_user_contact(by=personas["system_admin"], user=personas["handler_twin"], phone="13800138000")
    login(personas["unit_admin"])
    assert list(client.post("/org/users/", {"phone": "13800138000"}).context["page"].object_list) == []


# --- the API ------------------------------------------------------------------------------------------


@pytest.fixture
def operator_token(personas):
    return services.create_api_token(by=personas["operator"], name="test")[1]


def _patch(client, token, body):
    return client.patch("/api/v1/me", body, content_type="application/json", headers={"Authorization": f"Bearer {token}"})


def test_me_shows_masked_phone_and_id_number(client, personas, operator_token):
    services.set_user_contact(by=personas["operator"], user=personas["operator"], phone="13800138000", id_number=ID_NUMBER)
    body = client.get("/api/v1/me", headers={"Authorization": f"Bearer {operator_token}"}).json()
    assert (body["phone"], body["id_number"]) == ("+86 138****8000", "4403**********006X")


def test_patch_me_sets_my_phone_idempotently(client, personas, operator_token):
    operator = personas["operator"]
    first = _patch(client, operator_token, {"phone": "138 0013 8000"})
    assert (first.status_code, first.json()["phone"]) == (200, "+86 138****8000")
    second = _patch(client, operator_token, {"phone": "+8613800138000"})
    assert (second.status_code, second.json()) == (200, first.json())
    assert User.objects.get(pk=operator.pk).phone == "+8613800138000"
    assert AuditEntry.objects.filter(event="org.set_user_contact", object_id=str(operator.pk)).count() == 1


def test_patch_me_bad_phone_is_a_problem_naming_the_field(client, personas, operator_token):
    response = _patch(client, operator_token, {"phone": "12338"})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "phone", "message": "This is not a valid phone number: check the digits and the area code."}]
    assert User.objects.get(pk=personas["operator"].pk).phone == ""


def test_patch_me_id_number_warning_needs_confirm_warnings(client, personas, operator_token):
    refused = _patch(client, operator_token, {"id_number": WARNED_ID_NUMBER})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["id_number"]
    assert User.objects.get(pk=personas["operator"].pk).id_number == ""
    accepted = _patch(client, operator_token, {"id_number": WARNED_ID_NUMBER, "confirm_warnings": True})
    assert (accepted.status_code, accepted.json()["id_number"]) == (200, "4403**********1245")


def test_patch_me_without_fields_changes_nothing(client, personas, operator_token):
    response = _patch(client, operator_token, {})
    assert (response.status_code, response.json()["phone"]) == (200, "")
    assert not AuditEntry.objects.filter(event="org.set_user_contact").exists()
