"""Changing working calendars: region calendars, working hours, holidays and 调休 days, and the yearly seed.

Every function checks the ``manage_calendars`` capability (the seed, run from the
command line or the demo loader, acts for the installation), runs in one
transaction with its audit entry, and tells the registered listeners after
commit (see :func:`on_calendar_change`): deadlines computed on the old calendar
must be recomputed.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from functools import cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.core.workcalendar import DEFAULT_TIME_ZONE, DEFAULT_WORKING_PERIODS, MAX_YEAR, MIN_YEAR
from rightscare.org import access
from rightscare.org.calendar_models import CalendarException, DayKind, WorkingCalendar
from rightscare.org.calendars import format_working_periods, periods_errors, periods_from_json, periods_to_json
from rightscare.org.models import Region
from rightscare.org.roles import Capability

Periods = tuple[tuple[time, time], ...]

# --- telling the deadlines ---------------------------------------------------------------


@dataclass(frozen=True)
class CalendarChange:
    """What changed in a calendar, for whoever computed deadlines with it.

    ``region_path`` is the materialised path of the calendar's region: every
    region whose path starts with it may be affected (None: the national calendar,
    every region). ``dates`` are the days whose status changed; None when the
    working hours, time zone or coverage changed, which may move any deadline.
    """

    calendar_id: int
    region_path: str | None
    dates: frozenset[date] | None


CalendarListener = Callable[[CalendarChange], None]

_listeners: list[CalendarListener] = []


def on_calendar_change(listener: CalendarListener) -> CalendarListener:
    """Call ``listener`` after every committed calendar change (usable as a decorator).

    The deadlines issue registers one that recomputes the open, unpaused
    deadlines of the affected regions (and audits that it did). Listeners run
    after commit, so a rolled-back edit tells nobody; they must be quick (enqueue
    a task) and must not fail.
    """
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def forget_calendar_listener(listener: CalendarListener) -> None:
    """Stop telling ``listener`` (tests)."""
    if listener in _listeners:
        _listeners.remove(listener)


def _announce(calendar: WorkingCalendar, dates: frozenset[date] | None) -> None:
    change = CalendarChange(calendar.pk, calendar.region.path if calendar.region is not None else None, dates)

    def tell() -> None:
        for listener in list(_listeners):
            listener(change)

    transaction.on_commit(tell)


# --- checks ----------------------------------------------------------------------------------


def _require(by: Any) -> None:
    if not access.has_capability(by, Capability.MANAGE_CALENDARS):
        raise PermissionDenied


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names this machine knows."""
    return frozenset(zoneinfo.available_timezones())


def _check_settings(*, national: bool, time_zone: str, working_periods: Periods | None, covered_until: date | None) -> None:
    errors: dict[str, list[str]] = {}
    if time_zone and time_zone not in time_zone_names():
        errors["time_zone"] = [_("Unknown time zone %(zone)s.") % {"zone": time_zone[:64]}]
    elif national and not time_zone:
        errors["time_zone"] = [_("The national calendar needs a time zone.")]
    if working_periods is not None:
        problems = periods_errors(working_periods)
        if problems:
            errors["working_hours"] = problems
    elif national:
        errors["working_hours"] = [_("The national calendar needs working hours.")]
    if covered_until is not None and not MIN_YEAR <= covered_until.year <= MAX_YEAR:
        errors["covered_until"] = [_("Enter a date between the years %(first)d and %(last)d.") % {"first": MIN_YEAR, "last": MAX_YEAR}]
    if errors:
        raise ValidationError(errors)


def _snapshot(calendar: WorkingCalendar) -> dict[str, Any]:
    periods = periods_from_json(calendar.working_periods)
    return {
        "region": calendar.region,
        "time_zone": calendar.time_zone,
        "working_hours": format_working_periods(periods) if periods is not None else None,
        "covered_until": calendar.covered_until.isoformat() if calendar.covered_until else None,
    }


def _day_snapshot(day: CalendarException) -> dict[str, Any]:
    return {"date": day.date.isoformat(), "kind": day.kind, "name": day.name, "name_en": day.name_en}


def _acting_unit(by: Any, calendar: WorkingCalendar) -> Any:
    return access.acting_unit(by, calendar.region, capability=Capability.MANAGE_CALENDARS) if by is not None else None


# --- calendars ---------------------------------------------------------------------------------


def ensure_national_calendar() -> WorkingCalendar:
    """The national calendar, created with the default time zone and working hours if it is missing.

    Migration ``org/0004`` creates it on every installation; this is for the seed
    and for databases emptied since (tests that flush tables).
    """
    calendar = WorkingCalendar.objects.filter(region__isnull=True).first()
    if calendar is None:
        calendar = WorkingCalendar.objects.create(region=None, time_zone=DEFAULT_TIME_ZONE, working_periods=periods_to_json(DEFAULT_WORKING_PERIODS))
    return calendar


def create_region_calendar(
    *, by: Any, region: Region, time_zone: str = "", working_periods: Periods | None = None, covered_until: date | None = None
) -> WorkingCalendar:
    """Give ``region`` (and the regions below it) a calendar of its own.

    Empty time zone and working hours mean "as the calendar above"; it starts with
    no exceptions of its own, so until some are added it behaves exactly like the
    calendar above. Refused when the region already has one.
    """
    _require(by)
    _check_settings(national=False, time_zone=time_zone, working_periods=working_periods, covered_until=covered_until)
    if WorkingCalendar.objects.filter(region=region).exists():
        raise ValidationError({"region": [_("This region already has a calendar of its own.")]})
    with transaction.atomic():
        calendar = WorkingCalendar.objects.create(
            region=region,
            time_zone=time_zone,
            working_periods=periods_to_json(working_periods) if working_periods is not None else None,
            covered_until=covered_until,
        )
        audit.record(
            actor=by,
            action=AuditAction.CREATE,
            event="org.calendar.create",
            obj=calendar,
            unit=_acting_unit(by, calendar),
            changes=audit.diff({}, _snapshot(calendar)),
        )
        _announce(calendar, None)
    return calendar


def update_calendar(*, by: Any, calendar: WorkingCalendar, time_zone: str, working_periods: Periods | None, covered_until: date | None) -> WorkingCalendar:
    """Change a calendar's time zone, working hours or the date its holidays are entered until.

    The national calendar must keep a time zone and working hours; a region's may
    leave them empty to follow the calendar above. Nothing is written (or audited)
    when nothing changed.
    """
    _require(by)
    _check_settings(national=calendar.region_id is None, time_zone=time_zone, working_periods=working_periods, covered_until=covered_until)
    with transaction.atomic():
        calendar = WorkingCalendar.objects.select_for_update(of=("self",)).select_related("region").get(pk=calendar.pk)
        before = _snapshot(calendar)
        calendar.time_zone = time_zone
        calendar.working_periods = periods_to_json(working_periods) if working_periods is not None else None
        calendar.covered_until = covered_until
        changes = audit.diff(before, _snapshot(calendar))
        if not changes:
            return calendar
        calendar.save()
        audit.record(actor=by, action=AuditAction.UPDATE, event="org.calendar.update", obj=calendar, unit=_acting_unit(by, calendar), changes=changes)
        _announce(calendar, None)
    return calendar


def delete_region_calendar(*, by: Any, calendar: WorkingCalendar) -> None:
    """Remove a region's calendar with its exceptions: the region follows the calendar above again.

    The national calendar cannot be deleted.
    """
    _require(by)
    if calendar.region_id is None:
        raise ValidationError(_("The national calendar cannot be deleted."))
    with transaction.atomic():
        calendar = WorkingCalendar.objects.select_for_update(of=("self",)).select_related("region").get(pk=calendar.pk)
        days = list(calendar.exceptions.order_by("date"))
        before = {**_snapshot(calendar), "days": len(days)}
        audit.record(
            actor=by,
            action=AuditAction.DELETE,
            event="org.calendar.delete",
            obj=calendar,
            unit=_acting_unit(by, calendar),
            changes=audit.diff(before, {}),
        )
        _announce(calendar, None)
        calendar.delete()


# --- days --------------------------------------------------------------------------------------


def add_calendar_day(*, by: Any, calendar: WorkingCalendar, day: date, kind: str, name: str = "", name_en: str = "") -> CalendarException:
    """Enter a public holiday or a make-up working day (调休) on ``day`` in ``calendar``.

    A holiday needs a name (e.g. 国庆节). A day already entered in this calendar is
    refused: remove it first. In a region's calendar the entry takes precedence
    over the calendars above for that date.
    """
    _require(by)
    name, name_en = name.strip(), name_en.strip()
    errors: dict[str, list[str]] = {}
    if kind not in DayKind.values:
        errors["kind"] = [_("Choose a public holiday or a make-up working day.")]
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        errors["date"] = [_("Enter a date between the years %(first)d and %(last)d.") % {"first": MIN_YEAR, "last": MAX_YEAR}]
    if kind == DayKind.HOLIDAY and not name:
        errors["name"] = [_("A public holiday needs a name, e.g. 国庆节.")]
    if len(name) > 100:
        errors["name"] = [_("A name has at most 100 characters.")]
    if len(name_en) > 100:
        errors["name_en"] = [_("A name has at most 100 characters.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        calendar = WorkingCalendar.objects.select_for_update(of=("self",)).select_related("region").get(pk=calendar.pk)
        if calendar.exceptions.filter(date=day).exists():
            raise ValidationError({"date": [_("%(date)s is already entered in this calendar; remove it first.") % {"date": day.isoformat()}]})
        entry = CalendarException.objects.create(calendar=calendar, date=day, kind=kind, name=name, name_en=name_en)
        audit.record(
            actor=by,
            action=AuditAction.CREATE,
            event="org.calendar.add_day",
            obj=calendar,
            object_label=f"{calendar} {day.isoformat()}",
            unit=_acting_unit(by, calendar),
            changes=audit.diff({}, _day_snapshot(entry)),
        )
        _announce(calendar, frozenset({day}))
    return entry


def remove_calendar_day(*, by: Any, calendar: WorkingCalendar, day: date) -> bool:
    """Remove ``calendar``'s own entry for ``day``; False when there was none (a second click).

    In a region's calendar the calendars above then decide that date again.
    """
    _require(by)
    with transaction.atomic():
        calendar = WorkingCalendar.objects.select_for_update(of=("self",)).select_related("region").get(pk=calendar.pk)
        entry = calendar.exceptions.filter(date=day).first()
        if entry is None:
            return False
        audit.record(
            actor=by,
            action=AuditAction.DELETE,
            event="org.calendar.remove_day",
            obj=calendar,
            object_label=f"{calendar} {day.isoformat()}",
            unit=_acting_unit(by, calendar),
            changes=audit.diff(_day_snapshot(entry), {}),
        )
        entry.delete()
        _announce(calendar, frozenset({day}))
    return True


# --- the seed from the chinese_calendar package ---------------------------------------------------

#: Chinese names of the package's holidays (its own are short: 清明, 端午, 中秋).
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
}


@dataclass(frozen=True)
class SeedDay:
    """One day as the ``chinese_calendar`` package knows it."""

    date: date
    kind: str
    name: str
    name_en: str


def _chinese_name(english: str) -> str:
    from chinese_calendar.constants import Holiday

    if english in HOLIDAY_NAMES:
        return HOLIDAY_NAMES[english]
    try:
        return str(Holiday(english).chinese)
    except ValueError:
        return english


def package_days() -> tuple[list[SeedDay], date]:
    """The holidays and make-up working days of the ``chinese_calendar`` package, and the last day it knows.

    The package knows whole years (2004 up to the last year the State Council had
    published when it was released), so its coverage ends on 31 December of its
    last year. Holidays that fall on a weekend are included: they are part of the
    holiday (国庆节 is 1–7 October) even though they change no deadline.
    """
    import chinese_calendar

    days = [SeedDay(day, DayKind.HOLIDAY, _chinese_name(name), name) for day, name in chinese_calendar.holidays.items()]
    days += [SeedDay(day, DayKind.WORKDAY, f"{_chinese_name(name)}调休", f"{name} (make-up working day)") for day, name in chinese_calendar.workdays.items()]
    last_year = max(day.date.year for day in days)
    return sorted(days, key=lambda day: day.date), date(last_year, 12, 31)


@dataclass(frozen=True)
class SeedReport:
    """What a seed did: days added, days already entered (left as they are), the new coverage."""

    created: int
    already_entered: int
    covered_until: date
    first_year: int
    last_year: int


def seed_national_calendar(*, by: Any = None) -> SeedReport:
    """Fill the national calendar with every holiday and 调休 day the ``chinese_calendar`` package knows.

    Idempotent: a date already entered is left exactly as it is (an
    administrator's correction wins), so running it twice adds nothing the second
    time. ``covered until`` moves forward to the package's last day, never back.
    ``by`` is None when the installation itself seeds (command line, demo);
    a person must hold ``manage_calendars``. Audited as one entry when anything
    changed.
    """
    if by is not None:
        _require(by)
    days, package_until = package_days()
    with transaction.atomic():
        calendar = ensure_national_calendar()
        calendar = WorkingCalendar.objects.select_for_update().get(pk=calendar.pk)
        entered = set(calendar.exceptions.values_list("date", flat=True))
        new = [CalendarException(calendar=calendar, date=d.date, kind=d.kind, name=d.name, name_en=d.name_en) for d in days if d.date not in entered]
        CalendarException.objects.bulk_create(new, batch_size=500)
        before = calendar.covered_until
        covered_until = package_until if before is None or before < package_until else before
        if covered_until != before:
            calendar.covered_until = covered_until
            calendar.save(update_fields=["covered_until", "updated_at"])
        if new or covered_until != before:
            audit.record(
                actor=by,
                action=AuditAction.UPDATE,
                event="org.calendar.seed",
                obj=calendar,
                unit=_acting_unit(by, calendar),
                changes={
                    "days_added": len(new),
                    **audit.diff({"covered_until": before.isoformat() if before else None}, {"covered_until": covered_until.isoformat()}),
                },
                reason="chinese_calendar package",
            )
            _announce(calendar, None)
    years = [d.date.year for d in days]
    return SeedReport(len(new), len(days) - len(new), covered_until, min(years), max(years))
