"""factory_boy factories and the small organisation every access test uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import factory
from django.contrib.auth.hashers import make_password
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


#: The regions of the tree: key → (name, level, parent key, code, English name), parents first.
REGIONS: dict[str, tuple[str, str, str | None, str, str]] = {
    "guangdong": ("广东省", RegionLevel.PROVINCE, None, "440000000000", "Guangdong"),
    "shenzhen": ("深圳市", RegionLevel.CITY, "guangdong", "440300000000", "Shenzhen"),
    "pingshan": ("坪山区", RegionLevel.DISTRICT, "shenzhen", "440310000000", "Pingshan"),
    "longhua": ("龙华区", RegionLevel.DISTRICT, "shenzhen", "440309000000", "Longhua"),
    "pingshan_street": ("坪山街道", RegionLevel.STREET, "pingshan", "440310001000", "Pingshan Street"),
    "longhua_street": ("龙华街道", RegionLevel.STREET, "longhua", "440309001000", "Longhua Street"),
    "pingshan_community": ("六和社区", RegionLevel.COMMUNITY, "pingshan_street", "", "Liuhe Community"),
    "longhua_community": ("景龙社区", RegionLevel.COMMUNITY, "longhua_street", "", "Jinglong Community"),
}

#: The kinds of unit the tree uses: code → (name, family, English name).
UNIT_KINDS: dict[str, tuple[str, str, str]] = {
    "federation-city": ("市妇联", "federation", "City women's federation"),
    "federation-district": ("区妇联", "federation", "District women's federation"),
    "federation-street": ("街道妇联", "federation", "Street women's federation"),
    "community-committee": ("社区居委会", "committee", "Neighbourhood committee"),
    "hr-bureau": ("人力资源局", "department", "Human resources bureau"),
    "public-security": ("公安分局", "department", "Public security bureau"),
}

#: The units: key → (name, kind code, region key, parent unit key, English name), parents first.
UNITS: dict[str, tuple[str, str, str, str | None, str]] = {
    "city": ("深圳市妇联", "federation-city", "shenzhen", None, "Shenzhen Women's Federation"),
    "pingshan": ("坪山区妇联", "federation-district", "pingshan", "city", "Pingshan District Women's Federation"),
    "longhua": ("龙华区妇联", "federation-district", "longhua", "city", "Longhua District Women's Federation"),
    "pingshan_street": ("坪山街道妇联", "federation-street", "pingshan_street", "pingshan", ""),
    "longhua_street": ("龙华街道妇联", "federation-street", "longhua_street", "longhua", ""),
    "pingshan_community": ("六和社区居委会", "community-committee", "pingshan_community", None, ""),
    "longhua_community": ("景龙社区居委会", "community-committee", "longhua_community", None, ""),
    "pingshan_hr": ("坪山区人力资源局", "hr-bureau", "pingshan", None, "Pingshan HR Bureau"),
    "longhua_police": ("龙华公安分局", "public-security", "longhua", None, "Longhua Public Security Bureau"),
}


def build_org_tree() -> OrgTree:
    """Build the tree in a handful of queries (it is made for almost every test).

    The same rows ``make_region`` / ``make_unit`` / ``kind`` would make one by one: each
    level's rows are inserted in one statement (their ids come back with it), then every
    path is written in one update.
    """
    tree = OrgTree()
    for key, (name, level, parent, code, name_en) in REGIONS.items():
        tree.regions[key] = Region(name=name, name_en=name_en, level=level, code=code, parent=tree.regions[parent] if parent else None)
    _insert_with_paths(Region, tree.regions, lambda key: REGIONS[key][2], depth=True)
    kinds = {k.code: k for k in UnitKind.objects.filter(code__in=list(UNIT_KINDS))}
    missing = [UnitKind(code=code, name=name, family=family, name_en=name_en) for code, (name, family, name_en) in UNIT_KINDS.items() if code not in kinds]
    kinds.update({k.code: k for k in UnitKind.objects.bulk_create(missing)})
    for key, (name, kind_code, region, parent, name_en) in UNITS.items():
        tree.units[key] = Unit(name=name, name_en=name_en, kind=kinds[kind_code], region=tree.regions[region], parent=tree.units[parent] if parent else None)
    _insert_with_paths(Unit, tree.units, lambda key: UNITS[key][3], depth=False)
    return tree


def _insert_with_paths(model: Any, objects: dict[str, Any], parent_of: Any, *, depth: bool) -> None:
    """Insert ``objects`` one level at a time (a row's parent first) and set each one's ``/id/id/`` path (and depth)."""
    pending = dict(objects)
    while pending:
        level = {key: obj for key, obj in pending.items() if parent_of(key) is None or objects[parent_of(key)].pk is not None}
        model.objects.bulk_create(list(level.values()))
        for key in level:
            del pending[key]
        # bulk_create set the parents' ids; the children waiting for them copy them.
        for obj in pending.values():
            if obj.parent is not None:
                obj.parent_id = obj.parent.pk
    for key, obj in objects.items():
        parent = parent_of(key)
        obj.path = f"{objects[parent].path if parent else '/'}{obj.pk}/"
        if depth:
            obj.depth = obj.path.count("/") - 2
    model.objects.bulk_update(list(objects.values()), ["path", "depth"] if depth else ["path"])


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
    """One user per persona with her membership, in three statements (made for almost every test)."""
    hashed = make_password(PASSWORD)
    users = {name: User(username=name, full_name=name, password=hashed) for name in PERSONAS}
    User.objects.bulk_create(list(users.values()))
    Membership.objects.bulk_create(Membership(user=users[name], unit=tree.units[unit_key], role=role) for name, (unit_key, role) in PERSONAS.items())
    # System administrators must use a second factor (RIGHTSCARE_REQUIRE_2FA).
    TOTPDevice.objects.create(user=users["system_admin"], name="default", confirmed=True)
    return users
