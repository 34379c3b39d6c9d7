"""Every write of the organisation is audited in its own transaction: who, for which unit, what changed.

Secrets (passwords, tokens, protected fields) are recorded as "changed", never with their values.
"""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import translation

from rightscare.audit.models import AuditEntry
from rightscare.org import access, services
from rightscare.org.divisions import RegionLevel
from rightscare.org.models import Membership, Region, Unit, User
from rightscare.org.roles import Capability, Role
from tests.factories import kind

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "lantern-orchid-57-quay"


def entries(*events: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(event__in=events).order_by("id"))


def summary(entry: AuditEntry) -> tuple:
    return (entry.actor_id, entry.unit_id, entry.action, entry.event, entry.object_type, entry.object_id)


def ref(obj) -> dict:
    # Snapshots are taken in the installation's language (Chinese), whatever the request's.
    with translation.override(settings.LANGUAGE_CODE):
        return {"id": obj.pk, "label": str(obj)}


def test_create_and_update_region(org, personas):
    admin, shenzhen = personas["system_admin"], org.regions["shenzhen"]
    region = services.create_region(by=admin, name="光明区", level=RegionLevel.DISTRICT, parent=shenzhen, code="440311000000")
    services.update_region(by=admin, region=region, name="光明区", name_en="Guangming", level=RegionLevel.DISTRICT, parent=shenzhen, code="440311000000")

    created, updated = entries("org.create_region", "org.update_region")
    assert summary(created) == (admin.pk, org.units["city"].pk, "create", "org.create_region", "org.region", str(region.pk))
    assert (created.actor_label, created.unit_label, created.object_label) == ("system_admin (system_admin)", "深圳市妇联", "光明区")
    assert created.changes == {
        "name": [None, "光明区"],
        "name_en": [None, ""],
        "level": [None, "district"],
        "code_scheme": [None, "cn_stats"],
        "code": [None, "440311000000"],
        "parent": [None, ref(shenzhen)],
    }
    assert summary(updated) == (admin.pk, org.units["city"].pk, "update", "org.update_region", "org.region", str(region.pk))
    assert updated.changes == {"name_en": ["", "Guangming"]}


def test_import_records_the_import_and_each_region_it_creates_or_renames(org, personas):
    admin = personas["system_admin"]
    text = "code,name,level,parent_code,name_en\n440311000000,光明区,district,440300000000,Guangming\n440310000000,坪山区,district,440300000000,Pingshan New\n"
    report = services.import_regions(by=admin, text=text)
    assert (report.created, report.updated) == (1, 1)

    guangming = Region.objects.get(code="440311000000")
    rows = entries("org.import_regions")
    assert [(e.action, e.object_type, e.object_id) for e in rows] == [
        ("create", "org.region", str(guangming.pk)),
        ("update", "org.region", str(org.regions["pingshan"].pk)),
        ("import", "org.region", ""),
    ]
    assert rows[1].changes == {"name_en": ["Pingshan", "Pingshan New"]}
    assert rows[2].changes == {"rows": 2, "created": 1, "updated": 1}
    assert {e.unit_id for e in rows} == {org.units["city"].pk}


def test_an_import_that_fails_records_nothing(org, personas):
    services.import_regions(by=personas["system_admin"], text="code,name,level,parent_code\n999,坏,district,440300000000\n")
    assert entries("org.import_regions") == []


def test_unit_admin_creates_and_updates_a_unit_for_her_unit(org, personas):
    admin = personas["unit_admin"]
    street_kind = org.units["pingshan_street"].kind
    unit = services.create_unit(by=admin, name="马峦街道妇联", kind=street_kind, region=org.regions["pingshan_street"], parent=org.units["pingshan"])
    services.update_unit(
        by=admin, unit=unit, name="马峦街道妇联", kind=street_kind, region=org.regions["pingshan_street"], parent=org.units["pingshan"], duty_phone="0755-1"
    )

    created, updated = entries("org.create_unit", "org.update_unit")
    assert summary(created) == (admin.pk, org.units["pingshan"].pk, "create", "org.create_unit", "org.unit", str(unit.pk))
    assert created.changes == {
        "name": [None, "马峦街道妇联"],
        "name_en": [None, ""],
        "kind": [None, ref(street_kind)],
        "region": [None, ref(org.regions["pingshan_street"])],
        "parent": [None, ref(org.units["pingshan"])],
        "duty_phone": [None, ""],
        "is_active": [None, True],
    }
    assert updated.changes == {"duty_phone": ["", "0755-1"]}


def test_grant_and_revoke_are_recorded_for_the_unit_she_manages_through(org, personas):
    admin, handler = personas["unit_admin"], personas["handler"]
    membership = services.grant_role(by=admin, user=handler, unit=org.units["pingshan_street"], role=Role.DISPATCHER)
    services.revoke_membership(by=admin, membership=membership)

    granted, revoked = entries("org.grant_role", "org.revoke_membership")
    expected_changes = {"user": ref(handler), "unit": ref(org.units["pingshan_street"]), "role": "dispatcher"}
    assert summary(granted) == (admin.pk, org.units["pingshan"].pk, "grant", "org.grant_role", "org.membership", str(membership.pk))
    assert granted.changes == expected_changes
    assert summary(revoked) == (admin.pk, org.units["pingshan"].pk, "revoke", "org.revoke_membership", "org.membership", str(membership.pk))
    assert revoked.changes == expected_changes


def test_a_refused_grant_records_nothing(org, personas):
    with pytest.raises(PermissionDenied):
        services.grant_role(by=personas["unit_admin"], user=personas["handler"], unit=org.units["longhua"], role=Role.HANDLER)
    assert entries("org.grant_role") == []


def test_create_user_records_the_account_as_changed_password_and_its_first_role(org, personas):
    admin = personas["unit_admin"]
    user = services.create_user(by=admin, username="newcomer", full_name="新人", password=STRONG_PASSWORD, unit=org.units["pingshan"], role=Role.HANDLER)

    created, granted = entries("org.create_user", "org.grant_role")
    assert summary(created) == (admin.pk, org.units["pingshan"].pk, "create", "org.create_user", "org.user", str(user.pk))
    assert created.changes == {
        "username": [None, "newcomer"],
        "full_name": [None, "新人"],
        "email": [None, ""],
        "is_active": [None, True],
        "password": "changed",
    }
    assert granted.object_id == str(user.memberships.get().pk)
    assert user.password not in json.dumps(created.changes)


def test_update_user_and_set_password(org, personas):
    admin, handler = personas["unit_admin"], personas["handler"]
    services.update_user(by=admin, user=handler, full_name="王处理", email="", is_active=True)
    services.set_password(by=admin, user=handler, password=STRONG_PASSWORD)

    updated, password = entries("org.update_user", "org.set_password")
    # The handler is in the Pingshan street federation, which the admin manages through Pingshan.
    assert summary(updated) == (admin.pk, org.units["pingshan"].pk, "update", "org.update_user", "org.user", str(handler.pk))
    assert updated.changes == {"full_name": ["handler", "王处理"]}
    assert summary(password) == (admin.pk, org.units["pingshan"].pk, "update", "org.set_password", "org.user", str(handler.pk))
    assert password.changes == {"password": "changed"}
    handler.refresh_from_db()
    assert STRONG_PASSWORD not in json.dumps(password.changes) and handler.password not in json.dumps(password.changes)


def test_a_rolled_back_change_leaves_no_entry(org, personas):
    with transaction.atomic():
        services.update_user(by=personas["unit_admin"], user=personas["handler"], full_name="不会保存", email="", is_active=True)
        assert len(entries("org.update_user")) == 1
        transaction.set_rollback(True)
    assert entries("org.update_user") == []


def test_a_refused_change_leaves_no_entry(org, personas):
    with pytest.raises(ValidationError):
        services.set_password(by=personas["unit_admin"], user=personas["handler"], password="short")
    assert entries("org.set_password") == []


def test_api_tokens_never_reach_the_log(org, personas):
    operator = personas["operator"]
    token, plain = services.create_api_token(by=operator, name="热线对接", days=30)
    services.revoke_api_token(by=operator, token=token)
    services.revoke_api_token(by=operator, token=token)  # already revoked: no second write, no second entry

    created, revoked = entries("org.create_api_token", "org.revoke_api_token")
    assert summary(created) == (operator.pk, org.units["pingshan"].pk, "create", "org.create_api_token", "org.apitoken", str(token.pk))
    assert created.changes == {"name": [None, "热线对接"], "prefix": [None, token.prefix], "expires_at": [None, token.expires_at.isoformat()]}
    assert summary(revoked) == (operator.pk, org.units["pingshan"].pk, "revoke", "org.revoke_api_token", "org.apitoken", str(token.pk))
    for entry in AuditEntry.objects.all():
        text = json.dumps([entry.changes, entry.object_label, entry.reason], ensure_ascii=False)
        assert plain not in text and token.digest not in text


def test_bootstrap_is_recorded_without_an_actor(db):
    region = services.bootstrap_region(name="深圳市", level=RegionLevel.CITY, code="440300000000")
    fed = kind("federation-city", "市妇联", "federation")
    admin, unit = services.bootstrap_installation(
        username="root", full_name="邓淑芬", password=STRONG_PASSWORD, region=region, unit_name="深圳市妇联", unit_kind=fed
    )

    rows = entries("org.bootstrap")
    assert [(e.actor_id, e.action, e.object_type, e.object_id, e.unit_id) for e in rows] == [
        (None, "create", "org.region", str(region.pk), None),
        (None, "create", "org.unit", str(unit.pk), unit.pk),
        (None, "create", "org.user", str(admin.pk), unit.pk),
        (None, "grant", "org.membership", str(admin.memberships.get().pk), unit.pk),
    ]
    assert rows[2].changes["password"] == "changed"


def test_createadmin_on_an_existing_unit_records_the_first_grant(org, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    password_file = tmp_path / "password"
    password_file.write_text(STRONG_PASSWORD, encoding="utf-8")
    call_command("createadmin", "--username", "root", "--unit", str(org.units["city"].pk), "--password-file", str(password_file), stdout=io.StringIO())

    root = User.objects.get(username="root")
    rows = entries("org.bootstrap")
    assert [(e.actor_id, e.action, e.object_type, e.object_id, e.unit_id) for e in rows] == [
        (None, "create", "org.user", str(root.pk), org.units["city"].pk),
        (None, "grant", "org.membership", str(Membership.objects.get(user=root).pk), org.units["city"].pk),
    ]
    assert rows[0].changes["password"] == "changed"


# --- the unit she acted for --------------------------------------------------------------


def test_acting_unit_is_the_membership_that_covers_the_target(org, personas):
    admin = personas["unit_admin"]
    Membership.objects.create(user=admin, unit=org.units["longhua"], role=Role.UNIT_ADMIN)
    access.forget_grants(admin)

    assert access.acting_unit(admin, org.units["longhua_street"]) == org.units["longhua"]
    assert access.acting_unit(admin, org.units["pingshan_street"]) == org.units["pingshan"]
    assert access.acting_unit(admin, org.regions["longhua_community"]) == org.units["longhua"]
    assert access.acting_unit(admin, personas["handler_twin"]) == org.units["longhua"]
    # Nothing covers the target: her first unit.
    assert access.acting_unit(admin, org.units["city"]) == org.units["pingshan"]
    assert access.acting_unit(admin) == org.units["pingshan"]


def test_acting_unit_prefers_memberships_with_the_capability(org, personas):
    dispatcher = personas["dispatcher"]  # Pingshan
    Membership.objects.create(user=dispatcher, unit=org.units["pingshan_street"], role=Role.UNIT_ADMIN)
    access.forget_grants(dispatcher)

    assert access.acting_unit(dispatcher, org.units["pingshan_street"]) == org.units["pingshan"]
    assert access.acting_unit(dispatcher, org.units["pingshan_street"], capability=Capability.MANAGE_USERS) == org.units["pingshan_street"]


def test_acting_unit_of_nobody_is_none(db):
    assert access.acting_unit(None) is None
    assert Unit.objects.count() == 0
