"""Working-time arithmetic: properties over random calendars, and the real Chinese calendar of 2026.

The 2026 schedule used below is the State Council's (国办发明电〔2025〕7号) as the
``chinese_calendar`` package records it: 元旦 1–3 Jan (4 Jan, a Sunday, worked);
春节 15–23 Feb (14 Feb and 28 Feb, Saturdays, worked); 清明节 4–6 Apr; 劳动节
1–5 May (9 May, a Saturday, worked); 端午节 19–21 Jun; 中秋节 25–27 Sep; 国庆节
1–7 Oct (20 Sep, a Sunday, and 10 Oct, a Saturday, worked).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from rightscare.core import workcalendar as wc
from rightscare.core.workcalendar import BEYOND_COVERAGE, CalendarSpec, ClockUnit

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: The real calendar as the seed enters it: every holiday and 调休 day the package knows, covered to the end of 2026.
CHINA = CalendarSpec(
    holiday_dates=frozenset(chinese_calendar.holidays),
    extra_working_dates=frozenset(chinese_calendar.workdays),
    covered_until=date(2026, 12, 31),
)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# --- strategies ----------------------------------------------------------------------------

#: Zones without daylight saving, and two with it (periods stay between 06:00 and 22:00, clear of the changes).
ZONES = ("Asia/Shanghai", "UTC", "Asia/Kolkata", "Europe/London", "America/New_York")
STEADY_ZONES = ("Asia/Shanghai", "UTC", "Asia/Kolkata")

FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2027, 6, 30)


@st.composite
def working_periods(draw: st.DrawFn) -> tuple[tuple[time, time], ...]:
    count = draw(st.integers(1, 3))
    points = sorted(draw(st.lists(st.integers(6 * 4, 22 * 4), min_size=2 * count, max_size=2 * count, unique=True)))
    quarter = [time(p // 4, (p % 4) * 15) for p in points]
    return tuple((quarter[2 * i], quarter[2 * i + 1]) for i in range(count))


days_2026 = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)


@st.composite
def specs(draw: st.DrawFn, zones: tuple[str, ...] = ZONES) -> CalendarSpec:
    holidays = draw(st.frozensets(days_2026, max_size=40))
    weekends = [d for d in draw(st.frozensets(days_2026, max_size=40)) if d.weekday() >= 5 and d not in holidays]
    covered = draw(st.one_of(st.none(), days_2026))
    return CalendarSpec(
        time_zone=draw(st.sampled_from(zones)),
        working_periods=draw(working_periods()),
        holiday_dates=holidays,
        extra_working_dates=frozenset(weekends),
        covered_until=covered,
    )


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]), allow_imaginary=False
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=120))


@st.composite
def pause_lists(draw: st.DrawFn) -> list[tuple[datetime, datetime]]:
    pauses = []
    for begin in draw(st.lists(instants, max_size=4)):
        # Real elapsed time (aware arithmetic in one zone is wall-clock arithmetic, which can go backwards across a DST change).
        end = (begin.astimezone(UTC) + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=6)))).astimezone(begin.tzinfo)
        pauses.append((begin, end))
    return pauses


def merged(pauses: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """An independent merge of overlapping pauses, for the exact-exclusion property."""
    result: list[tuple[datetime, datetime]] = []
    for begin, end in sorted((b.astimezone(UTC), e.astimezone(UTC)) for b, e in pauses if e > b):
        if result and begin <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((begin, end))
    return result


def within_working_hours(spec: CalendarSpec, instant: datetime) -> bool:
    local = instant.astimezone(spec.zone)
    return spec.is_working_day(local.date()) and any(start <= local.time().replace(tzinfo=None) <= end for start, end in spec.working_periods)


def start_day(spec: CalendarSpec, instant: datetime) -> date:
    """The day an instant belongs to: a local midnight is 24:00 of the day before."""
    local = instant.astimezone(spec.zone)
    return local.date() - timedelta(days=1) if local.time() == time(0) else local.date()


# --- properties: working hours ---------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None)


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, duration=durations, pauses=pause_lists())
def test_adding_then_measuring_working_time_gives_the_duration_back(spec, start, duration, pauses):
    end = wc.add_working_time(spec, start, duration, pauses=pauses).instant
    assert wc.measure_working_time(spec, start, end, pauses=pauses).duration == duration
    assert wc.measure_working_time(spec, end, start, pauses=pauses).duration == -duration


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, duration=durations.filter(bool), pauses=pause_lists())
def test_a_working_time_deadline_falls_in_working_hours_of_a_working_day(spec, start, duration, pauses):
    end = wc.add_working_time(spec, start, duration, pauses=pauses).instant
    assert within_working_hours(spec, end)
    assert end > start.astimezone(UTC)


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, duration=durations, pauses=pause_lists())
def test_results_are_aware_and_in_the_calendars_time_zone(spec, start, duration, pauses):
    results = [
        wc.add_working_time(spec, start, duration, pauses=pauses).instant,
        wc.add_working_days(spec, start, duration.days % 10, pauses=pauses).instant,
        wc.add_calendar_time(spec, start, duration, pauses=pauses).instant,
        wc.add_calendar_days(spec, start, duration.days % 10, pauses=pauses, extend_past_days_off=True).instant,
    ]
    for result in results:
        assert result.tzinfo is not None
        assert result.tzinfo == ZoneInfo(spec.time_zone)


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, first=durations, second=durations, pauses=pause_lists())
def test_more_working_time_never_ends_earlier(spec, start, first, second, pauses):
    shorter, longer = sorted((first, second))
    assert wc.add_working_time(spec, start, shorter, pauses=pauses).instant <= wc.add_working_time(spec, start, longer, pauses=pauses).instant


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, first=durations, second=durations, pauses=pause_lists())
def test_adding_working_time_twice_equals_adding_the_sum(spec, start, first, second, pauses):
    middle = wc.add_working_time(spec, start, first, pauses=pauses).instant
    assert wc.add_working_time(spec, middle, second, pauses=pauses).instant == wc.add_working_time(spec, start, first + second, pauses=pauses).instant


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)), pauses=pause_lists())
def test_pauses_are_excluded_exactly(spec, start, length, pauses):
    end = start + length
    begin_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    paused = timedelta(0)
    for pause_begin, pause_end in merged(pauses):
        lo, hi = max(pause_begin, begin_utc), min(pause_end, end_utc)
        if lo < hi:
            paused += wc.measure_working_time(spec, lo, hi).duration
    assert wc.measure_working_time(spec, start, end, pauses=pauses).duration == wc.measure_working_time(spec, start, end).duration - paused
    # (Aware arithmetic is wall-clock arithmetic: across a daylight-saving change the real span differs from ``length``.)
    assert wc.measure_calendar_time(spec, start, end, pauses=pauses).duration == (end_utc - begin_utc) - sum(
        (min(e, end_utc) - max(b, begin_utc) for b, e in merged(pauses) if min(e, end_utc) > max(b, begin_utc)), timedelta(0)
    )


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, duration=durations)
def test_a_pause_outside_working_hours_changes_nothing(spec, start, duration):
    # A pause on a day off, whole day: no working time to take away.
    day_off = next(d for d in (FIRST_DAY + timedelta(days=n) for n in range(60)) if not spec.is_working_day(d))
    pause = (datetime.combine(day_off, time(0), tzinfo=spec.zone), datetime.combine(day_off + timedelta(days=1), time(0), tzinfo=spec.zone))
    assert wc.add_working_time(spec, start, duration, pauses=[pause]).instant == wc.add_working_time(spec, start, duration).instant


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, duration=durations.filter(bool))
def test_a_coverage_warning_comes_exactly_when_the_result_lies_beyond_the_covered_days(spec, start, duration):
    result = wc.add_working_time(spec, start, duration)
    beyond = spec.covered_until is None or result.instant.date() > spec.covered_until
    assert result.warnings == ((wc.CalendarWarning(BEYOND_COVERAGE, spec.covered_until),) if beyond else ())


# --- properties: working days --------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, days=st.integers(0, 25), pauses=pause_lists())
def test_adding_then_measuring_working_days_gives_the_days_back(spec, start, days, pauses):
    end = wc.add_working_days(spec, start, days, pauses=pauses).instant
    assert wc.measure_working_days(spec, start, end, pauses=pauses).days == days


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, days=st.integers(1, 25))
def test_n_working_days_end_at_closing_time_of_the_nth_working_day_after_the_start_day(spec, start, days):
    end = wc.add_working_days(spec, start, days).instant
    local = end.astimezone(spec.zone)
    assert local.time() == spec.working_periods[-1][1]
    counted = wc.working_days_in(spec, start_day(spec, start) + timedelta(days=1), local.date())
    assert len(counted) == days
    assert counted[-1] == local.date()


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, first=st.integers(0, 15), second=st.integers(0, 15))
def test_adding_working_days_twice_equals_adding_the_sum(spec, start, first, second):
    middle = wc.add_working_days(spec, start, first).instant
    assert wc.add_working_days(spec, middle, second).instant == wc.add_working_days(spec, start, first + second).instant


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, first=st.integers(0, 15), second=st.integers(0, 15), pauses=pause_lists())
def test_more_working_days_never_end_earlier(spec, start, first, second, pauses):
    fewer, more = sorted((first, second))
    assert wc.add_working_days(spec, start, fewer, pauses=pauses).instant <= wc.add_working_days(spec, start, more, pauses=pauses).instant


# --- properties: calendar time ------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, duration=durations, pauses=pause_lists())
def test_adding_then_measuring_calendar_time_gives_the_duration_back(spec, start, duration, pauses):
    end = wc.add_calendar_time(spec, start, duration, pauses=pauses).instant
    assert wc.measure_calendar_time(spec, start, end, pauses=pauses).duration == duration
    assert wc.add_calendar_time(spec, start, duration).instant == start.astimezone(UTC) + duration


@PROPERTY_SETTINGS
@given(spec=specs(), start=instants, first=durations, second=durations, pauses=pause_lists())
def test_adding_calendar_time_twice_equals_adding_the_sum(spec, start, first, second, pauses):
    middle = wc.add_calendar_time(spec, start, first, pauses=pauses).instant
    assert wc.add_calendar_time(spec, middle, second, pauses=pauses).instant == wc.add_calendar_time(spec, start, first + second, pauses=pauses).instant


@PROPERTY_SETTINGS
@given(spec=specs(zones=STEADY_ZONES), start=instants, days=st.integers(0, 60), pauses=pause_lists())
def test_calendar_days_round_trip_and_end_at_midnight_without_pauses(spec, start, days, pauses):
    end = wc.add_calendar_days(spec, start, days, pauses=pauses).instant
    assert wc.measure_calendar_days(spec, start, end, pauses=pauses).days == days
    plain = wc.add_calendar_days(spec, start, days).instant
    if days:
        assert plain == datetime.combine(start_day(spec, start) + timedelta(days=days + 1), time(0), tzinfo=spec.zone)
    else:
        assert plain == start


@PROPERTY_SETTINGS
@given(spec=specs(zones=STEADY_ZONES), start=instants, first=st.integers(0, 40), second=st.integers(0, 40))
def test_adding_calendar_days_twice_equals_adding_the_sum(spec, start, first, second):
    middle = wc.add_calendar_days(spec, start, first).instant
    assert wc.add_calendar_days(spec, middle, second).instant == wc.add_calendar_days(spec, start, first + second).instant


@PROPERTY_SETTINGS
@given(spec=specs(zones=STEADY_ZONES), start=instants, days=st.integers(1, 60))
def test_a_period_extended_past_days_off_ends_on_a_working_day(spec, start, days):
    plain = wc.add_calendar_days(spec, start, days).instant
    extended = wc.add_calendar_days(spec, start, days, extend_past_days_off=True).instant
    last_day = (extended - timedelta(microseconds=1)).astimezone(spec.zone).date()
    assert spec.is_working_day(last_day)
    assert extended >= plain
    skipped = wc.working_days_in(spec, (plain - timedelta(microseconds=1)).astimezone(spec.zone).date(), last_day - timedelta(days=1))
    assert skipped == []


# --- the real calendar of 2026 ----------------------------------------------------------------------


def test_the_package_knows_the_2026_schedule_as_published():
    holidays_2026 = sorted(d for d in chinese_calendar.holidays if d.year == 2026)
    workdays_2026 = sorted(d for d in chinese_calendar.workdays if d.year == 2026)
    assert [d for d in holidays_2026 if d.month == 10] == [date(2026, 10, day) for day in range(1, 8)]
    assert [d for d in holidays_2026 if d.month == 2] == [date(2026, 2, day) for day in range(15, 24)]
    assert workdays_2026 == [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]
    assert chinese_calendar.get_holiday_detail(date(2026, 10, 1)) == (True, "National Day")
    assert chinese_calendar.get_holiday_detail(date(2026, 9, 27)) == (True, "Mid-autumn Festival")


@pytest.mark.parametrize(
    ("days", "due"),
    [
        (0, at(2026, 9, 30, 10)),  # a clock of no length is due at once
        (1, at(2026, 10, 8, 18)),  # 1–7 October are the National Day holiday
        (2, at(2026, 10, 9, 18)),
        (3, at(2026, 10, 10, 18)),  # Saturday 10 October is a make-up working day
        (4, at(2026, 10, 12, 18)),  # Sunday 11 October is not
        (5, at(2026, 10, 13, 18)),
    ],
)
def test_working_days_across_the_national_day_holiday(days, due):
    result = wc.add_working_days(CHINA, at(2026, 9, 30, 10), days)
    assert result == wc.InstantResult(due, ())


def test_the_make_up_sunday_before_national_day_counts_as_a_working_day():
    # Friday 18 September, afternoon: Saturday 19 is off, Sunday 20 is worked.
    assert wc.add_working_days(CHINA, at(2026, 9, 18, 15), 1).instant == at(2026, 9, 20, 18)
    assert wc.add_working_hours(CHINA, at(2026, 9, 18, 17), 2).instant == at(2026, 9, 20, 10)


def test_the_mid_autumn_festival_and_national_day_are_skipped_by_working_hours():
    # Thursday 24 September 17:00 + 8 working hours: 1 h on Thursday; 25–27 Sep off (中秋节);
    # Monday 28 September 7 h → 18:00.
    assert wc.add_working_hours(CHINA, at(2026, 9, 24, 17), 8).instant == at(2026, 9, 28, 18)
    # Wednesday 30 September 17:00 + 2 working hours: 1 h on the 30th, then Thursday 8 October 10:00.
    assert wc.add_working_hours(CHINA, at(2026, 9, 30, 17), 2).instant == at(2026, 10, 8, 10)


def test_spring_festival_2026_and_its_make_up_saturdays():
    # Friday 13 February 16:00 + 4 working hours: 2 h on Friday, 2 h on Saturday 14 February (调休).
    assert wc.add_working_hours(CHINA, at(2026, 2, 13, 16), 4).instant == at(2026, 2, 14, 11)
    # From the make-up Saturday, one working day ends after the holiday (15–23 February): Tuesday the 24th.
    assert wc.add_working_days(CHINA, at(2026, 2, 14, 10), 1).instant == at(2026, 2, 24, 18)
    # Saturday 28 February is worked too: Friday 27 + 1 working day.
    assert wc.add_working_days(CHINA, at(2026, 2, 27, 9), 1).instant == at(2026, 2, 28, 18)
    # The whole holiday holds no working time.
    assert wc.measure_working_time(CHINA, at(2026, 2, 14, 18), at(2026, 2, 24, 9)).duration == timedelta(0)


def test_a_deadline_across_an_ordinary_weekend():
    # Friday 6 March 2026 17:00 + 2 working hours → Monday 9 March 10:00.
    assert wc.add_working_hours(CHINA, at(2026, 3, 6, 17), 2).instant == at(2026, 3, 9, 10)
    # Received on Friday at any time: one working day ends on Monday at 18:00.
    assert wc.add_working_days(CHINA, at(2026, 3, 6, 9, 5), 1).instant == at(2026, 3, 9, 18)
    assert wc.add_working_days(CHINA, at(2026, 3, 6, 17, 55), 1).instant == at(2026, 3, 9, 18)
    # A lunch break is not working time.
    assert wc.add_working_hours(CHINA, at(2026, 3, 9, 11), 2).instant == at(2026, 3, 9, 15)


def test_a_deadline_across_a_make_up_saturday():
    # Friday 8 May 16:00 + 5 working hours: 2 h Friday, 3 h on Saturday 9 May (调休) → 12:00.
    assert wc.add_working_hours(CHINA, at(2026, 5, 8, 16), 5).instant == at(2026, 5, 9, 12)
    assert wc.measure_working_time(CHINA, at(2026, 5, 8, 9), at(2026, 5, 11, 9)).duration == timedelta(hours=14)
    assert wc.measure_working_days(CHINA, at(2026, 5, 8, 9), at(2026, 5, 11, 18)).days == Fraction(2)


def test_calendar_days_as_the_law_counts_them():
    # 15 days from 28 September 10:00: the start day is not counted; the 15th day is 13 October, ending at 24:00.
    assert wc.add_calendar_days(CHINA, at(2026, 9, 28, 10), 15).instant == at(2026, 10, 14)
    # 15 days from 16 September end on 1 October, a holiday: extended to the end of Thursday 8 October.
    assert wc.add_calendar_days(CHINA, at(2026, 9, 16, 10), 15).instant == at(2026, 10, 2)
    assert wc.add_calendar_days(CHINA, at(2026, 9, 16, 10), 15, extend_past_days_off=True) == wc.InstantResult(at(2026, 10, 9), ())
    # 60 days of a letters-and-visits case; an extension of 30 more continues from where it ended.
    due = wc.add_calendar_days(CHINA, at(2026, 3, 2, 15), 60).instant
    assert due == at(2026, 5, 2)
    assert wc.add_calendar_days(CHINA, due, 30).instant == wc.add_calendar_days(CHINA, at(2026, 3, 2, 15), 90).instant == at(2026, 6, 1)


def test_calendar_hours_run_24_7_but_not_while_paused():
    assert wc.add_calendar_hours(CHINA, at(2026, 10, 1, 23, 45), 0.5).instant == at(2026, 10, 2, 0, 15)
    pause = (at(2026, 10, 2, 0), at(2026, 10, 2, 6))
    assert wc.add_calendar_hours(CHINA, at(2026, 10, 1, 23, 45), 0.5, pauses=[pause]).instant == at(2026, 10, 2, 6, 15)


def test_a_pause_while_waiting_for_the_petitioner_moves_the_deadline_by_the_working_time_paused():
    start = at(2026, 3, 2, 10)  # Monday
    assert wc.add_working_days(CHINA, start, 5).instant == at(2026, 3, 9, 18)
    # Waiting for the petitioner from Tuesday 14:00 to Thursday 10:00: 4 + 7 + 1 = 12 working hours.
    pause = (at(2026, 3, 3, 14), at(2026, 3, 5, 10))
    assert wc.measure_working_time(CHINA, *pause).duration == timedelta(hours=12)
    # Monday 9 March 18:00 + 12 working hours: Tuesday's 7, then 5 on Wednesday 11 March → 16:00.
    assert wc.add_working_days(CHINA, start, 5, pauses=[pause]).instant == at(2026, 3, 11, 16)
    assert wc.measure_working_days(CHINA, start, at(2026, 3, 11, 16), pauses=[pause]).days == 5


def test_beyond_the_covered_days_monday_to_friday_count_with_a_warning():
    warning = wc.CalendarWarning(BEYOND_COVERAGE, date(2026, 12, 31))
    # Wednesday 30 December + 3 working days: Thursday 31, Friday 1 January (not known to be a holiday), Monday 4.
    assert wc.add_working_days(CHINA, at(2026, 12, 30, 10), 3) == wc.InstantResult(at(2027, 1, 4, 18), (warning,))
    # Ending exactly at closing time on the last covered day needs nothing beyond it.
    assert wc.add_working_days(CHINA, at(2026, 12, 30, 10), 1) == wc.InstantResult(at(2026, 12, 31, 18), ())
    assert wc.measure_working_time(CHINA, at(2026, 12, 31, 9), at(2027, 1, 2)).warnings == (warning,)
    assert wc.measure_working_time(CHINA, at(2026, 12, 31, 9), at(2027, 1, 1)).warnings == ()
    # Calendar hours never need the calendar.
    assert wc.add_calendar_hours(CHINA, at(2026, 12, 31, 9), 100).warnings == ()


def test_a_calendar_with_no_holidays_entered_warns_on_every_working_time_result():
    bare = CalendarSpec()
    result = wc.add_working_hours(bare, at(2026, 10, 1, 9), 1)
    assert result == wc.InstantResult(at(2026, 10, 1, 10), (wc.CalendarWarning(BEYOND_COVERAGE, None),))
    with translation.override("en"):
        assert result.warnings[0].message == "No public holidays have been entered in the working calendar: Monday to Friday were counted as working days."


def test_results_are_in_the_calendars_time_zone_whatever_the_start_zone():
    start = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    result = wc.add_working_hours(CHINA, start, 1).instant
    assert result == at(2026, 3, 9, 10)
    assert result.tzinfo == SHANGHAI
    assert result.isoformat() == "2026-03-09T10:00:00+08:00"


def test_one_entry_point_for_every_kind_of_clock():
    start = at(2026, 9, 30, 10)
    assert wc.add(CHINA, start, 1, ClockUnit.WORKING_DAYS).instant == at(2026, 10, 8, 18)
    assert wc.add(CHINA, start, 4, ClockUnit.WORKING_HOURS).instant == at(2026, 9, 30, 16)
    assert wc.add(CHINA, start, 0.5, ClockUnit.CALENDAR_HOURS).instant == at(2026, 9, 30, 10, 30)
    assert wc.add(CHINA, start, 2.0, "calendar_days").instant == at(2026, 10, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="whole number"):
        wc.add(CHINA, start, 1.5, ClockUnit.WORKING_DAYS)


# --- bad input ------------------------------------------------------------------------------------


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 3, 9, 9)
    with pytest.raises(TypeError, match="start must be an aware datetime"):
        wc.add_working_hours(CHINA, naive, 1)
    with pytest.raises(TypeError, match="end must be an aware datetime"):
        wc.measure_working_time(CHINA, at(2026, 3, 9), naive)
    with pytest.raises(TypeError, match="pause 0 start must be an aware datetime"):
        wc.add_working_hours(CHINA, at(2026, 3, 9), 1, pauses=[(naive, at(2026, 3, 10))])
    with pytest.raises(TypeError, match="start must be a datetime, not date"):
        wc.add_working_days(CHINA, date(2026, 3, 9), 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: wc.add_working_hours(CHINA, at(2026, 3, 9), -1), ValueError, "must not be negative"),
        (lambda: wc.add_working_hours(CHINA, at(2026, 3, 9), float("nan")), ValueError, "finite"),
        (lambda: wc.add_working_days(CHINA, at(2026, 3, 9), -2), ValueError, "must not be negative"),
        (lambda: wc.add_working_days(CHINA, at(2026, 3, 9), 1.5), TypeError, "whole number"),  # type: ignore[arg-type]
        (lambda: wc.add_working_time(CHINA, at(2026, 3, 9), timedelta(hours=-1)), ValueError, "must not be negative"),
        (lambda: wc.add_working_hours(CHINA, at(2026, 3, 9), 1, pauses=[(at(2026, 3, 10), at(2026, 3, 9))]), ValueError, "ends before it starts"),
        (lambda: wc.measure_working_days(CHINA, at(2026, 3, 9), at(2026, 3, 8)), ValueError, "end must not be before start"),
        (lambda: wc.add_working_hours(CHINA, datetime(1800, 1, 1, tzinfo=UTC), 1), ValueError, "between the years 1900 and 2999"),
    ],
)
def test_bad_arguments_are_refused_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"working_periods": ()}, "at least one working period"),
        ({"working_periods": ((time(12), time(9)),)}, "must end after it starts"),
        ({"working_periods": ((time(9), time(12)), (time(11), time(18)))}, "must not overlap"),
        ({"working_periods": ((time(14), time(18)), (time(9), time(12)))}, "must be in order"),
        ({"holiday_dates": frozenset({date(2026, 10, 10)}), "extra_working_dates": frozenset({date(2026, 10, 10)})}, "both a holiday and a working day"),
    ],
)
def test_a_spec_that_makes_no_sense_is_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        CalendarSpec(**arguments)


def test_the_default_working_day_is_seven_hours():
    assert CalendarSpec().working_day_length == timedelta(hours=7)
    assert CalendarSpec().time_zone == "Asia/Shanghai"
