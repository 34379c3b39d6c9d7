"""The demo installation: the places, organisations and people of the seed article's cases.

``load_demo`` fills an empty database with

* the regions of ``data/demo_regions.csv`` (Shenzhen with all its districts and the
  streets and communities of Pingshan, Longhua and Guangming; Liujiadayan in
  Yichang; Xiashi in Haining), imported through :func:`services.import_regions`;
* the unit kinds of ``data/unit_kinds.json``;
* a women's federation for every city, district, street and community, each under
  the federation of the region above it, a neighbourhood committee in every
  community, and the departments, providers and institutions the four cases need;
* one account for every role, all with one password generated for this
  installation and printed at the end (and kept in ``<DATA_DIR>/demo-logins.txt``,
  mode 0600, so ``make run`` can show it again).

Bootstrap: every service checks that the caller may act, and nobody may grant
the first role, so the system administrator, the city federation she belongs to
and the regions above it are created directly with the ORM. Everything else goes
through :mod:`rightscare.org.services`, exactly as an administrator would do it,
so the demo cannot drift from what the product allows.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import import_string

from rightscare.org import calendar_services, services
from rightscare.org.divisions import CodeScheme, RegionLevel
from rightscare.org.models import Region, Unit, UnitKind, User
from rightscare.org.roles import Role

DATA_DIR = Path(__file__).resolve().parent / "data"
REGIONS_FILE = DATA_DIR / "demo_regions.csv"
UNIT_KINDS_FILE = DATA_DIR / "unit_kinds.json"
LOGINS_FILE_NAME = "demo-logins.txt"

#: The region of the city federation, whose staff run the installation.
HOME_REGION_CODE = "440300000000"

FEDERATION_KIND_BY_LEVEL = {
    RegionLevel.CITY: "federation-city",
    RegionLevel.DISTRICT: "federation-district",
    RegionLevel.STREET: "federation-street",
    RegionLevel.COMMUNITY: "federation-community",
}


class Writer(Protocol):
    """Where the demo prints: a management command's ``stdout``, ``sys.stdout``, a StringIO."""

    def write(self, text: str, /) -> object: ...


class DemoDataError(Exception):
    """The bundled demo data does not load (a bug in the data files, not in the user's input)."""


@dataclass(frozen=True)
class DemoUnit:
    """A unit outside the federation line; ``region`` is a path of region names from the root."""

    key: str
    name: str
    name_en: str
    kind: str
    region: str
    parent: str | None = None
    duty_phone: str = ""


@dataclass(frozen=True)
class DemoUser:
    """A demo account: ``unit`` is a key of :data:`DEMO_UNITS` or a region path (that region's federation or committee)."""

    username: str
    full_name: str
    unit: str
    role: Role


SZ = "广东省/深圳市"

#: Departments, providers and institutions of the cases. Federations and
#: neighbourhood committees are derived from the regions instead.
DEMO_UNITS: tuple[DemoUnit, ...] = (
    DemoUnit("pingshan-hr", "深圳市坪山区人力资源局", "Pingshan District Human Resources Bureau", "human-resources", f"{SZ}/坪山区"),
    DemoUnit(
        "pingshan-labour", "坪山街道劳动监察中队", "Pingshan Subdistrict Labour Inspection Team", "labour-inspection", f"{SZ}/坪山区/坪山街道", "pingshan-hr"
    ),
    DemoUnit("shenzhen-police", "深圳市公安局", "Shenzhen Public Security Bureau", "public-security", SZ, duty_phone="110"),
    DemoUnit(
        "longhua-police", "深圳市公安局龙华分局", "Longhua Branch, Shenzhen Public Security Bureau", "public-security", f"{SZ}/龙华区", "shenzhen-police", "110"
    ),
    DemoUnit(
        "guangming-police",
        "深圳市公安局光明分局",
        "Guangming Branch, Shenzhen Public Security Bureau",
        "public-security",
        f"{SZ}/光明区",
        "shenzhen-police",
        "110",
    ),
    DemoUnit("guangming-civil", "深圳市光明区民政局", "Guangming District Civil Affairs Bureau", "civil-affairs", f"{SZ}/光明区"),
    DemoUnit(
        "guangming-plc", "中共深圳市光明区委政法委员会", "Guangming District Political and Legal Affairs Committee", "political-legal-committee", f"{SZ}/光明区"
    ),
    DemoUnit("pingshan-legal-aid", "深圳市坪山区法律援助处", "Pingshan District Legal Aid Office", "legal-aid-centre", f"{SZ}/坪山区"),
    DemoUnit("guangming-counselling", "光明区家庭心理咨询服务中心", "Guangming Family Counselling Centre", "counselling-centre", f"{SZ}/光明区"),
    DemoUnit("longhua-hospital", "深圳市龙华区人民医院", "Shenzhen Longhua District People's Hospital", "hospital", f"{SZ}/龙华区"),
)

CITY = f"federation:{SZ}"

#: One account per role, placed where the seed's cases need them.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "邓淑芬", CITY, Role.SYSTEM_ADMIN),
    DemoUser("hotline", "林晓燕", CITY, Role.INTAKE_OPERATOR),
    DemoUser("city.dispatcher", "陈慧敏", CITY, Role.DISPATCHER),
    DemoUser("city.returnvisit", "马晓红", CITY, Role.RETURN_VISIT_OFFICER),
    DemoUser("city.supervisor", "何建华", CITY, Role.SUPERVISOR),
    DemoUser("auditor", "许文静", CITY, Role.AUDITOR),
    DemoUser("pingshan.dispatcher", "黄丽华", f"federation:{SZ}/坪山区", Role.DISPATCHER),
    DemoUser("pingshan.admin", "罗雪梅", f"federation:{SZ}/坪山区", Role.UNIT_ADMIN),
    DemoUser("pingshan.street", "吴秀兰", f"federation:{SZ}/坪山区/坪山街道", Role.HANDLER),
    DemoUser("pingshan.hr", "张伟", "pingshan-hr", Role.HANDLER),
    DemoUser("pingshan.labour", "王强", "pingshan-labour", Role.HANDLER),
    DemoUser("liuhe.worker", "郑美玲", f"committee:{SZ}/坪山区/坪山街道/六和社区", Role.COMMUNITY_WORKER),
    DemoUser("longhua.dispatcher", "钟晓丽", f"federation:{SZ}/龙华区", Role.DISPATCHER),
    DemoUser("longhua.police", "李军", "longhua-police", Role.HANDLER),
    DemoUser("guangming.dispatcher", "刘芳", f"federation:{SZ}/光明区", Role.DISPATCHER),
    DemoUser("guangming.police", "赵磊", "guangming-police", Role.HANDLER),
    DemoUser("guangming.civil", "周敏", "guangming-civil", Role.HANDLER),
    DemoUser("liujiadayan.volunteer", "孙桂芳", "federation:湖北省/宜昌市/西陵区/西陵街道/刘家大堰社区", Role.VOLUNTEER),
    DemoUser("xiashi.volunteer", "金丽娟", "federation:浙江省/嘉兴市/海宁市/硖石街道", Role.VOLUNTEER),
)


@dataclass(frozen=True)
class DemoLogin:
    """One line of the printed table."""

    username: str
    full_name: str
    unit: str
    role: str


def generate_password() -> str:
    """A fresh random password for this installation's demo accounts (never a constant)."""
    # Checked against every demo account: a random token can, rarely, resemble a username.
    accounts = [User(username=spec.username, full_name=spec.full_name) for spec in DEMO_USERS]
    while True:
        candidate = secrets.token_urlsafe(12)
        try:
            validate_password(candidate)
            for account in accounts:
                validate_password(candidate, account)
        except ValidationError:
            continue
        return candidate


def logins_file() -> Path:
    """Where the demo logins are kept for ``make run`` to print again."""
    return Path(settings.DATA_DIR) / LOGINS_FILE_NAME


def saved_logins() -> str | None:
    """The text of the logins file, or None when there is none."""
    try:
        return logins_file().read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


#: Demo loaders of the apps above org, called with the system administrator and the units by key.
DEMO_EXTENSIONS: tuple[str, ...] = ("rightscare.cases.demo.load", "rightscare.petitioners.demo.load")


def load_demo(*, stdout: Writer) -> bool:
    """Load the demo organisation into an empty database and print its logins.

    Does nothing and returns False when the database already has units (the demo
    is loaded once). Runs in one transaction: if anything fails nothing is kept.
    Writes the logins to ``<DATA_DIR>/demo-logins.txt`` (mode 0600) after commit.
    """
    password = generate_password()
    with transaction.atomic():
        # On SQLite the IMMEDIATE transaction holds the write lock from here on, so two
        # concurrent `rightscare up` cannot both see an empty database; elsewhere the
        # unique region codes make the second loader fail and roll back.
        if Unit.objects.exists():
            return False
        rows = _read_region_rows()
        kinds = _load_unit_kinds()
        admin_spec = next(spec for spec in DEMO_USERS if spec.role == Role.SYSTEM_ADMIN and spec.unit == CITY)
        admin, city_federation = _bootstrap_system_admin(rows=rows, kinds=kinds, spec=admin_spec, password=password)
        report = services.import_regions(by=admin, text=REGIONS_FILE.read_text(encoding="utf-8"))
        if not report.ok:
            raise DemoDataError("; ".join(f"line {line}: {message}" for line, message in report.errors))
        # Regions imported earlier by someone else stay as they are: units go only into the demo's own.
        demo_paths = _name_paths(rows)
        regions = {path: region for path, region in _regions_by_name_path().items() if path in demo_paths}
        units = _create_units(by=admin, kinds=kinds, regions=regions, city_federation=city_federation)
        # Deadlines need the holidays: the national calendar gets every year chinese_calendar knows.
        calendar_services.seed_national_calendar(by=admin)
        logins = []
        for spec in DEMO_USERS:
            unit = units[spec.unit]
            if spec is admin_spec:
                services.set_user_contact(by=admin, user=admin, phone=demo_phone(spec))
                logins.append(DemoLogin(admin.username, admin.full_name, unit.name, str(spec.role.label)))
                continue
            user = services.create_user(
                by=admin, username=spec.username, full_name=spec.full_name, password=password, unit=unit, role=spec.role, phone=demo_phone(spec)
            )
            logins.append(DemoLogin(user.username, user.full_name, unit.name, str(spec.role.label)))
        # Apps above org add their demo data (rules, cases…) through these loaders,
        # named by string so that org does not depend on them.
        for loader in DEMO_EXTENSIONS:
            import_string(loader)(admin=admin, units=units)
        summary = f"RightsCare demo data loaded: {len(regions)} regions, {len(units)} units, {len(logins)} accounts.\n\n"
    text = render_logins(logins, password=password)
    _write_logins_file(text)
    stdout.write(summary)
    stdout.write(text)
    stdout.write(f"These logins are kept in {logins_file()} (readable only by you).\n")
    return True


def demo_phone(spec: DemoUser) -> str:
    """An obviously invented but valid mobile number for a demo account: 138 0000 0001, 0002…"""
    return f"138 0000 {DEMO_USERS.index(spec) + 1:04d}"


def render_logins(logins: list[DemoLogin], *, password: str) -> str:
    """The URL, the password and the table of demo accounts, as printed and saved."""
    host = os.environ.get("RIGHTSCARE_HOST", "127.0.0.1")
    port = os.environ.get("RIGHTSCARE_PORT", "8000")
    header = DemoLogin("username", "name", "unit", "role")
    table = [header, *logins]
    widths = [max(_width(getattr(row, column)) for row in table) for column in ("username", "full_name", "unit", "role")]
    lines = [
        f"Open http://{host}:{port}/ and log in as any of these demo accounts.",
        f"Password (the same for every demo account of this installation): {password}",
        "",
    ]
    for row in table:
        cells = (row.username, row.full_name, row.unit, row.role)
        lines.append("  ".join(_pad(cell, width) for cell, width in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


# --- steps ------------------------------------------------------------------------


@dataclass(frozen=True)
class _RegionRow:
    code: str
    name: str
    level: str
    parent_code: str
    name_en: str
    code_scheme: str


def _read_region_rows() -> list[_RegionRow]:
    """The rows of the demo regions file."""
    reader = csv.DictReader(io.StringIO(REGIONS_FILE.read_text(encoding="utf-8")))
    return [
        _RegionRow(
            code=record["code"],
            name=record["name"],
            level=record["level"],
            parent_code=record["parent_code"],
            name_en=record["name_en"],
            code_scheme=record["code_scheme"] or CodeScheme.CN_STATS,
        )
        for record in reader
    ]


def _name_paths(rows: list[_RegionRow]) -> set[str]:
    """The name path (``广东省/深圳市/坪山区``) of every row, following parent codes within the file."""
    by_code = {row.code: row for row in rows if row.code}
    paths = set()
    for row in rows:
        names, current = [row.name], row
        while current.parent_code:
            current = by_code[current.parent_code]
            names.append(current.name)
        paths.add("/".join(reversed(names)))
    return paths


def _load_unit_kinds() -> dict[str, UnitKind]:
    """Create the unit kinds (reference data; there is no service for them yet)."""
    kinds = {}
    for entry in json.loads(UNIT_KINDS_FILE.read_text(encoding="utf-8")):
        kind, _ = UnitKind.objects.get_or_create(code=entry["code"], defaults={"name": entry["name"], "name_en": entry["name_en"], "family": entry["family"]})
        kinds[kind.code] = kind
    return kinds


def _bootstrap_region(rows: dict[str, _RegionRow], code: str) -> Region:
    """The region with ``code``, created with its ancestors when missing (first start only)."""
    row = rows[code]
    existing = Region.objects.filter(code_scheme=row.code_scheme, code=code).first()
    if existing is not None:
        return existing
    parent = _bootstrap_region(rows, row.parent_code) if row.parent_code else None
    return services.bootstrap_region(name=row.name, name_en=row.name_en, level=row.level, code_scheme=row.code_scheme, code=row.code, parent=parent)


def _bootstrap_system_admin(*, rows: list[_RegionRow], kinds: dict[str, UnitKind], spec: DemoUser, password: str) -> tuple[User, Unit]:
    """Create the city federation and its system administrator (nobody can grant the first role).

    The home region and its ancestors are created too when missing; the region
    import that follows then finds them by code and only updates their names.
    """
    region = _bootstrap_region({row.code: row for row in rows if row.code}, HOME_REGION_CODE)
    return services.bootstrap_installation(
        username=spec.username,
        full_name=spec.full_name,
        password=password,
        region=region,
        unit_name=_federation_name(region),
        unit_name_en=_federation_name_en(region),
        unit_kind=kinds["federation-city"],
        duty_phone="12338",
    )


def _regions_by_name_path() -> dict[str, Region]:
    """Every region by the names from its root, e.g. ``广东省/深圳市/坪山区``."""
    regions = list(Region.objects.all())
    by_id = {region.pk: region for region in regions}
    return {"/".join(by_id[pk].name for pk in region.ancestor_ids()): region for region in regions}


def _federation_name(region: Region) -> str:
    return f"{region.name}妇联"


def _federation_name_en(region: Region) -> str:
    return f"{region.name_en or region.name} Women's Federation"


def _create_units(*, by: User, kinds: dict[str, UnitKind], regions: dict[str, Region], city_federation: Unit) -> dict[str, Unit]:
    """Federations down every region line, committees in communities, then the other units."""
    units: dict[str, Unit] = {}
    federation_of: dict[int, Unit] = {city_federation.region_id: city_federation}
    for path, region in sorted(regions.items(), key=lambda item: item[1].depth):
        kind_code = FEDERATION_KIND_BY_LEVEL.get(RegionLevel(region.level))
        if kind_code is None:
            continue
        federation = federation_of.get(region.pk)
        if federation is None:
            parent = federation_of.get(region.parent_id) if region.parent_id else None
            federation = services.create_unit(
                by=by, name=_federation_name(region), name_en=_federation_name_en(region), kind=kinds[kind_code], region=region, parent=parent
            )
            federation_of[region.pk] = federation
        units[f"federation:{path}"] = federation
        if region.level == RegionLevel.COMMUNITY:
            units[f"committee:{path}"] = services.create_unit(
                by=by,
                name=f"{region.name}居委会",
                name_en=f"{region.name_en or region.name} Neighbourhood Committee",
                kind=kinds["neighbourhood-committee"],
                region=region,
                parent=None,
            )
    for spec in DEMO_UNITS:
        units[spec.key] = services.create_unit(
            by=by,
            name=spec.name,
            name_en=spec.name_en,
            kind=kinds[spec.kind],
            region=regions[spec.region],
            parent=units[spec.parent] if spec.parent else None,
            duty_phone=spec.duty_phone,
        )
    return units


def _write_logins_file(text: str) -> None:
    """Replace the logins file atomically; mkstemp creates it readable by its owner only (0600)."""
    target = logins_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".demo-logins-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _width(text: str) -> int:
    """Columns a terminal gives ``text``: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1 for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
