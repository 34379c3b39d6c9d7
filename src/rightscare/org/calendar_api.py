"""API operations of the working calendars: read the calendars, and compute deadlines and working time in a region.

Reading needs ``view_organisation``; a region's calendar is visible with its
region (out of scope: 404, like a missing one). Calendars are changed on the
pages (system administrators); the API is read-only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from rightscare.core import workcalendar
from rightscare.core.pagination import Pagination
from rightscare.core.workcalendar import MAX_YEAR, MIN_YEAR, CalendarWarning, ClockUnit
from rightscare.org import access
from rightscare.org.calendar_models import DayKind, WorkingCalendar
from rightscare.org.calendars import Coverage, calendar_chain, coverage_of, coverages, days_of_year, periods_from_json, spec_of_chain
from rightscare.org.http import StaffRequest
from rightscare.org.roles import Capability

router = Router(tags=["working calendars"])

RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]

#: The longest span the working-time operation measures (a longer one is surely a mistake, and slow).
MAX_MEASURED_SPAN = timedelta(days=3660)


class WorkingPeriodOut(Schema):
    start: str = Field(..., examples=["09:00"])
    end: str = Field(..., examples=["12:00"])


class EffectiveOut(Schema):
    """What applies in the calendar's regions: its own settings or those inherited."""

    inherits_from: int | None = Field(..., description="The calendar above (null for the national one).")
    time_zone: str
    working_periods: list[WorkingPeriodOut]
    covered_until: date | None = Field(..., description="Public holidays are known up to this date; beyond it Monday to Friday are counted.")
    coverage_short: bool = Field(..., description="Fewer than 90 days ahead are covered.")


class CalendarOut(Schema):
    id: int
    name: str
    region_id: int | None = Field(..., description="Null for the national calendar.")
    is_national: bool
    time_zone: str = Field(..., description="Its own time zone; empty: as the calendar above.")
    working_periods: list[WorkingPeriodOut] | None = Field(..., description="Its own working hours; null: as the calendar above.")
    covered_until: date | None = Field(..., description="The date up to which its own holidays are entered.")
    effective: EffectiveOut


class CalendarDayOut(Schema):
    date: date
    kind: DayKind
    name: str
    name_en: str
    calendar_id: int = Field(..., description="The calendar the day is entered in (this one or one above).")


class CalendarDetailOut(CalendarOut):
    year: int
    days: list[CalendarDayOut] = Field(..., description="Holidays and make-up working days in force during the year, own and inherited.")


class WarningOut(Schema):
    code: str
    message: str


class DeadlineOut(Schema):
    region_id: int
    calendar_id: int | None
    start: datetime
    amount: float
    unit: ClockUnit
    due: datetime = Field(..., description="In the calendar's time zone.")
    time_zone: str
    warnings: list[WarningOut]


class WorkingTimeOut(Schema):
    region_id: int
    calendar_id: int | None
    start: datetime
    end: datetime
    working_seconds: int = Field(..., description="Working time between start and end.")
    working_hours: float
    working_days: float = Field(..., description="Working days of a period started at start that have elapsed by end (counted from the next day).")
    time_zone: str
    warnings: list[WarningOut]


class DeadlineQuery(Schema):
    start: datetime = Field(..., description="An instant with its time-zone offset, e.g. 2026-09-30T10:00:00+08:00.")
    amount: float = Field(..., ge=0, le=1000, allow_inf_nan=False, description="Hours may have fractions; days must be whole.")
    unit: ClockUnit
    extend_past_days_off: bool = Field(False, description="Calendar days only: a last day that is not a working day moves to the next working day.")


class WorkingTimeQuery(Schema):
    start: datetime = Field(..., description="An instant with its time-zone offset.")
    end: datetime = Field(..., description="An instant with its time-zone offset, not before start.")


def _require(request: HttpRequest) -> None:
    if not access.has_capability(request.user, Capability.VIEW_ORGANISATION):
        raise PermissionDenied


def _periods(value: Any) -> list[dict[str, str]] | None:
    periods = periods_from_json(value)
    if periods is None:
        return None
    return [{"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"} for start, end in periods]


def _calendar_out(coverage: Coverage) -> dict[str, Any]:
    calendar = coverage.calendar
    return {
        "id": calendar.pk,
        "name": calendar.display_name,
        "region_id": calendar.region_id,
        "is_national": calendar.is_national,
        "time_zone": calendar.time_zone,
        "working_periods": _periods(calendar.working_periods),
        "covered_until": calendar.covered_until,
        "effective": {
            "inherits_from": coverage.parent.pk if coverage.parent else None,
            "time_zone": coverage.time_zone,
            "working_periods": [{"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"} for start, end in coverage.working_periods],
            "covered_until": coverage.covered_until,
            "coverage_short": coverage.is_short,
        },
    }


def _warnings(warnings: tuple[CalendarWarning, ...]) -> list[dict[str, str]]:
    return [{"code": warning.code, "message": warning.message} for warning in warnings]


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError({name: ["Give the time-zone offset, e.g. 2026-09-30T10:00:00+08:00."]})
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError({name: [f"The year must be between {MIN_YEAR} and {MAX_YEAR}."]})
    return value


def _visible_calendar(request: StaffRequest, calendar_id: int) -> WorkingCalendar:
    calendar = WorkingCalendar.objects.select_related("region").filter(pk=calendar_id).first()
    if calendar is None:
        raise Http404
    if calendar.region_id is not None and not access.visible_regions(request.user).filter(pk=calendar.region_id).exists():
        raise Http404
    return calendar


@router.get("/calendars", response=list[CalendarOut], summary="Working calendars: the national one and those of regions in my scope")
@paginate(Pagination)
def list_calendars(request: StaffRequest) -> list[dict[str, Any]]:
    _require(request)
    visible = set(access.visible_regions(request.user).filter(working_calendars__isnull=False).values_list("pk", flat=True))
    return [_calendar_out(c) for c in coverages() if c.calendar.region_id is None or c.calendar.region_id in visible]


@router.get("/calendars/{calendar_id}", response=CalendarDetailOut, summary="One working calendar with its days of a year")
def get_calendar(
    request: StaffRequest, calendar_id: RecordId, year: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description="Default: this year.")] = None
) -> dict[str, Any]:
    _require(request)
    calendar = _visible_calendar(request, calendar_id)
    year = year or timezone.localdate().year
    days = days_of_year(calendar, year)
    return {
        **_calendar_out(coverage_of(calendar)),
        "year": year,
        "days": [{"date": day.date, "kind": day.kind, "name": day.name, "name_en": day.name_en, "calendar_id": day.calendar_id} for day in days.values()],
    }


@router.get("/regions/{region_id}/deadline", response=DeadlineOut, summary="When a clock started at an instant ends in a region")
def region_deadline(request: StaffRequest, region_id: RecordId, query: Query[DeadlineQuery]) -> dict[str, Any]:
    _require(request)
    region = access.access_region(request.user, region_id)
    start = _aware(query.start, "start")
    amount: float = query.amount
    if query.unit in (ClockUnit.WORKING_DAYS, ClockUnit.CALENDAR_DAYS) and not float(amount).is_integer():
        raise ValidationError({"amount": ["Days must be a whole number."]})
    chain = calendar_chain(region)
    spec = spec_of_chain(chain)
    try:
        result = workcalendar.add(spec, start, amount, query.unit, extend_past_days_off=query.extend_past_days_off)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValidationError({"start": [str(error)]}) from error
    return {
        "region_id": region.pk,
        "calendar_id": chain[-1].pk if chain else None,
        "start": start,
        "amount": amount,
        "unit": query.unit,
        "due": result.instant,
        "time_zone": spec.time_zone,
        "warnings": _warnings(result.warnings),
    }


@router.get("/regions/{region_id}/working-time", response=WorkingTimeOut, summary="The working time between two instants in a region")
def region_working_time(request: StaffRequest, region_id: RecordId, query: Query[WorkingTimeQuery]) -> dict[str, Any]:
    _require(request)
    region = access.access_region(request.user, region_id)
    start, end = _aware(query.start, "start"), _aware(query.end, "end")
    if end < start:
        raise ValidationError({"end": ["The end must not be before the start."]})
    if end - start > MAX_MEASURED_SPAN:
        raise ValidationError({"end": ["The span must be at most ten years."]})
    chain = calendar_chain(region)
    spec = spec_of_chain(chain)
    try:
        working = workcalendar.measure_working_time(spec, start, end)
        days = workcalendar.measure_working_days(spec, start, end)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValidationError({"start": [str(error)]}) from error
    seconds = int(working.duration.total_seconds())
    return {
        "region_id": region.pk,
        "calendar_id": chain[-1].pk if chain else None,
        "start": start.astimezone(spec.zone),
        "end": end.astimezone(spec.zone),
        "working_seconds": seconds,
        "working_hours": round(working.duration / timedelta(hours=1), 6),
        "working_days": round(float(days.days), 6),
        "time_zone": spec.time_zone,
        "warnings": _warnings(tuple(dict.fromkeys(working.warnings + days.warnings))),
    }
