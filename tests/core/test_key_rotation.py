"""Rotating the field key and the index key: every value moves to the new key and stays readable and findable."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from rightscare.core import crypto, rotation
from rightscare.core.identity import build_id_number
from rightscare.core.keyfiles import new_ring_key
from rightscare.org import selectors, services
from rightscare.org.models import User

OLD_FIELD, NEW_FIELD = new_ring_key("old"), new_ring_key("new")
OLD_INDEX, NEW_INDEX = new_ring_key("iold"), new_ring_key("inew")


@pytest.fixture
def use_keys(settings, monkeypatch):
    """Configure the key rings through the settings (the environment's keys are removed)."""
    for name in ("RIGHTSCARE_FIELD_KEY", "RIGHTSCARE_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)

    def use(*, field: str | None = None, index: str | None = None) -> None:
        if field is not None:
            settings.FIELD_KEY_SPEC = field
        if index is not None:
            settings.INDEX_KEY_SPEC = index
        crypto.reset_keys()

    use(field=OLD_FIELD, index=OLD_INDEX)
    yield use
    crypto.reset_keys()


def _phone(n: int) -> str:
    return f"+861390000{n:04d}"


def _id_number(n: int) -> str:
    return build_id_number(birth_place="440303", birth_date=date(1990 + n % 30, 1 + n % 12, 1 + n % 28), sequence=n)


@pytest.fixture
def people(use_keys, personas):
    """Every persona with a phone and an ID number, written under the old keys."""
    admin = personas["system_admin"]
    users = sorted(personas.values(), key=lambda u: u.pk)
    for n, user in enumerate(users):
        services.set_user_contact(by=admin, user=user, phone=_phone(n), id_number=_id_number(n))
    return users


def _raw(column: str) -> dict[int, str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM org_user WHERE {column} <> '' ORDER BY id")
        return dict(cursor.fetchall())


def _lines(output: str, prefix: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(prefix)]


# --- the field key ---------------------------------------------------------------------------------


def test_rotation_moves_every_value_to_the_new_key_in_batches(people, use_keys):
    assert {crypto.key_id_of(v) for v in _raw("phone").values()} == {"old"}
    use_keys(field=f"{NEW_FIELD},{OLD_FIELD}")
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_field_key", "--batch-size", "4", stdout=out, stderr=err)
    assert _lines(out.getvalue(), "org_user.") == [
        f"org_user.phone: {len(people)} re-encrypted, 0 already on key new",
        f"org_user.id_number: {len(people)} re-encrypted, 0 already on key new",
    ]
    assert "org_user.phone" in err.getvalue() and "100%" in err.getvalue()
    for column in ("phone", "id_number"):
        assert {crypto.key_id_of(v) for v in _raw(column).values()} == {"new"}
    # The old key can go: everything still reads.
    use_keys(field=NEW_FIELD)
    for n, user in enumerate(people):
        stored = User.objects.get(pk=user.pk)
        assert (stored.phone, stored.id_number) == (_phone(n), _id_number(n))


def test_rotation_is_resumable_and_skips_values_on_the_active_key(people, use_keys):
    use_keys(field=f"{NEW_FIELD},{OLD_FIELD}")
    # Written after the switch: already on the new key.
    services.set_user_contact(by=people[0], user=people[0], phone="13800138000")
    first = {r.label: r for r in rotation.rotate_field_key(batch_size=5)}
    assert (first["org_user.phone"].rewritten, first["org_user.phone"].current) == (len(people) - 1, 1)
    before = _raw("phone")
    again = {r.label: r for r in rotation.rotate_field_key(batch_size=5)}
    assert (again["org_user.phone"].rewritten, again["org_user.phone"].current) == (0, len(people))
    assert _raw("phone") == before


def test_a_value_under_a_key_no_longer_configured_stops_the_rotation(people, use_keys):
    use_keys(field=NEW_FIELD)
    with pytest.raises(CommandError, match="RIGHTSCARE_FIELD_KEY has no key old"):
        call_command("rotate_field_key", stdout=io.StringIO(), stderr=io.StringIO())
    assert {crypto.key_id_of(v) for v in _raw("phone").values()} == {"old"}


def test_batch_size_must_be_positive(use_keys):
    with pytest.raises(CommandError, match="--batch-size must be at least 1"):
        call_command("rotate_field_key", "--batch-size", "0", stdout=io.StringIO(), stderr=io.StringIO())


def test_every_encrypted_field_is_found():
    labels = {f"{model._meta.db_table}.{field.column}" for model, field in rotation.encrypted_fields()}
    assert {"org_user.phone", "org_user.id_number"} <= labels
    indexes = {(f"{model._meta.db_table}.{field.column}", field.source, field.kind) for model, field in rotation.blind_index_fields()}
    assert {("org_user.phone_index", "phone", "phone"), ("org_user.id_number_index", "id_number", "id_number")} <= indexes


# --- the index key -------------------------------------------------------------------------------------


def test_index_rotation_keeps_lookups_working_throughout(people, use_keys):
    admin = User.objects.get(username="system_admin")
    target = User.objects.get(username="handler")
    phone, id_number = target.phone, target.id_number
    use_keys(index=f"{NEW_INDEX},{OLD_INDEX}")
    # Mid-rotation: the old digests are still found.
    assert list(selectors.find_users_by_phone(by=admin, phone=phone)) == [target]
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_index_key", "--batch-size", "3", stdout=out, stderr=err)
    assert _lines(out.getvalue(), "org_user.") == [
        f"org_user.phone_index: {len(people)} recomputed, 0 already on key inew",
        f"org_user.id_number_index: {len(people)} recomputed, 0 already on key inew",
    ]
    assert "100%" in err.getvalue()
    for column in ("phone_index", "id_number_index"):
        assert {value.split("$")[0] for value in _raw(column).values()} == {"inew"}
    use_keys(index=NEW_INDEX)
    assert list(selectors.find_users_by_phone(by=admin, phone=phone)) == [target]
    assert list(selectors.find_users_by_id_number(by=admin, id_number=id_number)) == [target]


def test_a_lost_index_key_is_rebuilt_from_the_data(people, use_keys):
    admin = User.objects.get(username="system_admin")
    target = User.objects.get(username="handler")
    use_keys(index=new_ring_key("fresh"))
    assert list(selectors.find_users_by_phone(by=admin, phone=target.phone)) == []
    reports = {r.label: r for r in rotation.rotate_index_key()}
    assert reports["org_user.phone_index"].rewritten == len(people)
    assert list(selectors.find_users_by_phone(by=admin, phone=target.phone)) == [target]


def test_an_empty_value_gets_an_empty_index_and_is_not_counted(people, use_keys):
    User.objects.filter(username="handler").update(phone="")  # the index now points at nothing
    use_keys(index=f"{NEW_INDEX},{OLD_INDEX}")
    reports = {r.label: r for r in rotation.rotate_index_key()}
    assert reports["org_user.phone_index"].rewritten == len(people)
    assert User.objects.get(username="handler").phone_index == ""
    assert {r.label: r.rewritten for r in rotation.rotate_index_key()}["org_user.phone_index"] == 0


def test_a_value_that_no_longer_validates_is_reported_by_id_and_fails_the_command(people, use_keys):
    target = User.objects.get(username="handler")
    User.objects.filter(pk=target.pk).update(phone="12338")  # stored before the rules, say
    use_keys(index=f"{NEW_INDEX},{OLD_INDEX}")
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 indexes could not be recomputed"):
        call_command("rotate_index_key", stdout=out, stderr=io.StringIO())
    assert f"1 not recomputed (their value no longer passes validation; ids: {target.pk})" in out.getvalue()
    assert "12338" not in out.getvalue()
    assert User.objects.get(pk=target.pk).phone_index.startswith("iold$")
