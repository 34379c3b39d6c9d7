"""Region codes, creation and moves."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rightscare.org import services
from rightscare.org.divisions import code_errors
from rightscare.org.models import Region


@pytest.mark.parametrize(
    ("code", "level", "parent_code", "parent_level", "ok"),
    [
        ("440300000000", "city", "440000000000", "province", True),
        ("440310000000", "district", "440300000000", "city", True),
        ("440310001000", "street", "440310000000", "district", True),
        ("440310001001", "community", "440310001000", "street", True),
        ("", "community", "440310001000", "street", True),
        ("44031000100", "street", "", "", False),  # 11 digits
        ("44031000100A", "street", "", "", False),
        ("440310001000", "district", "", "", False),  # street digits on a district
        ("440300000000", "district", "", "", False),  # district digits all zero
        ("440311001000", "street", "440310000000", "district", False),  # wrong parent prefix
        ("440310001001", "grid", "", "", False),  # grids have no statistical code
    ],
)
def test_statistical_code_rules(code, level, parent_code, parent_level, ok):
    assert (code_errors(code=code, level=level, scheme="cn_stats", parent_code=parent_code, parent_level=parent_level) == []) is ok


def test_other_scheme_accepts_free_codes():
    assert code_errors(code="HK-KLN", level="district", scheme="other") == []


def test_create_region_under_parent(org, personas):
    region = services.create_region(by=personas["system_admin"], name="碧岭街道", level="street", parent=org.regions["pingshan"], code="440310002000")
    assert region.path == f"{org.regions['pingshan'].path}{region.pk}/"
    assert region.depth == 3


def test_region_must_be_deeper_than_parent(org, personas):
    before = Region.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.create_region(by=personas["system_admin"], name="x", level="city", parent=org.regions["pingshan"])
    assert "level" in caught.value.message_dict
    assert Region.objects.count() == before


def test_duplicate_code_is_refused(org, personas):
    with pytest.raises(ValidationError) as caught:
        services.create_region(by=personas["system_admin"], name="x", level="street", parent=org.regions["pingshan"], code="440310001000")
    assert "code" in caught.value.message_dict


def test_only_system_admin_manages_regions(org, personas):
    with pytest.raises(PermissionDenied):
        services.create_region(by=personas["unit_admin"], name="x", level="street", parent=org.regions["pingshan"])


def test_moving_a_region_moves_its_subtree(org, personas):
    street = org.regions["pingshan_street"]
    community = org.regions["pingshan_community"]
    services.update_region(by=personas["system_admin"], region=street, name=street.name, level="street", parent=org.regions["longhua"], code="")
    community.refresh_from_db()
    street.refresh_from_db()
    assert street.path == f"{org.regions['longhua'].path}{street.pk}/"
    assert community.path == f"{street.path}{community.pk}/"
    assert community.depth == 4


def test_region_cannot_move_under_its_own_subtree(org, personas):
    district = org.regions["pingshan"]
    with pytest.raises(ValidationError):
        services.update_region(
            by=personas["system_admin"], region=district, name=district.name, level="district", parent=org.regions["pingshan_street"], code=district.code
        )
    district.refresh_from_db()
    assert district.parent == org.regions["shenzhen"]
