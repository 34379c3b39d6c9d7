"""Role grants, users and units: who may change what, and that refusals change nothing."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rightscare.org import services
from rightscare.org.models import Membership, Unit, User
from rightscare.org.roles import Role
from tests.factories import UserFactory


@pytest.fixture
def newcomer(db):
    return UserFactory(username="newcomer")


def test_unit_admin_grants_role_in_her_subtree(org, personas):
    membership = services.grant_role(by=personas["unit_admin"], user=personas["handler"], unit=org.units["pingshan_street"], role=Role.DISPATCHER)
    assert (membership.unit, membership.role, membership.granted_by) == (org.units["pingshan_street"], "dispatcher", personas["unit_admin"])


@pytest.mark.parametrize("unit_key", ["longhua", "longhua_street", "city", "pingshan_hr"])
def test_unit_admin_cannot_grant_outside_her_subtree(org, personas, unit_key):
    before = Membership.objects.count()
    with pytest.raises(PermissionDenied):
        services.grant_role(by=personas["unit_admin"], user=personas["handler"], unit=org.units[unit_key], role=Role.HANDLER)
    assert Membership.objects.count() == before


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMIN, Role.AUDITOR])
def test_unit_admin_never_grants_reserved_roles(org, personas, role):
    before = Membership.objects.count()
    with pytest.raises(PermissionDenied):
        services.grant_role(by=personas["unit_admin"], user=personas["handler"], unit=org.units["pingshan"], role=role)
    assert Membership.objects.count() == before


def test_system_admin_grants_reserved_roles(org, personas):
    membership = services.grant_role(by=personas["system_admin"], user=personas["handler"], unit=org.units["city"], role=Role.AUDITOR)
    assert membership.role == "auditor"


@pytest.mark.parametrize("persona", ["dispatcher", "supervisor", "handler", "auditor", "volunteer"])
def test_roles_without_user_management_cannot_grant(org, personas, persona):
    with pytest.raises(PermissionDenied):
        services.grant_role(by=personas[persona], user=personas["handler"], unit=org.units["pingshan_street"], role=Role.HANDLER)
    assert personas["handler"].memberships.count() == 1


def test_granting_a_held_role_twice_is_refused(org, personas):
    with pytest.raises(ValidationError):
        services.grant_role(by=personas["unit_admin"], user=personas["handler"], unit=org.units["pingshan_street"], role=Role.HANDLER)
    assert personas["handler"].memberships.count() == 1


def test_unknown_role_is_a_validation_error(org, personas):
    with pytest.raises(ValidationError) as caught:
        services.grant_role(by=personas["system_admin"], user=personas["handler"], unit=org.units["city"], role="king")
    assert "role" in caught.value.message_dict


def test_revoked_membership_stays_as_history_and_stops_granting(org, personas):
    membership = personas["handler"].memberships.get()
    services.revoke_membership(by=personas["unit_admin"], membership=membership)
    membership.refresh_from_db()
    assert membership.revoked_at is not None
    assert membership.revoked_by == personas["unit_admin"]
    assert not Membership.objects.active().filter(user=personas["handler"]).exists()


def test_unit_admin_cannot_revoke_in_sibling_district(org, personas):
    membership = personas["handler_twin"].memberships.get()
    with pytest.raises(PermissionDenied):
        services.revoke_membership(by=personas["unit_admin"], membership=membership)
    membership.refresh_from_db()
    assert membership.revoked_at is None


def test_unit_admin_cannot_revoke_reserved_role(org, personas):
    membership = services.grant_role(by=personas["system_admin"], user=personas["handler"], unit=org.units["pingshan"], role=Role.AUDITOR)
    with pytest.raises(PermissionDenied):
        services.revoke_membership(by=personas["unit_admin"], membership=membership)
    membership.refresh_from_db()
    assert membership.revoked_at is None


def test_create_user_with_first_membership(org, personas):
    user = services.create_user(
        by=personas["unit_admin"], username="li.na", full_name="李娜", password="a-long-enough-passphrase", unit=org.units["pingshan_street"], role=Role.HANDLER
    )
    assert user.check_password("a-long-enough-passphrase")
    assert list(user.memberships.values_list("unit__name", "role")) == [("坪山街道妇联", "handler")]


def test_create_user_rejects_weak_password_and_saves_nothing(org, personas):
    before = User.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.create_user(
            by=personas["unit_admin"], username="li.na", full_name="李娜", password="12345", unit=org.units["pingshan_street"], role=Role.HANDLER
        )
    assert "password" in caught.value.message_dict
    assert User.objects.count() == before


def test_create_user_outside_subtree_is_refused(org, personas):
    before = User.objects.count()
    with pytest.raises(PermissionDenied):
        services.create_user(
            by=personas["unit_admin"], username="li.na", full_name="李娜", password="a-long-enough-passphrase", unit=org.units["longhua"], role=Role.HANDLER
        )
    assert User.objects.count() == before


def test_unit_admin_creates_unit_under_her_unit(org, personas):
    kind = org.units["pingshan_street"].kind
    unit = services.create_unit(
        by=personas["unit_admin"], name="坪山区某街道妇联", kind=kind, region=org.regions["pingshan_street"], parent=org.units["pingshan"]
    )
    assert unit.path == f"{org.units['pingshan'].path}{unit.pk}/"


def test_unit_admin_cannot_place_unit_in_sibling_subtree(org, personas):
    before = Unit.objects.count()
    kind = org.units["pingshan_street"].kind
    with pytest.raises(ValidationError):
        services.create_unit(by=personas["unit_admin"], name="x", kind=kind, region=org.regions["longhua_street"], parent=org.units["pingshan"])
    with pytest.raises(ValidationError):
        services.create_unit(by=personas["unit_admin"], name="x", kind=kind, region=org.regions["pingshan_street"], parent=org.units["longhua"])
    assert Unit.objects.count() == before


def test_moving_a_unit_moves_its_subtree(org, personas):
    street = org.units["pingshan_street"]
    child = services.create_unit(by=personas["system_admin"], name="社区妇联", kind=street.kind, region=org.regions["pingshan_community"], parent=street)
    services.update_unit(by=personas["system_admin"], unit=street, name=street.name, kind=street.kind, region=street.region, parent=org.units["city"])
    child.refresh_from_db()
    street.refresh_from_db()
    assert street.path == f"{org.units['city'].path}{street.pk}/"
    assert child.path == f"{street.path}{child.pk}/"


def test_user_cannot_deactivate_herself(org, personas):
    admin = personas["unit_admin"]
    with pytest.raises(ValidationError):
        services.update_user(by=admin, user=admin, full_name="x", email="", is_active=False)
    admin.refresh_from_db()
    assert admin.is_active
