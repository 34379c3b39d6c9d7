"""Region import: every bad line is reported with its number and then nothing is imported."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from rightscare.org import services
from rightscare.org.divisions import CodeScheme, RegionLevel
from rightscare.org.models import Membership, Region
from rightscare.org.roles import Role
from tests.factories import UserFactory, kind, make_region, make_unit

pytestmark = pytest.mark.django_db

HEADER = "code,name,level,parent_code,name_en,code_scheme\n"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def snapshot() -> list[tuple[str, str, str, str, str]]:
    return list(Region.objects.order_by("pk").values_list("code", "name", "name_en", "level", "path"))


BAD_FILES = {
    "code_wrong_for_level": (
        HEADER + "440311000000,光明区,district,440300000000,Guangming District,cn_stats\n440311000001,光明新区,district,440300000000,,cn_stats\n",
        [(3, "For this level only the first 6 digits may be non-zero.")],
    ),
    "code_not_twelve_digits": (
        HEADER + "4403110,光明区,district,440300000000,,cn_stats\n",
        [(2, "A statistical division code has exactly 12 digits.")],
    ),
    "code_for_a_level_without_codes": (
        HEADER + "440310001001,六和社区,community,440310001000,,cn_stats\n440310001009,一号楼,building,440310001001,,cn_stats\n",
        [(3, "Regions of this level have no statistical division code.")],
    ),
    "code_outside_parent_prefix": (
        HEADER + "440310007000,测试街道,street,440309000000,,cn_stats\n",
        [(2, "The code must start with the parent region's code 440309.")],
    ),
    "level_not_deeper_than_parent": (
        HEADER + "440311000000,光明区,district,440310001000,,cn_stats\n",
        [(2, "A region must be of a deeper level than its parent."), (2, "The code must start with the parent region's code 440310001.")],
    ),
    "unknown_parent": (
        HEADER + "440399001000,未知街道,street,440399000000,,cn_stats\n",
        [(2, "Unknown parent 440399000000.")],
    ),
    "cycle_in_other_scheme": (
        HEADER + "A-1,甲片区,district,B-1,,other\nB-1,乙片区,street,A-1,,other\n",
        [(2, "The parents of A-1 form a cycle."), (3, "The parents of B-1 form a cycle.")],
    ),
    "duplicate_code": (
        HEADER
        + "440311000000,光明区,district,440300000000,,cn_stats\n"
        + "440311001000,光明街道,street,440311000000,,cn_stats\n"
        + "440311000000,光明新区,district,440300000000,,cn_stats\n",
        [(4, "Code 440311000000 appears twice (first on line 2).")],
    ),
    "missing_columns": (
        "code,name,level\n440311000000,光明区,district\n",
        [(1, "Missing columns: parent_code.")],
    ),
    "unknown_level_and_scheme": (
        HEADER + "440311000000,光明区,county,440300000000,,gb2260\n",
        [(2, "Unknown level county."), (2, "Unknown code scheme gb2260.")],
    ),
}


@pytest.mark.parametrize("text, errors", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_line_is_reported_with_its_number_and_nothing_is_imported(org, personas, text, errors):
    before = snapshot()

    report = services.import_regions(by=personas["system_admin"], text=text)

    assert sorted(report.errors) == sorted(errors)
    assert (report.ok, report.created, report.updated) == (False, 0, 0)
    assert snapshot() == before


def test_all_bad_lines_of_a_file_are_reported_together(org, personas):
    text = (
        HEADER
        + "440311000000,光明区,district,440300000000,,cn_stats\n"  # 2: fine
        + "440399001000,未知街道,street,440399000000,,cn_stats\n"  # 3: unknown parent
        + "440311000000,光明区,district,440300000000,,cn_stats\n"  # 4: duplicate
        + "X-1,甲,district,X-2,,other\n"  # 5: cycle
        + "X-2,乙,street,X-1,,other\n"  # 6: cycle
        + ",,street,440311000000,,cn_stats\n"  # 7: no name
    )
    before = snapshot()

    report = services.import_regions(by=personas["system_admin"], text=text)

    assert [line for line, _ in report.errors] == [3, 4, 5, 6, 7]
    assert snapshot() == before


def test_good_file_creates_and_updates_with_parents_and_paths(org, personas):
    # Children may come before their parents; a known code updates the names only.
    text = (
        HEADER
        + "440311001000,光明街道,street,440311000000,Guangming Subdistrict,cn_stats\n"
        + ",光明社区,community,440311001000,Guangming Community,cn_stats\n"
        + "440311000000,光明区,district,440300000000,Guangming District,cn_stats\n"
        + "440310000000,坪山区,district,440300000000,Pingshan District,cn_stats\n"
    )
    done: list[int] = []

    report = services.import_regions(by=personas["system_admin"], text=text, progress=done.append)

    assert (report.errors, report.created, report.updated) == ([], 3, 1)
    assert done == [1, 2, 3, 4]
    shenzhen = org.regions["shenzhen"]
    district = Region.objects.get(code="440311000000")
    street = Region.objects.get(code="440311001000")
    community = Region.objects.get(name="光明社区")
    assert (district.parent, street.parent, community.parent) == (shenzhen, district, street)
    assert district.path == f"{shenzhen.path}{district.pk}/"
    assert street.path == f"{district.path}{street.pk}/"
    assert community.path == f"{street.path}{community.pk}/"
    assert (shenzhen.depth, district.depth, street.depth, community.depth) == (1, 2, 3, 4)
    assert (district.level, community.code) == (RegionLevel.DISTRICT, "")
    pingshan = Region.objects.get(pk=org.regions["pingshan"].pk)
    assert (pingshan.name, pingshan.name_en, pingshan.path) == ("坪山区", "Pingshan District", org.regions["pingshan"].path)


def test_byte_order_mark_and_missing_optional_columns_are_accepted(org, personas):
    text = "\ufeffcode,name,level,parent_code\n440311000000,光明区,district,440300000000\n"

    report = services.import_regions(by=personas["system_admin"], text=text)

    assert (report.errors, report.created) == ([], 1)
    assert Region.objects.get(code="440311000000").code_scheme == CodeScheme.CN_STATS


@pytest.mark.parametrize("persona", ["unit_admin", "dispatcher", "auditor"])
def test_only_a_system_administrator_may_import(org, personas, persona):
    before = snapshot()

    with pytest.raises(PermissionDenied):
        services.import_regions(by=personas[persona], text=HEADER + "440311000000,光明区,district,440300000000,,cn_stats\n")

    assert snapshot() == before


def rows_of(text: str) -> list[tuple[str, ...]]:
    return sorted(tuple(row) for row in list(csv.reader(io.StringIO(text)))[1:])


def test_export_then_import_reproduces_the_regions():
    # The administrator lives in a region of another scheme, so every imported region can go.
    home = make_region("演示根", RegionLevel.PROVINCE, None)
    home.code, home.code_scheme = "HOME", CodeScheme.OTHER
    home.save()
    admin = UserFactory(username="root")
    Membership.objects.create(user=admin, unit=make_unit("根单位", kind("federation-city", "市妇联", "federation"), home), role=Role.SYSTEM_ADMIN)
    source = (
        HEADER
        + "440000000000,广东省,province,,Guangdong Province,cn_stats\n"
        + "440300000000,深圳市,city,440000000000,Shenzhen,cn_stats\n"
        + "440310000000,坪山区,district,440300000000,Pingshan District,cn_stats\n"
        + '440310001000,坪山街道,street,440310000000,"Pingshan Subdistrict, Shenzhen",cn_stats\n'
        + ",六和社区,community,440310001000,Liuhe Community,cn_stats\n"
        + "440310003003,沙湖社区,community,440310003000,Shahu Community,cn_stats\n"
        + "440310003000,碧岭街道,street,440310000000,Biling Subdistrict,cn_stats\n"
        + "GM-01,光明网格一,grid,440310003003,,other\n"
    )
    assert services.import_regions(by=admin, text=source).ok
    exported = services.export_regions(by=admin)
    assert rows_of(exported) == rows_of(source + "HOME,演示根,province,,,other\n")

    for depth in sorted(set(Region.objects.values_list("depth", flat=True)), reverse=True):
        Region.objects.filter(depth=depth).exclude(pk=home.pk).delete()
    assert list(Region.objects.all()) == [home]
    report = services.import_regions(by=admin, text=exported)

    assert (report.errors, report.created, report.updated) == ([], 8, 1)
    assert rows_of(services.export_regions(by=admin)) == rows_of(exported)
    grid = Region.objects.get(code="GM-01")
    assert [Region.objects.get(pk=pk).name for pk in grid.ancestor_ids()] == ["广东省", "深圳市", "坪山区", "碧岭街道", "沙湖社区", "光明网格一"]


def test_reimporting_an_export_does_not_copy_regions_without_code(org, personas):
    from rightscare.org import services
    from rightscare.org.models import Region

    before = Region.objects.count()
    exported = services.export_regions(by=personas["system_admin"])
    report = services.import_regions(by=personas["system_admin"], text=exported)
    assert report.ok, report.errors
    assert Region.objects.count() == before
    assert report.created == 0
