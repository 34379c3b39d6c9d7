"""A user's phone and ID number: set through the service, encrypted, indexed, audited, found exactly."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.core import crypto
from rightscare.core.identity import build_id_number, build_unchecked_id_number
from rightscare.org import selectors, services
from rightscare.org.models import User
from rightscare.org.roles import Role

ID_NUMBER = build_id_number(birth_place="440303", birth_date=date(1986, 4, 12), sequence=88)
#: Longhua's code (created 2016) in a number born in 1990: a warning to confirm.
WARNED_ID_NUMBER = build_unchecked_id_number(birth_place="440309", birth_date=date(1990, 3, 8), sequence=124)


def _raw(user: User, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM org_user WHERE id = %s", [user.pk])
        return str(cursor.fetchone()[0])


def _contact_entries(user: User) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type="org.user", object_id=str(user.pk), event="org.set_user_contact").order_by("id"))


def test_sets_normalised_encrypted_indexed_values(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="138-0013-8000", id_number=ID_NUMBER.lower())
    stored = User.objects.get(pk=handler.pk)
    assert (stored.phone, stored.id_number) == ("+8613800138000", ID_NUMBER)
    assert stored.phone_index == crypto.blind_index("phone", "+8613800138000")
    assert stored.id_number_index == crypto.blind_index("id_number", ID_NUMBER)
    # On disk: ciphertexts bound to their column, never the value.
    assert _raw(handler, "phone").startswith("gcm1$test1$")
    assert "13800138000" not in _raw(handler, "phone")
    assert ID_NUMBER not in _raw(handler, "id_number")


def test_audit_says_changed_never_the_values(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000", id_number=ID_NUMBER)
    [entry] = _contact_entries(handler)
    assert (entry.actor_id, entry.action, entry.changes) == (admin.pk, AuditAction.UPDATE, {"id_number": "changed", "phone": "changed"})
    assert entry.unit_id == personas["system_admin"].memberships.get().unit_id


def test_same_values_again_change_and_record_nothing(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000", id_number=ID_NUMBER)
    before = (_raw(handler, "phone"), _raw(handler, "id_number"))
    services.set_user_contact(by=admin, user=handler, phone="+86 138 0013 8000", id_number=ID_NUMBER)
    assert (_raw(handler, "phone"), _raw(handler, "id_number")) == before
    assert len(_contact_entries(handler)) == 1


def test_none_keeps_and_empty_removes(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000", id_number=ID_NUMBER)
    services.set_user_contact(by=admin, user=handler, phone="")
    stored = User.objects.get(pk=handler.pk)
    assert (stored.phone, stored.phone_index, stored.id_number) == ("", "", ID_NUMBER)
    assert _contact_entries(handler)[-1].changes == {"phone": "changed"}


def test_invalid_input_names_the_fields_and_changes_nothing(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000")
    with pytest.raises(ValidationError) as raised:
        services.set_user_contact(by=admin, user=handler, phone="12338", id_number="440303198604120881")
    assert raised.value.message_dict == {
        "phone": ["This is not a valid phone number: check the digits and the area code."],
        "id_number": ["The last character of this ID number (the check digit) does not match: check for a mistyped digit."],
    }
    stored = User.objects.get(pk=handler.pk)
    assert (stored.phone, stored.id_number) == ("+8613800138000", "")
    assert len(_contact_entries(handler)) == 1


def test_warning_needs_confirmation(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    with pytest.raises(ValidationError) as raised:
        services.set_user_contact(by=admin, user=handler, id_number=WARNED_ID_NUMBER)
    [error] = raised.value.error_dict["id_number"]
    assert error.code == services.NEEDS_CONFIRMATION
    assert error.message == (
        "The birth-place code 440309 (龙华区) was not in use in 1990, only in 2016–. Check it against the card. "
        "If the number on the card is exactly this, confirm it to save it."
    )
    assert User.objects.get(pk=handler.pk).id_number == ""
    services.set_user_contact(by=admin, user=handler, id_number=WARNED_ID_NUMBER, confirm_warnings=True)
    assert User.objects.get(pk=handler.pk).id_number == WARNED_ID_NUMBER
    assert list(selectors.find_users_by_id_number(by=admin, id_number=WARNED_ID_NUMBER)) == [handler]


@pytest.mark.parametrize("persona", ["unit_admin_twin", "dispatcher", "volunteer", "auditor"])
def test_outsiders_may_not_and_nothing_changes(personas, persona):
    handler = personas["handler"]
    with pytest.raises(PermissionDenied):
        services.set_user_contact(by=personas[persona], user=handler, phone="13800138000")
    assert User.objects.get(pk=handler.pk).phone == ""
    assert _contact_entries(handler) == []


def test_unit_admin_of_her_subtree_and_the_user_herself_may(personas):
    handler = personas["handler"]
    services.set_user_contact(by=personas["unit_admin"], user=handler, phone="13800138000")
    services.set_user_contact(by=handler, user=handler, phone="13900139000")
    assert User.objects.get(pk=handler.pk).phone == "+8613900139000"


def test_create_user_with_contact(org, personas):
    admin = personas["system_admin"]
    user = services.create_user(
        by=admin,
        username="new.handler",
        full_name="新人",
        password="a-long-enough-passphrase-2026",
        unit=org.units["pingshan_street"],
        role=Role.HANDLER,
        phone="0755-2345 6789",
        id_number=ID_NUMBER,
    )
    stored = User.objects.get(pk=user.pk)
    assert (stored.phone, stored.id_number) == ("+8675523456789", ID_NUMBER)
    assert _contact_entries(user)[0].changes == {"id_number": "changed", "phone": "changed"}


def test_create_user_with_bad_contact_creates_nothing(org, personas):
    admin = personas["system_admin"]
    count = User.objects.count()
    with pytest.raises(ValidationError) as raised:
        services.create_user(
            by=admin,
            username="new.handler",
            full_name="新人",
            password="a-long-enough-passphrase-2026",
            unit=org.units["pingshan_street"],
            role=Role.HANDLER,
            phone="12345",
            id_number=WARNED_ID_NUMBER,
        )
    assert set(raised.value.error_dict) == {"phone", "id_number"}
    assert raised.value.error_dict["id_number"][0].code == services.NEEDS_CONFIRMATION
    assert User.objects.count() == count


# --- finding users ---------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["13800138000", "+86 138-0013-8000", "138 0013 8000", "+8613800138000"])
def test_find_by_phone_in_any_form(personas, typed):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="138 0013 8000")
    assert list(selectors.find_users_by_phone(by=admin, phone=typed)) == [handler]


def test_find_by_landline_in_any_form(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="0755-2345 6789")
    assert list(selectors.find_users_by_phone(by=admin, phone="+86 755 23456789")) == [handler]


def test_find_by_phone_is_exact_and_never_a_prefix(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000")
    assert list(selectors.find_users_by_phone(by=admin, phone="13800138001")) == []
    with pytest.raises(ValidationError) as raised:
        selectors.find_users_by_phone(by=admin, phone="1380013")
    assert list(raised.value.message_dict) == ["phone"]


def test_find_is_scoped_to_the_users_she_administers(personas):
    admin, handler, twin = personas["system_admin"], personas["handler"], personas["handler_twin"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000", id_number=ID_NUMBER)
    services.set_user_contact(by=admin, user=twin, phone="13800138000")
    assert set(selectors.find_users_by_phone(by=admin, phone="13800138000")) == {handler, twin}
    assert list(selectors.find_users_by_phone(by=personas["unit_admin"], phone="13800138000")) == [handler]
    assert list(selectors.find_users_by_phone(by=personas["unit_admin_twin"], phone="13800138000")) == [twin]
    assert list(selectors.find_users_by_id_number(by=personas["unit_admin_twin"], id_number=ID_NUMBER)) == []
    assert list(selectors.find_users_by_phone(by=personas["dispatcher"], phone="13800138000")) == []


def test_find_by_id_number_rejects_invalid_numbers(personas):
    with pytest.raises(ValidationError) as raised:
        selectors.find_users_by_id_number(by=personas["system_admin"], id_number="4403")
    assert raised.value.message_dict == {"id_number": ["An ID number has 18 characters; this one has 4."]}


# --- reading -----------------------------------------------------------------------------------


def test_read_is_audited_with_field_names_only(personas):
    admin, handler = personas["system_admin"], personas["handler"]
    services.set_user_contact(by=admin, user=handler, phone="13800138000", id_number=ID_NUMBER)
    values = services.read_user_contact(by=admin, user=handler, fields=("id_number",))
    assert values == {"id_number": ID_NUMBER}
    entry = AuditEntry.objects.filter(action=AuditAction.READ, object_id=str(handler.pk)).get()
    assert (entry.actor_id, entry.changes) == (admin.pk, {"fields": ["id_number"]})


def test_reading_an_empty_field_records_nothing(personas):
    services.read_user_contact(by=personas["system_admin"], user=personas["handler"], fields=("phone",))
    assert not AuditEntry.objects.filter(action=AuditAction.READ).exists()


def test_outsider_may_not_read(personas):
    with pytest.raises(PermissionDenied):
        services.read_user_contact(by=personas["unit_admin_twin"], user=personas["handler"], fields=("phone",))
    assert not AuditEntry.objects.filter(action=AuditAction.READ).exists()
