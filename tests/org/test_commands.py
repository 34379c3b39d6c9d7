"""The command-line verbs: createadmin, import-regions, export-regions and demo."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from rightscare.org.management.commands import import_regions as import_regions_command
from rightscare.org.models import Membership, Region, Unit, User
from rightscare.org.roles import Role

pytestmark = pytest.mark.django_db

HEADER = "code,name,level,parent_code,name_en,code_scheme\n"
STRONG_PASSWORD = "lantern-orchid-57-quay"


@pytest.fixture(autouse=True)
def not_a_terminal(monkeypatch):
    """Commands are run as from a script unless a test says otherwise."""
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "password"
    path.write_text(STRONG_PASSWORD + "\n", encoding="utf-8")
    return path


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- createadmin -------------------------------------------------------------------


def test_createadmin_without_units_refuses_and_says_what_to_do(password_file):
    with pytest.raises(CommandError, match=r"rightscare demo"):
        run("createadmin", "--username", "root", "--unit", "1", "--password-file", str(password_file))

    assert not User.objects.exists()


def test_createadmin_bootstraps_the_first_system_administrator(org, password_file):
    out, _ = run("createadmin", "--username", "root", "--full-name", "邓淑芬", "--unit", str(org.units["city"].pk), "--password-file", str(password_file))

    user = User.objects.get(username="root")
    membership = Membership.objects.get(user=user)
    assert (membership.unit, membership.role, membership.granted_by, membership.revoked_at) == (org.units["city"], Role.SYSTEM_ADMIN, None, None)
    assert (user.full_name, user.check_password(STRONG_PASSWORD)) == ("邓淑芬", True)
    assert "first system administrator" in out


def test_createadmin_goes_through_services_once_a_system_administrator_exists(org, personas, password_file):
    run("createadmin", "--username", "second", "--unit", str(org.units["pingshan"].pk), "--password-file", str(password_file))

    membership = Membership.objects.get(user__username="second")
    assert (membership.unit, membership.role, membership.granted_by) == (org.units["pingshan"], Role.SYSTEM_ADMIN, personas["system_admin"])


def test_createadmin_refuses_a_weak_password_and_creates_nothing(org, tmp_path):
    weak = tmp_path / "weak"
    weak.write_text("12345678", encoding="utf-8")

    with pytest.raises(CommandError, match="too short"):
        run("createadmin", "--username", "root", "--unit", str(org.units["city"].pk), "--password-file", str(weak))

    assert not User.objects.filter(username="root").exists()


def test_createadmin_refuses_an_unknown_unit(org, password_file):
    with pytest.raises(CommandError, match="no active unit with id 999999"):
        run("createadmin", "--username", "root", "--unit", "999999", "--password-file", str(password_file))

    assert not User.objects.filter(username="root").exists()


def test_createadmin_refuses_a_taken_username(org, personas, password_file):
    with pytest.raises(CommandError, match="taken"):
        run("createadmin", "--username", "dispatcher", "--unit", str(org.units["city"].pk), "--password-file", str(password_file))

    assert not Membership.objects.filter(user=personas["dispatcher"], role=Role.SYSTEM_ADMIN).exists()


def test_createadmin_without_a_terminal_needs_a_password_file(org):
    with pytest.raises(CommandError, match="--password-file"):
        run("createadmin", "--username", "root", "--unit", str(org.units["city"].pk))

    assert not User.objects.filter(username="root").exists()


def test_createadmin_asks_twice_for_the_password_on_a_terminal(org, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter([STRONG_PASSWORD, STRONG_PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    with pytest.raises(CommandError, match="differ"):
        run("createadmin", "--username", "root", "--full-name", "", "--unit", str(org.units["city"].pk))

    assert not User.objects.filter(username="root").exists()
    answers = iter([STRONG_PASSWORD, STRONG_PASSWORD])
    run("createadmin", "--username", "root", "--full-name", "", "--unit", str(org.units["city"].pk))
    assert User.objects.get(username="root").check_password(STRONG_PASSWORD)


# --- import-regions and export-regions ------------------------------------------------


def test_import_regions_reports_counts(org, personas, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text(HEADER + "440311000000,光明区,district,440300000000,Guangming District,cn_stats\n440310000000,坪山区,district,440300000000,,cn_stats\n")

    out, _ = run("import_regions", str(path))

    assert "1 created, 1 updated" in out
    assert Region.objects.get(code="440311000000").parent == org.regions["shenzhen"]


def test_import_regions_lists_the_bad_lines_and_imports_nothing(org, personas, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "440311000000,光明区,district,440300000000,,cn_stats\n440399001000,未知街道,street,440399000000,,cn_stats\n")
    before = Region.objects.count()
    err = io.StringIO()

    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_regions", str(path), stdout=io.StringIO(), stderr=err)

    assert f"{path}:3: Unknown parent 440399000000." in err.getvalue()
    assert Region.objects.count() == before


def test_import_regions_exits_with_status_one_on_bad_input(org, personas, tmp_path, capsys, monkeypatch):
    # run_from_argv closes the connections when it is done; the test's transaction needs its own.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "440311000001,光明区,district,440300000000,,cn_stats\n")
    before = Region.objects.count()

    with pytest.raises(SystemExit) as exit_info:
        import_regions_command.Command().run_from_argv(["rightscare", "import_regions", str(path)])

    assert exit_info.value.code == 1
    assert ":2: For this level only the first 6 digits may be non-zero." in capsys.readouterr().err
    assert Region.objects.count() == before


def test_import_regions_refuses_a_file_that_is_not_utf8(org, personas, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "440311000000,光明区,district,440300000000,,cn_stats\n").encode("gbk"))

    with pytest.raises(CommandError, match="not UTF-8"):
        run("import_regions", str(path))

    assert not Region.objects.filter(code="440311000000").exists()


def test_import_regions_without_a_system_administrator_refuses(org, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text(HEADER + "440311000000,光明区,district,440300000000,,cn_stats\n")

    with pytest.raises(CommandError, match="createadmin"):
        run("import_regions", str(path))

    assert not Region.objects.filter(code="440311000000").exists()


def test_import_regions_as_a_user_who_may_not_manage_regions_refuses(org, personas, tmp_path):
    path = tmp_path / "regions.csv"
    path.write_text(HEADER + "440311000000,光明区,district,440300000000,,cn_stats\n")

    with pytest.raises(CommandError, match="may not manage regions"):
        run("import_regions", str(path), "--as", "unit_admin")

    assert not Region.objects.filter(code="440311000000").exists()


def test_export_regions_writes_csv_to_standard_output(org, personas):
    out, _ = run("export_regions")

    lines = out.splitlines()
    assert lines[0] == HEADER.strip()
    assert "440310001000,坪山街道,street,440310000000,Pingshan Street,cn_stats" in lines
    assert len(lines) == 1 + Region.objects.count()


def test_export_regions_writes_the_same_csv_to_a_file(org, personas, tmp_path):
    path = tmp_path / "out.csv"

    _, err = run("export_regions", str(path))

    out, _ = run("export_regions")
    assert path.read_bytes().decode("utf-8") == out
    assert f"Wrote {Region.objects.count()} regions to {path}." in err


def test_export_regions_as_a_district_user_writes_only_her_part(org, personas):
    out, _ = run("export_regions", "--as", "dispatcher")

    names = [line.split(",")[1] for line in out.splitlines()[1:]]
    assert sorted(names) == sorted(["广东省", "深圳市", "坪山区", "坪山街道", "六和社区"])


# --- demo -----------------------------------------------------------------------------


@pytest.fixture
def demo_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def test_demo_loads_once_then_if_empty_prints_the_saved_logins(demo_settings):
    first, _ = run("load_demo")
    units = Unit.objects.count()

    second, _ = run("load_demo", "--if-empty")

    assert "Password" in first
    assert second.strip() == (demo_settings.DATA_DIR / "demo-logins.txt").read_text(encoding="utf-8").strip()
    assert second.strip() in first
    assert Unit.objects.count() == units


def test_demo_without_if_empty_refuses_politely_when_data_is_there(org):
    units = Unit.objects.count()

    with pytest.raises(CommandError, match="only loaded into an empty database"):
        run("load_demo")

    assert Unit.objects.count() == units


def test_demo_if_empty_without_saved_logins_says_it_is_loaded(org, demo_settings):
    out, _ = run("load_demo", "--if-empty")

    assert out.strip() == "The demo data is already loaded."
    assert not (demo_settings.DATA_DIR / "demo-logins.txt").exists()


@pytest.mark.django_db
def test_createadmin_sets_up_an_empty_installation(tmp_path):
    from django.core.management import call_command

    from rightscare.org.models import Membership, Region, Unit

    password_file = tmp_path / "pw"
    password_file.write_text("a-long-first-passphrase\n")
    call_command(
        "createadmin",
        "--username",
        "root",
        "--full-name",
        "管理员",
        "--password-file",
        str(password_file),
        "--region-name",
        "深圳市",
        "--region-level",
        "city",
        "--region-code",
        "440300000000",
        "--unit-name",
        "深圳市妇女联合会",
    )
    region = Region.objects.get(code="440300000000")
    unit = Unit.objects.get(name="深圳市妇女联合会")
    assert (unit.region, unit.path) == (region, f"/{unit.pk}/")
    membership = Membership.objects.get(user__username="root")
    assert (membership.unit, membership.role, membership.granted_by) == (unit, "system_admin", None)
