"""Reading working calendars: the effective calendar of a region, and how far ahead calendars are known.

Deadlines (a later issue) call :func:`effective_calendar` for the region of the
unit that owns a clock and hand the spec to :mod:`rightscare.core.workcalendar`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta

from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from rightscare.core.checks import Finding
from rightscare.core.workcalendar import DEFAULT_TIME_ZONE, DEFAULT_WORKING_PERIODS, CalendarSpec
from rightscare.org.calendar_models import CalendarException, DayKind, WorkingCalendar
from rightscare.org.models import Region

#: ``rightscare check`` and the calendar pages warn when holidays are known for fewer days ahead than this.
COVERAGE_WARNING_DAYS = 90

Periods = tuple[tuple[time, time], ...]


# --- working hours as text and as JSON ------------------------------------------------------

_TIME = r"(\d{1,2})[:：](\d{2})"
_PERIOD = re.compile(rf"^\s*{_TIME}\s*(?:-|–|—|~|～|至|到)\s*{_TIME}\s*$")
_SEPARATORS = re.compile(r"[,，;；、\n]+")


def _time(hours: str, minutes: str) -> time:
    value_h, value_m = int(hours), int(minutes)
    if value_h > 23 or value_m > 59:
        raise ValueError(f"{hours}:{minutes}")
    return time(value_h, value_m)


def periods_errors(periods: Sequence[tuple[time, time]]) -> list[str]:
    """What is wrong with working periods, in the active language (empty when they are fine)."""
    if not periods:
        return [_("Enter at least one working period.")]
    errors = []
    previous: time | None = None
    for start, end in periods:
        if start >= end:
            errors.append(_("A working period must end after it starts: %(period)s.") % {"period": f"{start:%H:%M}-{end:%H:%M}"})
        if previous is not None and start < previous:
            errors.append(
                _("Working periods must be in order and must not overlap: %(start)s is before %(end)s.")
                % {"start": f"{start:%H:%M}", "end": f"{previous:%H:%M}"}
            )
        previous = end
    return errors


def parse_working_periods(text: str) -> Periods:
    """Working hours written as ``09:00-12:00, 14:00-18:00``; raises ValueError with a message for the user."""
    parts = [part for part in _SEPARATORS.split(text) if part.strip()]
    periods = []
    for part in parts:
        match = _PERIOD.match(part)
        if match is None:
            raise ValueError(_("Write the working hours as periods like 09:00-12:00, 14:00-18:00 (not %(text)s).") % {"text": part.strip()[:40]})
        try:
            periods.append((_time(match.group(1), match.group(2)), _time(match.group(3), match.group(4))))
        except ValueError as error:
            raise ValueError(_("%(time)s is not a time of day.") % {"time": str(error)}) from error
    errors = periods_errors(periods)
    if errors:
        raise ValueError(" ".join(errors))
    return tuple(periods)


def format_working_periods(periods: Iterable[tuple[time, time]]) -> str:
    """``09:00-12:00, 14:00-18:00``."""
    return ", ".join(f"{start:%H:%M}-{end:%H:%M}" for start, end in periods)


def periods_to_json(periods: Iterable[tuple[time, time]]) -> list[list[str]]:
    """How working periods are stored: ``[["09:00", "12:00"], …]``."""
    return [[f"{start:%H:%M}", f"{end:%H:%M}"] for start, end in periods]


def periods_from_json(value: object) -> Periods | None:
    """The stored working periods (None: as the calendar above)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("working periods are stored as a list of [start, end] pairs")
    return tuple((time.fromisoformat(str(start)), time.fromisoformat(str(end))) for start, end in value)


# --- the effective calendar -----------------------------------------------------------------


@dataclass(frozen=True)
class CalendarDay:
    """One dated exception as a region sees it, with the calendar it comes from."""

    date: date
    kind: str
    name: str
    name_en: str
    calendar_id: int


def _chain(region: Region | None) -> list[WorkingCalendar]:
    """The calendars that apply to ``region``, from the national one down to the region's own (one query)."""
    ancestor_ids = region.ancestor_ids() if region is not None else []
    if region is not None and not ancestor_ids and region.pk:
        ancestor_ids = [region.pk]
    rank = {region_id: position for position, region_id in enumerate(ancestor_ids, start=1)}
    calendars = WorkingCalendar.objects.filter(Q(region__isnull=True) | Q(region_id__in=ancestor_ids)).select_related("region")
    return sorted(calendars, key=lambda calendar: rank.get(calendar.region_id, 0) if calendar.region_id else 0)


def chain_of(calendar: WorkingCalendar) -> list[WorkingCalendar]:
    """The calendars a calendar inherits from, national first, ending with the calendar itself."""
    if calendar.region_id is None:
        return [calendar]
    chain = [c for c in _chain(calendar.region) if c.pk != calendar.pk]
    return [*chain, calendar]


def _merged_days(chain: Sequence[WorkingCalendar], *, first: date | None = None, last: date | None = None) -> dict[date, CalendarDay]:
    """The exceptions of the chain, the deeper calendar's winning for a date (one query)."""
    rank = {calendar.pk: position for position, calendar in enumerate(chain)}
    rows = CalendarException.objects.filter(calendar_id__in=list(rank))
    if first is not None:
        rows = rows.filter(date__gte=first)
    if last is not None:
        rows = rows.filter(date__lte=last)
    days: dict[date, CalendarDay] = {}
    ranks: dict[date, int] = {}
    for calendar_id, day, kind, name, name_en in rows.values_list("calendar_id", "date", "kind", "name", "name_en"):
        if day not in ranks or rank[calendar_id] > ranks[day]:
            ranks[day] = rank[calendar_id]
            days[day] = CalendarDay(day, kind, name, name_en, calendar_id)
    return days


def _covered_until(chain: Sequence[WorkingCalendar]) -> date | None:
    """Holidays are known up to the earliest date any calendar of the chain vouches for.

    The national calendar's date is required (none: nothing is known); a region's
    calendar that leaves the date empty only adds the odd local day and vouches
    for nothing, so it does not shorten the coverage.
    """
    national = next((calendar for calendar in chain if calendar.region_id is None), None)
    if national is None or national.covered_until is None:
        return None
    return min([national.covered_until, *(c.covered_until for c in chain if c.region_id is not None and c.covered_until is not None)])


def _settings(chain: Sequence[WorkingCalendar]) -> tuple[str, Periods]:
    time_zone, periods = DEFAULT_TIME_ZONE, DEFAULT_WORKING_PERIODS
    for calendar in chain:
        if calendar.time_zone:
            time_zone = calendar.time_zone
        own = periods_from_json(calendar.working_periods)
        if own:
            periods = own
    return time_zone, periods


def spec_of_chain(chain: Sequence[WorkingCalendar]) -> CalendarSpec:
    """The arithmetic's view of a chain of calendars (one query for the exceptions)."""
    time_zone, periods = _settings(chain)
    days = _merged_days(chain)
    return CalendarSpec(
        time_zone=time_zone,
        working_periods=periods,
        holiday_dates=frozenset(day for day, entry in days.items() if entry.kind == DayKind.HOLIDAY),
        extra_working_dates=frozenset(day for day, entry in days.items() if entry.kind == DayKind.WORKDAY),
        covered_until=_covered_until(chain),
    )


def calendar_chain(region: Region | None) -> list[WorkingCalendar]:
    """The calendars that apply to ``region``, national first, the one that governs it last (one query)."""
    return _chain(region)


def effective_calendar(region: Region | None) -> CalendarSpec:
    """The working calendar that applies in ``region`` (the national one for None), ready for the arithmetic.

    Walks the region's ancestors through its materialised path: two queries
    whatever the depth (the calendars, then their exceptions). Without any
    calendar row it is the default: Asia/Shanghai, 09:00–12:00 and 14:00–18:00,
    Monday–Friday, nothing covered (so every result carries a coverage warning).
    """
    return spec_of_chain(_chain(region))


def calendar_of_region(region: Region) -> WorkingCalendar | None:
    """The calendar that governs ``region``: its own, or its nearest ancestor's, or the national one."""
    chain = _chain(region)
    return chain[-1] if chain else None


def days_of_year(calendar: WorkingCalendar, year: int) -> dict[date, CalendarDay]:
    """The exceptions in force for ``calendar``'s region during ``year``: its own and those inherited."""
    return _merged_days(chain_of(calendar), first=date(year, 1, 1), last=date(year, 12, 31))


# --- coverage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """How far ahead a calendar (with what it inherits) knows its holidays, and its effective settings."""

    calendar: WorkingCalendar
    chain: tuple[WorkingCalendar, ...]
    today: date

    @property
    def covered_until(self) -> date | None:
        """The last date whose holidays are known for the calendar's regions."""
        return _covered_until(self.chain)

    @property
    def time_zone(self) -> str:
        """The time zone in force (its own or inherited)."""
        return _settings(self.chain)[0]

    @property
    def working_periods(self) -> Periods:
        """The working periods in force (its own or inherited)."""
        return _settings(self.chain)[1]

    @property
    def working_hours(self) -> str:
        """The working hours in force (its own or inherited), as text."""
        return format_working_periods(self.working_periods)

    @property
    def parent(self) -> WorkingCalendar | None:
        """The calendar this one inherits from (None for the national one)."""
        return self.chain[-2] if len(self.chain) > 1 else None

    @property
    def days_ahead(self) -> int | None:
        """Days from today to the last covered date (negative once it has passed)."""
        return None if self.covered_until is None else (self.covered_until - self.today).days

    @property
    def is_short(self) -> bool:
        """Fewer than :data:`COVERAGE_WARNING_DAYS` days ahead are covered."""
        return self.covered_until is None or self.covered_until < self.today + timedelta(days=COVERAGE_WARNING_DAYS)

    @property
    def message(self) -> str:
        """The warning for the calendar pages, in the active language."""
        name = self.calendar.display_name
        if self.covered_until is None:
            return _("%(calendar)s: no public holidays have been entered; deadlines count Monday to Friday only.") % {"calendar": name}
        if self.covered_until < self.today:
            return _("%(calendar)s: public holidays are entered only up to %(date)s, which has passed; deadlines count Monday to Friday only.") % {
                "calendar": name,
                "date": self.covered_until.isoformat(),
            }
        days = self.days_ahead or 0
        return ngettext(
            "%(calendar)s: public holidays are entered only up to %(date)s (%(days)d day ahead). Enter next year's holidays and make-up working days.",
            "%(calendar)s: public holidays are entered only up to %(date)s (%(days)d days ahead). Enter next year's holidays and make-up working days.",
            days,
        ) % {"calendar": name, "date": self.covered_until.isoformat(), "days": days}


def coverages(*, today: date | None = None) -> list[Coverage]:
    """The coverage of every calendar, national first, then by region (one query).

    Every region's effective calendar is one of these (a region without its own
    calendar uses its nearest ancestor's), so checking them checks every region.
    """
    today = today or timezone.localdate()
    calendars = list(WorkingCalendar.objects.select_related("region").order_by("region__path"))
    by_region = {calendar.region_id: calendar for calendar in calendars}
    national = by_region.get(None)
    result = []
    for calendar in sorted(calendars, key=lambda c: (c.region_id is not None, c.region.path if c.region else "")):
        if calendar.region is None:
            chain = [calendar]
        else:
            ancestors = [by_region[region_id] for region_id in calendar.region.ancestor_ids() if region_id in by_region]
            chain = [national, *ancestors] if national is not None else ancestors
        result.append(Coverage(calendar, tuple(chain), today))
    return result


def coverage_of(calendar: WorkingCalendar, *, today: date | None = None) -> Coverage:
    """The coverage and effective settings of one calendar (one query for the calendars above)."""
    return Coverage(calendar, tuple(chain_of(calendar)), today or timezone.localdate())


def coverage_findings(*, today: date | None = None) -> list[Finding]:
    """``rightscare check``'s view of the calendars: a warning for each that covers less than 90 days ahead."""
    today = today or timezone.localdate()
    findings = []
    all_coverage = coverages(today=today)
    if not any(c.calendar.region_id is None for c in all_coverage):
        findings.append(Finding("warning", "there is no national working calendar: deadlines count Monday to Friday only; run `rightscare seed-calendar`"))
    for coverage in all_coverage:
        name = "national working calendar" if coverage.calendar.region is None else f"working calendar of {coverage.calendar.region.name}"
        if coverage.covered_until is None:
            findings.append(Finding("warning", f"{name}: no public holidays entered; run `rightscare seed-calendar` or enter them on the calendar pages"))
        elif coverage.is_short:
            findings.append(
                Finding(
                    "warning",
                    f"{name}: public holidays entered only up to {coverage.covered_until.isoformat()} ({coverage.days_ahead} days ahead, "
                    f"fewer than {COVERAGE_WARNING_DAYS}); enter next year's holidays on the calendar pages",
                )
            )
    if not findings:
        covered = min((c.covered_until for c in all_coverage if c.covered_until), default=None)
        findings.append(Finding("ok", f"working calendars cover public holidays up to {covered.isoformat() if covered else '—'}"))
    return findings


def check_calendars(*, today: date | None = None) -> list[Finding]:
    """The calendar part of ``rightscare check``: warnings only, never an error (deadlines fall back to Monday–Friday)."""
    try:
        return coverage_findings(today=today)
    except DatabaseError as error:
        return [Finding("warning", f"working calendars unreadable: {error.__class__.__name__} (run `rightscare migrate`?)")]
