"""factory_boy factories and the small organisation every access test uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import factory
from django_otp.plugins.otp_totp.models import TOTPDevice

from rightscare.org.divisions import RegionLevel
from rightscare.org.models import Membership, Region, Unit, UnitKind, User
from rightscare.org.roles import Role

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance: Any, create: bool, results: Any = None) -> None:
        if create:
            instance.save()


def make_region(name: str, level: str, parent: Region | None, code: str = "", name_en: str = "") -> Region:
    region = Region.objects.create(name=name, name_en=name_en, level=level, code=code, parent=parent)
    region.path = f"{parent.path if parent else '/'}{region.pk}/"
    region.depth = region.path.count("/") - 2
    region.save(update_fields=["path", "depth"])
    return region


def make_unit(name: str, kind: UnitKind, region: Region, parent: Unit | None = None, name_en: str = "") -> Unit:
    unit = Unit.objects.create(name=name, name_en=name_en, kind=kind, region=region, parent=parent)
    unit.path = f"{parent.path if parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])
    return unit


def kind(code: str, name: str, family: str, name_en: str = "") -> UnitKind:
    return UnitKind.objects.get_or_create(code=code, defaults={"name": name, "family": family, "name_en": name_en})[0]


@dataclass
class OrgTree:
    """Shenzhen with two sibling districts (Pingshan and Longhua), each fully staffed."""

    regions: dict[str, Region] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)


def build_org_tree() -> OrgTree:
    tree = OrgTree()
    r = tree.regions
    r["guangdong"] = make_region("广东省", RegionLevel.PROVINCE, None, "440000000000", "Guangdong")
    r["shenzhen"] = make_region("深圳市", RegionLevel.CITY, r["guangdong"], "440300000000", "Shenzhen")
    r["pingshan"] = make_region("坪山区", RegionLevel.DISTRICT, r["shenzhen"], "440310000000", "Pingshan")
    r["longhua"] = make_region("龙华区", RegionLevel.DISTRICT, r["shenzhen"], "440309000000", "Longhua")
    r["pingshan_street"] = make_region("坪山街道", RegionLevel.STREET, r["pingshan"], "440310001000", "Pingshan Street")
    r["longhua_street"] = make_region("龙华街道", RegionLevel.STREET, r["longhua"], "440309001000", "Longhua Street")
    r["pingshan_community"] = make_region("六和社区", RegionLevel.COMMUNITY, r["pingshan_street"], "", "Liuhe Community")
    r["longhua_community"] = make_region("景龙社区", RegionLevel.COMMUNITY, r["longhua_street"], "", "Jinglong Community")
    fed_city = kind("federation-city", "市妇联", "federation", "City women's federation")
    fed_district = kind("federation-district", "区妇联", "federation", "District women's federation")
    fed_street = kind("federation-street", "街道妇联", "federation", "Street women's federation")
    committee = kind("community-committee", "社区居委会", "committee", "Neighbourhood committee")
    hr = kind("hr-bureau", "人力资源局", "department", "Human resources bureau")
    police = kind("public-security", "公安分局", "department", "Public security bureau")
    u = tree.units
    u["city"] = make_unit("深圳市妇联", fed_city, r["shenzhen"], None, "Shenzhen Women's Federation")
    u["pingshan"] = make_unit("坪山区妇联", fed_district, r["pingshan"], u["city"], "Pingshan District Women's Federation")
    u["longhua"] = make_unit("龙华区妇联", fed_district, r["longhua"], u["city"], "Longhua District Women's Federation")
    u["pingshan_street"] = make_unit("坪山街道妇联", fed_street, r["pingshan_street"], u["pingshan"])
    u["longhua_street"] = make_unit("龙华街道妇联", fed_street, r["longhua_street"], u["longhua"])
    u["pingshan_community"] = make_unit("六和社区居委会", committee, r["pingshan_community"], None)
    u["longhua_community"] = make_unit("景龙社区居委会", committee, r["longhua_community"], None)
    u["pingshan_hr"] = make_unit("坪山区人力资源局", hr, r["pingshan"], None, "Pingshan HR Bureau")
    u["longhua_police"] = make_unit("龙华公安分局", police, r["longhua"], None, "Longhua Public Security Bureau")
    return tree


#: persona name → (unit key, role). Twins sit in the sibling district.
PERSONAS: dict[str, tuple[str, Role]] = {
    "operator": ("pingshan", Role.INTAKE_OPERATOR),
    "operator_twin": ("longhua", Role.INTAKE_OPERATOR),
    "dispatcher": ("pingshan", Role.DISPATCHER),
    "dispatcher_twin": ("longhua", Role.DISPATCHER),
    "handler": ("pingshan_street", Role.HANDLER),
    "handler_twin": ("longhua_street", Role.HANDLER),
    "department_handler": ("pingshan_hr", Role.HANDLER),
    "department_handler_twin": ("longhua_police", Role.HANDLER),
    "community_worker": ("pingshan_community", Role.COMMUNITY_WORKER),
    "community_worker_twin": ("longhua_community", Role.COMMUNITY_WORKER),
    "volunteer": ("pingshan_community", Role.VOLUNTEER),
    "volunteer_twin": ("longhua_community", Role.VOLUNTEER),
    "return_visit": ("city", Role.RETURN_VISIT_OFFICER),
    "supervisor": ("pingshan", Role.SUPERVISOR),
    "supervisor_twin": ("longhua", Role.SUPERVISOR),
    "unit_admin": ("pingshan", Role.UNIT_ADMIN),
    "unit_admin_twin": ("longhua", Role.UNIT_ADMIN),
    "system_admin": ("city", Role.SYSTEM_ADMIN),
    "auditor": ("city", Role.AUDITOR),
}


def build_personas(tree: OrgTree) -> dict[str, User]:
    users = {}
    for name, (unit_key, role) in PERSONAS.items():
        user = UserFactory(username=name, full_name=name)
        Membership.objects.create(user=user, unit=tree.units[unit_key], role=role)
        users[name] = user
    # System administrators must use a second factor (RIGHTSCARE_REQUIRE_2FA).
    TOTPDevice.objects.create(user=users["system_admin"], name="default", confirmed=True)
    return users
