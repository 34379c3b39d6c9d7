"""Working calendars in the database: inheritance down the region tree, edits, the seed and the coverage check."""

from __future__ import annotations

import importlib
import io
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import time_machine
from django.apps import apps as global_apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import translation

from rightscare.audit.models import AuditEntry
from rightscare.core import workcalendar as wc
from rightscare.core.checks import Finding, run_checks
from rightscare.org import calendar_services as services
from rightscare.org.calendar_models import CalendarException, DayKind, WorkingCalendar
from rightscare.org.calendars import check_calendars, coverage_of, coverages, days_of_year, effective_calendar, parse_working_periods

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIGRATION = importlib.import_module("rightscare.org.migrations.0004_national_calendar")

PACKAGE_DAYS = len(chinese_calendar.holidays) + len(chinese_calendar.workdays)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def frozen(day: str) -> time_machine.travel:
    """Freeze "now" at noon in Beijing on ``day``."""
    return time_machine.travel(datetime.fromisoformat(f"{day}T12:00:00+08:00"), tick=False)


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English (the installation's language is Chinese)."""
    with translation.override("en"):
        yield


@pytest.fixture
def national(db) -> WorkingCalendar:
    return services.ensure_national_calendar()


@pytest.fixture
def seeded(national) -> WorkingCalendar:
    services.seed_national_calendar()
    national.refresh_from_db()
    return national


@pytest.fixture
def admin(personas):
    return personas["system_admin"]


def state() -> tuple[object, ...]:
    """Everything a calendar edit could change, to assert that a refused one changed nothing."""
    return (
        sorted(WorkingCalendar.objects.values_list("pk", "region_id", "time_zone", "working_periods", "covered_until")),
        sorted(CalendarException.objects.values_list("calendar_id", "date", "kind", "name", "name_en")),
        AuditEntry.objects.count(),
    )


# --- the migration ----------------------------------------------------------------------------------


def test_the_data_migration_creates_one_national_calendar_and_its_reverse_removes_it():
    WorkingCalendar.objects.all().delete()

    MIGRATION.create_national_calendar(global_apps, None)
    MIGRATION.create_national_calendar(global_apps, None)

    calendar = WorkingCalendar.objects.get()
    assert (calendar.region, calendar.time_zone, calendar.working_periods, calendar.covered_until) == (
        None,
        "Asia/Shanghai",
        [["09:00", "12:00"], ["14:00", "18:00"]],
        None,
    )
    MIGRATION.remove_national_calendar(global_apps, None)
    assert not WorkingCalendar.objects.exists()


def test_the_database_allows_one_national_calendar_and_one_per_region(national, org):
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingCalendar.objects.create(region=None, time_zone="Asia/Shanghai", working_periods=[["09:00", "17:00"]])
    WorkingCalendar.objects.create(region=org.regions["pingshan"])
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingCalendar.objects.create(region=org.regions["pingshan"])
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarException.objects.bulk_create([CalendarException(calendar=national, date=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦")] * 2)


def test_the_database_refuses_a_national_calendar_without_time_zone_or_hours(db):
    WorkingCalendar.objects.all().delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingCalendar.objects.create(region=None, time_zone="", working_periods=[["09:00", "17:00"]])
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingCalendar.objects.create(region=None, time_zone="Asia/Shanghai", working_periods=None)


# --- the seed ---------------------------------------------------------------------------------------


def test_the_seed_enters_every_day_the_package_knows_and_covers_its_last_year(national):
    report = services.seed_national_calendar()

    assert report == services.SeedReport(created=PACKAGE_DAYS, already_entered=0, covered_until=date(2026, 12, 31), first_year=2004, last_year=2026)
    national.refresh_from_db()
    assert national.covered_until == date(2026, 12, 31)
    days = {d.date: (d.kind, d.name, d.name_en) for d in national.exceptions.filter(date__year=2026, date__month__in=[9, 10])}
    assert days == {
        date(2026, 9, 20): (DayKind.WORKDAY, "国庆节调休", "National Day (make-up working day)"),
        date(2026, 9, 25): (DayKind.HOLIDAY, "中秋节", "Mid-autumn Festival"),
        date(2026, 9, 26): (DayKind.HOLIDAY, "中秋节", "Mid-autumn Festival"),
        date(2026, 9, 27): (DayKind.HOLIDAY, "中秋节", "Mid-autumn Festival"),
        **{date(2026, 10, day): (DayKind.HOLIDAY, "国庆节", "National Day") for day in range(1, 8)},
        date(2026, 10, 10): (DayKind.WORKDAY, "国庆节调休", "National Day (make-up working day)"),
    }
    assert national.exceptions.get(date=date(2026, 4, 5)).name == "清明节"
    assert national.exceptions.get(date=date(2026, 2, 14)).name == "春节调休"


def test_the_seed_is_idempotent_and_audited_once(national):
    services.seed_national_calendar()
    entries = AuditEntry.objects.filter(event="org.calendar.seed")
    assert [(e.action, e.changes, e.actor_id) for e in entries] == [("update", {"days_added": PACKAGE_DAYS, "covered_until": [None, "2026-12-31"]}, None)]

    report = services.seed_national_calendar()

    assert (report.created, report.already_entered) == (0, PACKAGE_DAYS)
    assert CalendarException.objects.filter(calendar=national).count() == PACKAGE_DAYS
    assert AuditEntry.objects.filter(event="org.calendar.seed").count() == 1


def test_the_seed_keeps_an_administrators_correction_and_never_moves_coverage_back(seeded, admin):
    services.remove_calendar_day(by=admin, calendar=seeded, day=date(2026, 10, 7))
    services.add_calendar_day(by=admin, calendar=seeded, day=date(2026, 10, 7), kind=DayKind.WORKDAY, name="更正")
    services.update_calendar(
        by=admin,
        calendar=seeded,
        time_zone="Asia/Shanghai",
        working_periods=parse_working_periods("09:00-12:00, 14:00-18:00"),
        covered_until=date(2027, 12, 31),
    )

    report = services.seed_national_calendar()

    assert (report.created, report.covered_until) == (0, date(2027, 12, 31))
    assert seeded.exceptions.get(date=date(2026, 10, 7)).kind == DayKind.WORKDAY
    seeded.refresh_from_db()
    assert seeded.covered_until == date(2027, 12, 31)


def test_the_seed_creates_the_national_calendar_when_it_is_missing(db):
    WorkingCalendar.objects.all().delete()
    services.seed_national_calendar()
    assert WorkingCalendar.objects.get().covered_until == date(2026, 12, 31)


def test_a_person_seeding_needs_the_capability_and_changes_nothing_without_it(national, personas):
    before = state()
    with pytest.raises(PermissionDenied):
        services.seed_national_calendar(by=personas["unit_admin"])
    assert state() == before


def test_the_seed_command_reports_what_it_did(national):
    out = io.StringIO()
    call_command("seed_calendar", stdout=out)
    call_command("seed_calendar", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"National working calendar: {PACKAGE_DAYS} day(s) added, 0 already entered (years 2004–2026); holidays entered until 2026-12-31."
    assert lines[2] == f"National working calendar: 0 day(s) added, {PACKAGE_DAYS} already entered (years 2004–2026); holidays entered until 2026-12-31."


def test_the_command_line_knows_the_verb():
    from rightscare.cli import COMMANDS, USAGE

    assert COMMANDS["seed-calendar"] == "seed_calendar"
    assert "seed-calendar" in USAGE


# --- the effective calendar ----------------------------------------------------------------------------


def test_a_region_without_a_calendar_uses_the_national_one(seeded, org, django_assert_num_queries):
    with django_assert_num_queries(2):
        spec = effective_calendar(org.regions["pingshan_community"])
    assert spec == wc.CalendarSpec(
        time_zone="Asia/Shanghai",
        working_periods=((time(9), time(12)), (time(14), time(18))),
        holiday_dates=frozenset(chinese_calendar.holidays),
        extra_working_dates=frozenset(chinese_calendar.workdays),
        covered_until=date(2026, 12, 31),
    )
    assert effective_calendar(None) == spec


def test_a_region_calendar_applies_below_it_and_its_days_override_the_calendars_above(seeded, org, admin, django_assert_num_queries):
    district = services.create_region_calendar(by=admin, region=org.regions["pingshan"])
    services.add_calendar_day(by=admin, calendar=district, day=date(2026, 11, 20), kind=DayKind.HOLIDAY, name="坪山区纪念日")
    # The district keeps working on the last day of the National Day holiday.
    services.add_calendar_day(by=admin, calendar=district, day=date(2026, 10, 7), kind=DayKind.WORKDAY, name="值班")
    street = services.create_region_calendar(by=admin, region=org.regions["pingshan_street"])
    services.add_calendar_day(by=admin, calendar=street, day=date(2026, 11, 20), kind=DayKind.WORKDAY, name="街道照常上班")

    with django_assert_num_queries(2):
        community = effective_calendar(org.regions["pingshan_community"])  # below the street: inherits the street's calendar
    district_spec = effective_calendar(org.regions["pingshan"])
    sibling = effective_calendar(org.regions["longhua_street"])

    assert (date(2026, 11, 20) in district_spec.holiday_dates, date(2026, 10, 7) in district_spec.extra_working_dates) == (True, True)
    assert (date(2026, 11, 20) in community.extra_working_dates, date(2026, 10, 7) in community.extra_working_dates) == (True, True)
    assert (date(2026, 11, 20) in sibling.holiday_dates, date(2026, 10, 7) in sibling.holiday_dates) == (False, True)
    # The same clock, in three regions.
    start = at(2026, 11, 19, 10)
    assert wc.add_working_days(district_spec, start, 1).instant == at(2026, 11, 23, 18)
    assert wc.add_working_days(community, start, 1).instant == at(2026, 11, 20, 18)
    assert wc.add_working_days(effective_calendar(org.regions["pingshan_street"]), at(2026, 9, 30, 10), 1).instant == at(2026, 10, 7, 18)
    assert wc.add_working_days(sibling, at(2026, 9, 30, 10), 1).instant == at(2026, 10, 8, 18)


def test_working_hours_and_time_zone_are_inherited_until_a_calendar_sets_its_own(seeded, org, admin):
    services.create_region_calendar(by=admin, region=org.regions["pingshan"], working_periods=parse_working_periods("08:30-12:00, 14:30-17:30"))
    services.create_region_calendar(by=admin, region=org.regions["longhua"], time_zone="Asia/Urumqi")

    pingshan_street = effective_calendar(org.regions["pingshan_street"])
    longhua_street = effective_calendar(org.regions["longhua_street"])

    assert (pingshan_street.time_zone, pingshan_street.working_periods) == ("Asia/Shanghai", ((time(8, 30), time(12)), (time(14, 30), time(17, 30))))
    assert (longhua_street.time_zone, longhua_street.working_periods) == ("Asia/Urumqi", ((time(9), time(12)), (time(14), time(18))))
    result = wc.add_working_hours(longhua_street, at(2026, 3, 9, 12), 1).instant  # 12:00 Beijing is 10:00 in Urumqi
    assert result.isoformat() == "2026-03-09T11:00:00+06:00"


def test_coverage_is_the_earliest_date_any_calendar_of_the_chain_vouches_for(seeded, org, admin):
    services.create_region_calendar(by=admin, region=org.regions["pingshan"])  # vouches for nothing
    street = services.create_region_calendar(by=admin, region=org.regions["pingshan_street"], covered_until=date(2026, 6, 30))

    assert effective_calendar(org.regions["pingshan"]).covered_until == date(2026, 12, 31)
    assert effective_calendar(org.regions["pingshan_community"]).covered_until == date(2026, 6, 30)
    services.update_calendar(by=admin, calendar=street, time_zone="", working_periods=None, covered_until=date(2027, 6, 30))
    assert effective_calendar(org.regions["pingshan_community"]).covered_until == date(2026, 12, 31)


def test_without_any_calendar_the_default_applies_and_nothing_is_covered(db, org):
    WorkingCalendar.objects.all().delete()
    assert effective_calendar(org.regions["pingshan"]) == wc.CalendarSpec()


def test_the_days_of_a_year_show_own_and_inherited_days(seeded, org, admin):
    district = services.create_region_calendar(by=admin, region=org.regions["pingshan"])
    services.add_calendar_day(by=admin, calendar=district, day=date(2026, 10, 7), kind=DayKind.WORKDAY, name="值班")

    days = days_of_year(district, 2026)

    assert (days[date(2026, 10, 7)].kind, days[date(2026, 10, 7)].calendar_id) == (DayKind.WORKDAY, district.pk)
    assert (days[date(2026, 10, 6)].kind, days[date(2026, 10, 6)].calendar_id) == (DayKind.HOLIDAY, seeded.pk)
    assert min(days).year == max(days).year == 2026


# --- edits -----------------------------------------------------------------------------------------


def test_creating_a_region_calendar_is_audited(national, org, admin):
    calendar = services.create_region_calendar(by=admin, region=org.regions["pingshan"], time_zone="Asia/Shanghai")

    entry = AuditEntry.objects.get(event="org.calendar.create")
    assert (entry.actor_id, entry.action, entry.object_type, entry.object_id, entry.unit_id) == (
        admin.pk,
        "create",
        "org.workingcalendar",
        str(calendar.pk),
        org.units["city"].pk,
    )
    assert entry.changes == {"region": [None, {"id": org.regions["pingshan"].pk, "label": "坪山区"}], "time_zone": [None, "Asia/Shanghai"]}


@pytest.mark.parametrize("persona", ["unit_admin", "supervisor", "dispatcher", "auditor", "volunteer"])
def test_only_a_system_administrator_may_edit_calendars(national, org, personas, persona):
    user = personas[persona]
    before = state()
    for attempt in (
        lambda: services.create_region_calendar(by=user, region=org.regions["pingshan"]),
        lambda: services.update_calendar(by=user, calendar=national, time_zone="UTC", working_periods=((time(8), time(16)),), covered_until=None),
        lambda: services.add_calendar_day(by=user, calendar=national, day=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦"),
        lambda: services.remove_calendar_day(by=user, calendar=national, day=date(2027, 1, 1)),
    ):
        with pytest.raises(PermissionDenied):
            attempt()
    assert state() == before


def test_a_region_has_one_calendar(national, org, admin):
    services.create_region_calendar(by=admin, region=org.regions["pingshan"])
    before = state()
    with pytest.raises(ValidationError) as error:
        services.create_region_calendar(by=admin, region=org.regions["pingshan"])
    assert error.value.message_dict == {"region": ["This region already has a calendar of its own."]}
    assert state() == before


@pytest.mark.parametrize(
    ("arguments", "errors"),
    [
        ({"time_zone": "Mars/Olympus"}, {"time_zone": ["Unknown time zone Mars/Olympus."]}),
        ({"time_zone": ""}, {"time_zone": ["The national calendar needs a time zone."]}),
        ({"working_periods": None}, {"working_hours": ["The national calendar needs working hours."]}),
        ({"working_periods": ((time(12), time(9)),)}, {"working_hours": ["A working period must end after it starts: 12:00-09:00."]}),
        (
            {"working_periods": ((time(9), time(13)), (time(12), time(18)))},
            {"working_hours": ["Working periods must be in order and must not overlap: 12:00 is before 13:00."]},
        ),
        ({"covered_until": date(3100, 1, 1)}, {"covered_until": ["Enter a date between the years 1900 and 2999."]}),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(national, admin, arguments, errors):
    values = {"time_zone": "Asia/Shanghai", "working_periods": ((time(9), time(12)), (time(14), time(18))), "covered_until": None, **arguments}
    before = state()
    with pytest.raises(ValidationError) as error:
        services.update_calendar(by=admin, calendar=national, **values)
    assert error.value.message_dict == errors
    assert state() == before


def test_changing_working_hours_is_audited_with_the_difference_and_nothing_is_written_when_nothing_changed(national, admin):
    services.update_calendar(
        by=admin, calendar=national, time_zone="Asia/Shanghai", working_periods=parse_working_periods("09:00-12:00，14:00-18:00"), covered_until=None
    )
    assert not AuditEntry.objects.filter(event="org.calendar.update").exists()

    services.update_calendar(
        by=admin,
        calendar=national,
        time_zone="Asia/Shanghai",
        working_periods=parse_working_periods("08:30-12:00, 13:30-17:30"),
        covered_until=date(2027, 12, 31),
    )

    national.refresh_from_db()
    assert national.working_periods == [["08:30", "12:00"], ["13:30", "17:30"]]
    entry = AuditEntry.objects.get(event="org.calendar.update")
    assert entry.changes == {"covered_until": [None, "2027-12-31"], "working_hours": ["09:00-12:00, 14:00-18:00", "08:30-12:00, 13:30-17:30"]}


def test_adding_and_removing_days_is_audited(national, admin):
    services.add_calendar_day(by=admin, calendar=national, day=date(2027, 10, 1), kind=DayKind.HOLIDAY, name=" 国庆节 ", name_en="National Day")
    assert services.remove_calendar_day(by=admin, calendar=national, day=date(2027, 10, 1)) is True
    assert services.remove_calendar_day(by=admin, calendar=national, day=date(2027, 10, 1)) is False

    entries = AuditEntry.objects.filter(event__in=["org.calendar.add_day", "org.calendar.remove_day"]).order_by("id")
    day = {"date": "2027-10-01", "kind": "holiday", "name": "国庆节", "name_en": "National Day"}
    assert [(e.action, e.event, e.changes) for e in entries] == [
        ("create", "org.calendar.add_day", {k: [None, v] for k, v in day.items()}),
        ("delete", "org.calendar.remove_day", {k: [v, None] for k, v in day.items()}),
    ]
    assert not national.exceptions.exists()


@pytest.mark.parametrize(
    ("arguments", "errors"),
    [
        ({"kind": DayKind.HOLIDAY, "name": "  "}, {"name": ["A public holiday needs a name, e.g. 国庆节."]}),
        ({"kind": "vacation", "name": "x"}, {"kind": ["Choose a public holiday or a make-up working day."]}),
        ({"kind": DayKind.WORKDAY, "name": "x" * 101}, {"name": ["A name has at most 100 characters."]}),
        ({"kind": DayKind.HOLIDAY, "name": "元旦", "day": date(2026, 1, 1)}, {"date": ["2026-01-01 is already entered in this calendar; remove it first."]}),
    ],
)
def test_bad_days_are_refused_and_nothing_changes(seeded, admin, arguments, errors):
    values = {"day": date(2027, 1, 1), **arguments}
    before = state()
    with pytest.raises(ValidationError) as error:
        services.add_calendar_day(by=admin, calendar=seeded, **values)
    assert error.value.message_dict == errors
    assert state() == before


def test_a_make_up_working_day_needs_no_name(national, admin):
    day = services.add_calendar_day(by=admin, calendar=national, day=date(2027, 2, 20), kind=DayKind.WORKDAY)
    assert (day.kind, day.name) == (DayKind.WORKDAY, "")


def test_deleting_a_region_calendar_returns_the_region_to_the_calendar_above(seeded, org, admin):
    district = services.create_region_calendar(by=admin, region=org.regions["pingshan"])
    services.add_calendar_day(by=admin, calendar=district, day=date(2026, 11, 20), kind=DayKind.HOLIDAY, name="纪念日")

    services.delete_region_calendar(by=admin, calendar=district)

    assert not WorkingCalendar.objects.filter(region=org.regions["pingshan"]).exists()
    assert not CalendarException.objects.filter(date=date(2026, 11, 20)).exists()
    assert effective_calendar(org.regions["pingshan"]) == effective_calendar(None)
    entry = AuditEntry.objects.get(event="org.calendar.delete")
    assert entry.changes == {"days": [1, None], "region": [{"id": org.regions["pingshan"].pk, "label": "坪山区"}, None], "time_zone": ["", None]}


def test_the_national_calendar_cannot_be_deleted(national, admin):
    before = state()
    with pytest.raises(ValidationError, match="The national calendar cannot be deleted"):
        services.delete_region_calendar(by=admin, calendar=national)
    assert state() == before


# --- telling the deadlines ----------------------------------------------------------------------------


def test_listeners_hear_of_committed_changes_only(national, org, admin, django_capture_on_commit_callbacks):
    heard: list[services.CalendarChange] = []
    listener = services.on_calendar_change(heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            district = services.create_region_calendar(by=admin, region=org.regions["pingshan"])
        with django_capture_on_commit_callbacks(execute=True):
            services.add_calendar_day(by=admin, calendar=district, day=date(2026, 11, 20), kind=DayKind.HOLIDAY, name="纪念日")
        with django_capture_on_commit_callbacks(execute=True):
            services.update_calendar(by=admin, calendar=national, time_zone="Asia/Shanghai", working_periods=((time(9), time(17)),), covered_until=None)
        with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(ValidationError):
            services.add_calendar_day(by=admin, calendar=district, day=date(2026, 11, 20), kind=DayKind.HOLIDAY, name="again")
    finally:
        services.forget_calendar_listener(listener)

    path = org.regions["pingshan"].path
    assert heard == [
        services.CalendarChange(district.pk, path, None),
        services.CalendarChange(district.pk, path, frozenset({date(2026, 11, 20)})),
        services.CalendarChange(national.pk, None, None),
    ]
    assert callbacks == []


# --- coverage -----------------------------------------------------------------------------------------


def test_at_the_end_of_november_a_calendar_seeded_from_the_package_warns(seeded):
    with frozen("2026-11-29"):
        findings = check_calendars()
    assert findings == [
        Finding(
            "warning",
            "national working calendar: public holidays entered only up to 2026-12-31 (32 days ahead, fewer than 90); "
            "enter next year's holidays on the calendar pages",
        )
    ]


def test_entering_next_year_ends_the_warning(seeded, admin):
    services.add_calendar_day(by=admin, calendar=seeded, day=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦")
    services.update_calendar(
        by=admin, calendar=seeded, time_zone="Asia/Shanghai", working_periods=((time(9), time(12)), (time(14), time(18))), covered_until=date(2027, 12, 31)
    )
    with frozen("2026-11-29"):
        assert check_calendars() == [Finding("ok", "working calendars cover public holidays up to 2027-12-31")]


@pytest.mark.parametrize(("today", "level"), [("2026-10-02", "ok"), ("2026-10-03", "warning")])
def test_the_warning_starts_when_fewer_than_90_days_are_covered(seeded, today, level):
    with frozen(today):
        assert [f.level for f in check_calendars()] == [level]


def test_a_calendar_with_nothing_entered_warns(national):
    with frozen("2026-03-01"):
        assert check_calendars() == [
            Finding("warning", "national working calendar: no public holidays entered; run `rightscare seed-calendar` or enter them on the calendar pages")
        ]


def test_a_region_calendar_that_lags_behind_warns_by_name(seeded, org, admin):
    services.create_region_calendar(by=admin, region=org.regions["pingshan"], covered_until=date(2026, 6, 30))
    with frozen("2026-05-01"):
        findings = check_calendars()
    assert findings == [
        Finding(
            "warning",
            "working calendar of 坪山区: public holidays entered only up to 2026-06-30 (60 days ahead, fewer than 90); "
            "enter next year's holidays on the calendar pages",
        )
    ]


def test_without_a_national_calendar_the_check_says_so(db):
    WorkingCalendar.objects.all().delete()
    assert check_calendars()[0] == Finding(
        "warning", "there is no national working calendar: deadlines count Monday to Friday only; run `rightscare seed-calendar`"
    )


def test_the_check_runs_with_the_others_and_a_calendar_warning_does_not_fail_the_command(seeded, monkeypatch):
    with frozen("2026-11-29"):
        assert any(f.message.startswith("national working calendar: public holidays entered only up to 2026-12-31") for f in run_checks())
        monkeypatch.setattr("rightscare.core.management.commands.rightscare_check.run_checks", check_calendars)
        out = io.StringIO()
        call_command("rightscare_check", stdout=out, stderr=io.StringIO())
    assert "[warning] national working calendar: public holidays entered only up to 2026-12-31 (32 days ahead" in out.getvalue()
    assert "configuration OK" in out.getvalue()


def test_coverages_list_every_calendar_national_first_in_one_query(seeded, org, admin, django_assert_num_queries):
    services.create_region_calendar(by=admin, region=org.regions["pingshan_street"])
    services.create_region_calendar(by=admin, region=org.regions["longhua"], covered_until=date(2027, 3, 31))
    with frozen("2026-11-29"), django_assert_num_queries(1):
        rows = coverages()
        summary = [(row.calendar.display_name, row.covered_until, row.days_ahead, row.is_short, row.parent.pk if row.parent else None) for row in rows]
    # National first; regions in the order of their materialised paths (ids differ between databases).
    assert summary[0] == ("National calendar", date(2026, 12, 31), 32, True, None)
    assert sorted(summary[1:]) == [
        ("Longhua", date(2026, 12, 31), 32, True, seeded.pk),
        ("Pingshan Street", date(2026, 12, 31), 32, True, seeded.pk),
    ]
    assert [row.calendar.region.path for row in rows[1:]] == sorted(row.calendar.region.path for row in rows[1:])
    with frozen("2026-11-29"):
        assert coverage_of(rows[1].calendar).covered_until == date(2026, 12, 31)


# --- working hours as text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "periods"),
    [
        ("09:00-12:00, 14:00-18:00", ((time(9), time(12)), (time(14), time(18)))),
        ("9:00–12:00，14:00至18:00", ((time(9), time(12)), (time(14), time(18)))),
        ("08:30 ~ 17:30", ((time(8, 30), time(17, 30)),)),
    ],
)
def test_working_hours_are_read_from_text(text, periods):
    assert parse_working_periods(text) == periods


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nine to five", "Write the working hours as periods like 09:00-12:00, 14:00-18:00 (not nine to five)."),
        ("09:00-25:00", "25:00 is not a time of day."),
        ("14:00-18:00, 09:00-12:00", "Working periods must be in order and must not overlap: 09:00 is before 18:00."),
        ("", "Enter at least one working period."),
    ],
)
def test_bad_working_hours_are_explained(text, message):
    with pytest.raises(ValueError) as error:
        parse_working_periods(text)
    assert str(error.value) == message


def test_the_demo_installation_has_the_holidays(settings, tmp_path):
    from rightscare.org import demo

    settings.DATA_DIR = tmp_path
    assert demo.load_demo(stdout=io.StringIO()) is True
    national = WorkingCalendar.objects.get(region__isnull=True)
    assert (national.covered_until, national.exceptions.count()) == (date(2026, 12, 31), PACKAGE_DAYS)
