"""The demo installation: loaded once, through the services, with real codes and a fresh password."""

from __future__ import annotations

import csv
import io
import json
import re
import stat

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from rightscare.org import access, demo
from rightscare.org.divisions import LEVEL_ORDER, CodeScheme, code_errors
from rightscare.org.models import Membership, Region, Unit, UnitFamily, UnitKind, User
from rightscare.org.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _organisation_only(monkeypatch):
    # These tests are about the organisation; the cases' demo data is tested in tests/cases.
    monkeypatch.setattr(demo, "DEMO_EXTENSIONS", ())


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    # The demo's password is as good with a fast hasher; Argon2 would only slow the suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return tmp_path


@pytest.fixture
def loaded(data_dir) -> str:
    out = io.StringIO()
    assert demo.load_demo(stdout=out) is True
    return out.getvalue()


def password_in(output: str) -> str:
    match = re.search(r"^Password \(.*\): (\S+)$", output, re.MULTILINE)
    assert match is not None, output
    return match.group(1)


def counts() -> tuple[int, ...]:
    return tuple(model.objects.count() for model in (Region, UnitKind, Unit, User, Membership))


def demo_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(demo.REGIONS_FILE.read_text(encoding="utf-8"))))


# --- the data files ---------------------------------------------------------------------


def test_every_division_code_fits_its_level_and_parent():
    rows = demo_rows()
    by_code = {row["code"]: row for row in rows if row["code"]}

    for row in rows:
        parent = by_code.get(row["parent_code"])
        assert row["parent_code"] == "" or parent is not None, row
        problems = code_errors(
            code=row["code"],
            level=row["level"],
            scheme=row["code_scheme"],
            parent_code=row["parent_code"],
            parent_level=parent["level"] if parent else "",
        )
        assert problems == [], (row, problems)
        assert row["code_scheme"] == CodeScheme.CN_STATS
        if parent is not None:
            assert LEVEL_ORDER[row["level"]] > LEVEL_ORDER[parent["level"]], row
        assert row["name_en"], row


def test_codes_are_unique_and_only_missing_where_sources_md_says_so():
    rows = demo_rows()
    codes = [row["code"] for row in rows if row["code"]]
    assert len(codes) == len(set(codes))
    without_code = sorted(row["name"] for row in rows if not row["code"])
    sources = (demo.DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    left_without = sources.split("### Left without a code", 1)[1]
    assert without_code == sorted(["六和社区", "景龙社区", "光明社区"])
    for name in without_code:
        assert name in left_without
    for code in codes:
        # Each code's significant digits are named in SOURCES.md, with its source.
        assert any(code.rstrip("0")[:length] in sources for length in (12, 9, 6, 4, 2)), code


def test_the_places_of_the_four_cases_are_there():
    names = {row["name"]: row for row in demo_rows()}

    assert names["坪山区"]["code"] == "440310000000"
    assert names["龙华区"]["code"] == "440309000000"
    assert names["光明区"]["code"] == "440311000000"
    assert names["刘家大堰社区"]["parent_code"] == "420502001000"
    assert names["西陵街道"]["parent_code"] == "420502000000"
    assert names["硖石街道"]["parent_code"] == "330481000000"
    assert [row["name"] for row in demo_rows() if row["parent_code"] == "440300000000"] == [
        "罗湖区",
        "福田区",
        "南山区",
        "宝安区",
        "龙岗区",
        "盐田区",
        "龙华区",
        "坪山区",
        "光明区",
    ]


def test_unit_kinds_cover_every_family():
    kinds = json.loads(demo.UNIT_KINDS_FILE.read_text(encoding="utf-8"))
    assert {entry["family"] for entry in kinds} == set(UnitFamily.values)
    assert len({entry["code"] for entry in kinds}) == len(kinds)


# --- loading -------------------------------------------------------------------------------


def test_creates_an_account_for_every_role(loaded):
    roles = set(Membership.objects.active().values_list("role", flat=True))

    assert roles == set(Role.values)
    assert User.objects.count() == len(demo.DEMO_USERS)


def test_regions_arrive_through_the_import_with_their_codes(loaded):
    rows = demo_rows()

    assert Region.objects.count() == len(rows)
    for row in rows:
        region = Region.objects.get(name=row["name"], code=row["code"])
        parent_code = region.parent.code if region.parent else ""
        assert (region.level, parent_code, region.name_en) == (row["level"], row["parent_code"], row["name_en"])
        assert region.path == f"{region.parent.path if region.parent else '/'}{region.pk}/"


def test_federations_follow_the_region_tree(loaded):
    federations = Unit.objects.filter(kind__family=UnitFamily.FEDERATION).select_related("region", "parent")

    assert federations.count() == Region.objects.exclude(level="province").count()
    for unit in federations:
        if unit.region.level == "city":
            assert unit.parent is None
        else:
            assert unit.parent.region == unit.region.parent, unit
            assert unit.path == f"{unit.parent.path}{unit.pk}/"
    assert Unit.objects.filter(kind__code="neighbourhood-committee").count() == Region.objects.filter(level="community").count()


def test_accounts_were_granted_by_the_system_administrator(loaded):
    admin = User.objects.get(username="admin")

    assert Membership.objects.get(user=admin).granted_by is None
    assert set(Membership.objects.exclude(user=admin).values_list("granted_by", flat=True)) == {admin.pk}


def test_scopes_match_the_cases(loaded):
    pingshan = User.objects.get(username="pingshan.dispatcher")
    police = User.objects.get(username="guangming.police")
    volunteer = User.objects.get(username="liujiadayan.volunteer")

    pingshan_units = set(access.visible_units(pingshan).values_list("name", flat=True))
    assert {"坪山街道妇联", "六和社区居委会", "坪山街道劳动监察中队", "深圳市坪山区人力资源局"} <= pingshan_units
    assert "光明区妇联" not in pingshan_units and "深圳市公安局龙华分局" not in pingshan_units
    assert set(access.visible_units(police).values_list("name", flat=True)) == {"深圳市公安局光明分局"}
    assert set(access.visible_units(volunteer).values_list("name", flat=True)) == {"刘家大堰社区妇联"}


def test_the_password_works_for_login_and_is_saved_for_the_owner_only(loaded, data_dir, client):
    password = password_in(loaded)

    for spec in demo.DEMO_USERS:
        assert client.login(request=HttpRequest(), username=spec.username, password=password), spec.username
        client.logout()
    logins = data_dir / demo.LOGINS_FILE_NAME
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    text = logins.read_text(encoding="utf-8")
    assert password in text and "http://127.0.0.1:8000/" in text
    assert all(spec.username in text and spec.full_name in text for spec in demo.DEMO_USERS)


def test_loads_only_once(loaded, data_dir):
    before = counts()
    saved = (data_dir / demo.LOGINS_FILE_NAME).read_text(encoding="utf-8")
    out = io.StringIO()

    assert demo.load_demo(stdout=out) is False

    assert out.getvalue() == ""
    assert counts() == before
    assert (data_dir / demo.LOGINS_FILE_NAME).read_text(encoding="utf-8") == saved


def test_does_nothing_when_the_database_already_has_units(org, data_dir):
    before = counts()

    assert demo.load_demo(stdout=io.StringIO()) is False

    assert counts() == before
    assert not (data_dir / demo.LOGINS_FILE_NAME).exists()


def test_each_installation_gets_its_own_password():
    first, second = demo.generate_password(), demo.generate_password()

    assert first != second
    assert len(first) >= 12 and len(second) >= 12
    source = (demo.DATA_DIR.parent / "demo.py").read_text(encoding="utf-8")
    assert first not in source and second not in source


def test_two_installations_get_different_passwords(loaded):
    password = password_in(loaded)
    # Empty the database again (children before parents: a path sorts after its ancestors').
    User.objects.all().delete()
    for model in (Unit, Region):
        for row in model.objects.order_by("-path"):
            row.delete()
    second = io.StringIO()

    assert demo.load_demo(stdout=second) is True

    assert password_in(second.getvalue()) != password


def test_a_failure_half_way_keeps_nothing(data_dir, monkeypatch):
    taken = demo.DemoUser("hotline", "重名", demo.CITY, Role.HANDLER)
    monkeypatch.setattr(demo, "DEMO_USERS", (*demo.DEMO_USERS, taken))

    with pytest.raises(ValidationError):
        demo.load_demo(stdout=io.StringIO())

    assert counts() == (0, 0, 0, 0, 0)
    assert not (data_dir / demo.LOGINS_FILE_NAME).exists()
