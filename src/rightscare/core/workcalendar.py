"""Working time: deadlines and elapsed time on a working calendar (PRODUCT.md C4).

Pure functions on a :class:`CalendarSpec` (time zone, working periods of the day,
public holidays, make-up working days 调休 and the date up to which holidays are
known). Nothing here reads the database or the clock: the per-region calendar
tables live in ``org`` and :func:`rightscare.org.calendars.effective_calendar`
turns them into a spec.

Four kinds of clock
-------------------
``working hours``
    Working time: the hours of the working periods (e.g. 09:00–12:00 and
    14:00–18:00) of working days. Adding ``d`` gives the *earliest* instant by
    which ``d`` of working time has elapsed, so 4 working hours from Monday
    14:00 end at Monday 18:00, not on Tuesday morning.

``working days``
    Chinese legal periods are counted from the day after the event (Civil Code
    art. 201: "开始的当日不计入，自下一日开始计算"), and a day's work ends when
    the office closes. So **N working days from an instant end when working
    hours end on the Nth working day after the instant's day** — the day of the
    instant is never counted, whatever the time. A case received on Monday at
    09:05 or at 17:55 is due after one working day at Tuesday 18:00.

    Expressed as working time, the clock starts at the midnight that ends the
    start's day and runs for ``N × (the length of a working day)``; that is how
    pauses are excluded (exactly, to the microsecond) and how
    :func:`measure_working_days` is defined, so adding and measuring agree. With
    pauses the end may therefore fall inside a working day rather than at its
    close. Zero days are due at once (the start itself).

``calendar hours``
    Elapsed real time, 24/7 (an emergency's 30 minutes or 72 hours).

``calendar days``
    As the law counts days: **N days from an instant end at 24:00 of the Nth day
    after the instant's day**, in the calendar's time zone (Civil Code art. 201
    and 203). With ``extend_past_days_off=True`` a last day that is not a
    working day moves to the next working day (art. 203: "期间的最后一日是法定
    休假日的，以法定休假日结束的次日为期间的最后一日"), as the Regulation on
    Letters and Visits' periods are counted. Pauses add the paused time. Zero
    days are due at once.

Days are half-open at the start: an instant exactly at local midnight belongs to
the day that just ended (it *is* 24:00 of that day). So a period that starts at
the end of another one — an extension — continues exactly where the first one
stopped, and adding ``a`` then ``b`` days equals adding ``a + b`` days (without
pauses).

Pauses
------
Every function takes ``pauses``: aware ``(start, end)`` intervals during which
the clock does not run (waiting for the petitioner, a court). They may overlap
and come in any order. An open pause has no end and therefore no deadline: the
caller decides what a paused clock shows.

Coverage
--------
Holidays are known only as far as an administrator (or the ``chinese_calendar``
seed) has entered them: ``covered_until``. Beyond that date the arithmetic does
not fail: it counts Monday–Friday as working days (honouring any exception
already entered for those dates) and says so with a
:data:`BEYOND_COVERAGE` warning in the result.

Time zones
----------
Results are aware datetimes in the calendar's time zone. Naive datetimes are
refused with ``TypeError``: a deadline computed from a naive time would silently
be off by the server's offset. Calendar days are ``24 h`` of elapsed time from
local midnight, which is local midnight again except across a daylight-saving
change (China has none).
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext_lazy as _

DEFAULT_TIME_ZONE = "Asia/Shanghai"

#: Office hours of Chinese government departments and federations: 09:00–12:00 and 14:00–18:00.
DEFAULT_WORKING_PERIODS: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(14), time(18)))

#: How far the arithmetic looks before it gives up (a calendar with no working day at all).
MAX_SPAN = timedelta(days=366 * 200)

#: Instants the arithmetic accepts: far enough for any case, far from datetime's limits.
MIN_YEAR, MAX_YEAR = 1900, 2999

ONE_DAY = timedelta(days=1)
ONE_MICROSECOND = timedelta(microseconds=1)

Interval = tuple[datetime, datetime]


class ClockUnit(enum.StrEnum):
    """The unit a clock runs in."""

    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"
    CALENDAR_HOURS = "calendar_hours"
    CALENDAR_DAYS = "calendar_days"


#: The computation counted days past ``covered_until`` as Monday–Friday working days.
BEYOND_COVERAGE = "beyond_coverage"


@dataclass(frozen=True)
class CalendarWarning:
    """Something the reader of a result must know: it may be wrong where the calendar is incomplete."""

    code: str
    covered_until: date | None

    @property
    def message(self) -> str:
        """The warning in the active language."""
        if self.covered_until is None:
            return str(_("No public holidays have been entered in the working calendar: Monday to Friday were counted as working days."))
        return str(
            _("The working calendar has public holidays only up to %(date)s: after that date Monday to Friday were counted as working days.")
            % {"date": self.covered_until.isoformat()}
        )


@dataclass(frozen=True)
class InstantResult:
    """A deadline (an aware instant in the calendar's time zone) and the warnings that go with it."""

    instant: datetime
    warnings: tuple[CalendarWarning, ...] = ()


@dataclass(frozen=True)
class DurationResult:
    """Elapsed working or calendar time and the warnings that go with it."""

    duration: timedelta
    warnings: tuple[CalendarWarning, ...] = ()


@dataclass(frozen=True)
class DaysResult:
    """Elapsed days of a period (exact: a fraction when a day is partly used) and the warnings."""

    days: Fraction
    warnings: tuple[CalendarWarning, ...] = ()


def _check_periods(periods: Sequence[tuple[time, time]]) -> None:
    if not periods:
        raise ValueError("a working calendar needs at least one working period")
    previous_end: time | None = None
    for start, end in periods:
        if not isinstance(start, time) or not isinstance(end, time):
            raise TypeError("working periods are pairs of datetime.time")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("working periods are local times without a time zone")
        if start >= end:
            raise ValueError(f"a working period must end after it starts: {start:%H:%M}–{end:%H:%M}")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"working periods must be in order and must not overlap: {start:%H:%M} is before {previous_end:%H:%M}")
        previous_end = end


@dataclass(frozen=True)
class CalendarSpec:
    """A working calendar as plain values: what the arithmetic needs, nothing else.

    ``holiday_dates`` are days off (public holidays, on any weekday);
    ``extra_working_dates`` are working days on a weekend (调休). Holidays are
    known up to and including ``covered_until`` (``None``: none are known).
    """

    time_zone: str = DEFAULT_TIME_ZONE
    working_periods: tuple[tuple[time, time], ...] = DEFAULT_WORKING_PERIODS
    holiday_dates: frozenset[date] = field(default_factory=frozenset)
    extra_working_dates: frozenset[date] = field(default_factory=frozenset)
    covered_until: date | None = None

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from error
        _check_periods(self.working_periods)
        both = self.holiday_dates & self.extra_working_dates
        if both:
            raise ValueError(f"a date cannot be both a holiday and a working day: {min(both).isoformat()}")

    @cached_property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.time_zone)

    @cached_property
    def working_day_length(self) -> timedelta:
        """The working time of one working day (7 hours for 09:00–12:00 and 14:00–18:00)."""
        anchor = date(2000, 1, 1)
        return sum((datetime.combine(anchor, end) - datetime.combine(anchor, start) for start, end in self.working_periods), timedelta())

    def is_covered(self, day: date) -> bool:
        """Whether the holidays of ``day`` are known."""
        return self.covered_until is not None and day <= self.covered_until

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day: a weekday that is not a holiday, or a make-up working day (调休).

        Beyond ``covered_until`` the same rule applies with whatever exceptions are
        known, i.e. Monday–Friday unless entered otherwise.
        """
        if day in self.extra_working_dates:
            return True
        if day in self.holiday_dates:
            return False
        return day.weekday() < 5

    def local(self, day: date, at: time) -> datetime:
        """The aware instant of a local wall-clock time on ``day``, in UTC."""
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)


# --- helpers ----------------------------------------------------------------------------


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError(f"{name} must be an aware datetime (with a time zone); got the naive {value.isoformat()}")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"{name} must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return value.astimezone(UTC)


def _merged_pauses(pauses: Iterable[tuple[datetime, datetime]]) -> list[Interval]:
    """Pauses in UTC, sorted and merged, so each instant is in at most one."""
    intervals = []
    for index, pause in enumerate(pauses):
        try:
            begin, end = pause
        except (TypeError, ValueError) as error:
            raise TypeError(f"pause {index} must be a (start, end) pair of aware datetimes") from error
        begin, end = _aware(begin, f"pause {index} start"), _aware(end, f"pause {index} end")
        if end < begin:
            raise ValueError(f"pause {index} ends before it starts")
        if end > begin:
            intervals.append((begin, end))
    intervals.sort()
    merged: list[Interval] = []
    for begin, end in intervals:
        if merged and begin <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((begin, end))
    return merged


def _unpaused(begin: datetime, end: datetime, pauses: list[Interval], ends: list[datetime]) -> Iterator[Interval]:
    """The parts of ``[begin, end)`` outside every pause (``ends`` are the pauses' ends, for bisect)."""
    index = bisect.bisect_right(ends, begin)
    cursor = begin
    while index < len(pauses) and pauses[index][0] < end:
        pause_begin, pause_end = pauses[index]
        if pause_begin > cursor:
            yield cursor, pause_begin
        cursor = max(cursor, pause_end)
        if cursor >= end:
            return
        index += 1
    if cursor < end:
        yield cursor, end


def _local_date(spec: CalendarSpec, instant: datetime) -> date:
    return instant.astimezone(spec.zone).date()


def _end_of_day(spec: CalendarSpec, instant: datetime) -> datetime:
    """The midnight that ends the instant's day (the instant itself when it is a midnight)."""
    local = instant.astimezone(spec.zone)
    if local.time() == time(0) and spec.local(local.date(), time(0)) == instant:
        return instant
    return spec.local(local.date() + ONE_DAY, time(0))


class _Tracker:
    """Remembers the last day whose working status a computation used, for the coverage warning."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self.last_day: date | None = None

    def used(self, day: date) -> None:
        if self.last_day is None or day > self.last_day:
            self.last_day = day

    def warnings(self) -> tuple[CalendarWarning, ...]:
        if self.last_day is not None and not self.spec.is_covered(self.last_day):
            return (CalendarWarning(BEYOND_COVERAGE, self.spec.covered_until),)
        return ()


def _working_intervals(spec: CalendarSpec, begin: datetime, tracker: _Tracker, until: datetime | None = None) -> Iterator[Interval]:
    """The working periods from ``begin`` (clipped to start there) up to ``until`` if given, in UTC.

    Notes in ``tracker`` every day whose working status it used: the days with a
    period that ends after ``begin`` and starts before ``until``.
    """
    day = _local_date(spec, begin)
    last = day + MAX_SPAN
    first_start = spec.working_periods[0][0]
    while day <= last:
        if until is not None and spec.local(day, first_start) >= until:
            return
        working = spec.is_working_day(day)
        for start, end in spec.working_periods:
            period_begin, period_end = spec.local(day, start), spec.local(day, end)
            if period_end <= begin:
                continue
            if until is not None and period_begin >= until:
                break
            tracker.used(day)
            if working:
                yield max(period_begin, begin), period_end
        day += ONE_DAY
    raise ValueError("no working time found within 200 years: check the calendar")


def _everything(begin: datetime) -> Iterator[Interval]:
    yield begin, datetime.max.replace(tzinfo=UTC)


def _advance(intervals: Iterator[Interval], begin: datetime, duration: timedelta, pauses: list[Interval]) -> datetime:
    """The earliest instant by which ``duration`` of the intervals (outside pauses) has run."""
    if duration < timedelta(0):
        raise ValueError("a duration to add must not be negative")
    if duration == timedelta(0):
        return begin
    remaining = duration
    ends = [end for _begin, end in pauses]
    for interval_begin, interval_end in intervals:
        for piece_begin, piece_end in _unpaused(interval_begin, interval_end, pauses, ends):
            available = piece_end - piece_begin
            if available >= remaining:
                return piece_begin + remaining
            remaining -= available
    raise ValueError("the clock never reaches the end")  # pragma: no cover - the generators end only by raising


def _elapsed(intervals: Iterator[Interval], end: datetime, pauses: list[Interval]) -> timedelta:
    """How much of the intervals (outside pauses) lies before ``end``."""
    total = timedelta(0)
    ends = [pause_end for _begin, pause_end in pauses]
    for interval_begin, interval_end in intervals:
        if interval_begin >= end:
            break
        for piece_begin, piece_end in _unpaused(interval_begin, min(interval_end, end), pauses, ends):
            total += piece_end - piece_begin
    return total


def _working_elapsed(spec: CalendarSpec, begin: datetime, end: datetime, pauses: list[Interval], tracker: _Tracker) -> timedelta:
    if end <= begin:
        return timedelta(0)
    return _elapsed(_working_intervals(spec, begin, tracker, until=end), end, pauses)


def _calendar_elapsed(begin: datetime, end: datetime, pauses: list[Interval]) -> timedelta:
    if end <= begin:
        return timedelta(0)
    return _elapsed(_everything(begin), end, pauses)


def _hours(hours: float) -> timedelta:
    if isinstance(hours, bool) or not isinstance(hours, (int, float)):
        raise TypeError("hours must be a number")
    if hours != hours or hours in (float("inf"), float("-inf")):
        raise ValueError("hours must be a finite number")
    if hours < 0:
        raise ValueError("hours to add must not be negative")
    return timedelta(hours=hours)


def _days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("days must be a whole number")
    if days < 0:
        raise ValueError("days to add must not be negative")
    return days


def _result(spec: CalendarSpec, instant: datetime, tracker: _Tracker | None = None) -> InstantResult:
    return InstantResult(instant.astimezone(spec.zone), tracker.warnings() if tracker else ())


# --- adding -----------------------------------------------------------------------------


def add_working_time(spec: CalendarSpec, start: datetime, duration: timedelta, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> InstantResult:
    """When ``duration`` of working time after ``start`` has elapsed (pauses excluded).

    The earliest such instant: a clock that runs out exactly at closing time is
    due at closing time, not at the next opening.
    """
    begin = _aware(start, "start")
    if not isinstance(duration, timedelta):
        raise TypeError("duration must be a timedelta")
    tracker = _Tracker(spec)
    if duration <= timedelta(0):
        return _result(spec, _advance(iter(()), begin, duration, []))
    return _result(spec, _advance(_working_intervals(spec, begin, tracker), begin, duration, _merged_pauses(pauses)), tracker)


def add_working_hours(spec: CalendarSpec, start: datetime, hours: float, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> InstantResult:
    """When ``hours`` working hours after ``start`` have elapsed (pauses excluded)."""
    return add_working_time(spec, start, _hours(hours), pauses=pauses)


def add_working_days(spec: CalendarSpec, start: datetime, days: int, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> InstantResult:
    """When ``days`` working days after ``start`` end: closing time of the Nth working day after the start's day.

    The start's day is not counted (see the module's docstring); pauses after
    the start's day push the end later by the working time they cover.
    """
    begin = _aware(start, "start")
    count = _days(days)
    if count == 0:
        return _result(spec, begin)
    anchor = _end_of_day(spec, begin)
    return add_working_time(spec, anchor, spec.working_day_length * count, pauses=pauses)


def add_calendar_time(spec: CalendarSpec, start: datetime, duration: timedelta, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> InstantResult:
    """When ``duration`` of real time after ``start`` has elapsed, 24/7 (pauses excluded)."""
    begin = _aware(start, "start")
    if not isinstance(duration, timedelta):
        raise TypeError("duration must be a timedelta")
    return _result(spec, _advance(_everything(begin), begin, duration, _merged_pauses(pauses)))


def add_calendar_hours(spec: CalendarSpec, start: datetime, hours: float, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> InstantResult:
    """When ``hours`` hours of real time after ``start`` have elapsed, 24/7 (pauses excluded)."""
    return add_calendar_time(spec, start, _hours(hours), pauses=pauses)


def add_calendar_days(
    spec: CalendarSpec, start: datetime, days: int, *, pauses: Iterable[tuple[datetime, datetime]] = (), extend_past_days_off: bool = False
) -> InstantResult:
    """When ``days`` days after ``start`` end: 24:00 of the Nth day after the start's day.

    With ``extend_past_days_off`` a last day that is not a working day (a weekend
    or a public holiday) moves forward to the next working day, as Chinese law
    counts periods; the result then carries a coverage warning when that needed
    days past ``covered_until``.
    """
    begin = _aware(start, "start")
    count = _days(days)
    if count == 0:
        return _result(spec, begin)
    anchor = _end_of_day(spec, begin)
    end = _advance(_everything(anchor), anchor, ONE_DAY * count, _merged_pauses(pauses))
    if not extend_past_days_off:
        return _result(spec, end)
    tracker = _Tracker(spec)
    local = end.astimezone(spec.zone)
    last_day = _local_date(spec, end - ONE_MICROSECOND)
    shift = 0
    tracker.used(last_day)
    while not spec.is_working_day(last_day + timedelta(days=shift)):
        shift += 1
        tracker.used(last_day + timedelta(days=shift))
        if shift > MAX_SPAN.days:
            raise ValueError("no working day found within 200 years: check the calendar")
    if shift:
        moved = datetime.combine(local.date() + timedelta(days=shift), local.time(), tzinfo=spec.zone)
        end = moved.astimezone(UTC)
    return _result(spec, end, tracker)


def add(
    spec: CalendarSpec, start: datetime, amount: float, unit: ClockUnit, *, pauses: Iterable[tuple[datetime, datetime]] = (), extend_past_days_off: bool = False
) -> InstantResult:
    """The end of a clock of ``amount`` ``unit`` started at ``start``: one entry point for every kind of clock.

    Days must be whole numbers; hours may have fractions (0.5 is 30 minutes).
    ``extend_past_days_off`` applies to calendar days only.
    """
    unit = ClockUnit(unit)
    if unit is ClockUnit.WORKING_HOURS:
        return add_working_hours(spec, start, amount, pauses=pauses)
    if unit is ClockUnit.CALENDAR_HOURS:
        return add_calendar_hours(spec, start, amount, pauses=pauses)
    whole = int(amount) if isinstance(amount, float) and amount.is_integer() else amount
    if unit is ClockUnit.WORKING_DAYS:
        return add_working_days(spec, start, whole, pauses=pauses)  # type: ignore[arg-type]
    return add_calendar_days(spec, start, whole, pauses=pauses, extend_past_days_off=extend_past_days_off)  # type: ignore[arg-type]


# --- measuring --------------------------------------------------------------------------


def measure_working_time(spec: CalendarSpec, start: datetime, end: datetime, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> DurationResult:
    """The working time between two instants, pauses excluded; negative when ``end`` is before ``start``.

    ``measure_working_time(s, add_working_time(s, d).instant) == d`` for every ``d``
    (with the same pauses), and a negative answer reads as "overdue by".
    """
    begin, finish = _aware(start, "start"), _aware(end, "end")
    merged = _merged_pauses(pauses)
    tracker = _Tracker(spec)
    if finish >= begin:
        duration = _working_elapsed(spec, begin, finish, merged, tracker)
    else:
        duration = -_working_elapsed(spec, finish, begin, merged, tracker)
    return DurationResult(duration, tracker.warnings())


def measure_working_days(spec: CalendarSpec, start: datetime, end: datetime, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> DaysResult:
    """How many working days of a period started at ``start`` have elapsed by ``end`` (pauses excluded).

    Counted as :func:`add_working_days` counts them: from the end of the start's
    day, in working-day lengths of working time, so ``measure_working_days(s,
    add_working_days(s, n).instant) == n``. Zero until the start's day has ended;
    ``end`` must not be before ``start``.
    """
    begin, finish = _aware(start, "start"), _aware(end, "end")
    if finish < begin:
        raise ValueError("end must not be before start")
    tracker = _Tracker(spec)
    elapsed = _working_elapsed(spec, _end_of_day(spec, begin), finish, _merged_pauses(pauses), tracker)
    return DaysResult(Fraction(_microseconds(elapsed), _microseconds(spec.working_day_length)), tracker.warnings())


def measure_calendar_time(spec: CalendarSpec, start: datetime, end: datetime, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> DurationResult:
    """The real time between two instants, pauses excluded; negative when ``end`` is before ``start``."""
    begin, finish = _aware(start, "start"), _aware(end, "end")
    merged = _merged_pauses(pauses)
    if finish >= begin:
        return DurationResult(_calendar_elapsed(begin, finish, merged))
    return DurationResult(-_calendar_elapsed(finish, begin, merged))


def measure_calendar_days(spec: CalendarSpec, start: datetime, end: datetime, *, pauses: Iterable[tuple[datetime, datetime]] = ()) -> DaysResult:
    """How many days of a period started at ``start`` have elapsed by ``end``, counted from the end of the start's day."""
    begin, finish = _aware(start, "start"), _aware(end, "end")
    if finish < begin:
        raise ValueError("end must not be before start")
    elapsed = _calendar_elapsed(_end_of_day(spec, begin), finish, _merged_pauses(pauses))
    return DaysResult(Fraction(_microseconds(elapsed), _microseconds(ONE_DAY)))


def _microseconds(duration: timedelta) -> int:
    return (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds


def working_days_in(spec: CalendarSpec, first: date, last: date) -> list[date]:
    """The working days from ``first`` to ``last`` inclusive (for pages that show a month or a year)."""
    days = []
    day = first
    while day <= last:
        if spec.is_working_day(day):
            days.append(day)
        day += ONE_DAY
    return days
