"""Pages of the working calendars: the list, a calendar's year, and its edits (system administrators)."""

from __future__ import annotations

import calendar as month_calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from rightscare.core.forms import apply_errors
from rightscare.core.idempotency import MAX_KEY_LENGTH, run_once
from rightscare.core.models import IdempotencyRecord
from rightscare.core.workcalendar import MAX_YEAR, MIN_YEAR
from rightscare.org import access, calendar_services
from rightscare.org.calendar_forms import CalendarCreateForm, CalendarDayForm, CalendarDayRemoveForm, CalendarSettingsForm
from rightscare.org.calendar_models import CalendarException, DayKind, WorkingCalendar
from rightscare.org.calendars import CalendarDay, Coverage, coverage_of, coverages, days_of_year, format_working_periods, periods_from_json
from rightscare.org.http import StaffRequest
from rightscare.org.roles import Capability

#: Column heads of the month grids, Monday first: short enough for a small table (一 二 三 … in Chinese).
WEEKDAY_INITIALS = (
    pgettext_lazy("weekday initial", "Mo"),
    pgettext_lazy("weekday initial", "Tu"),
    pgettext_lazy("weekday initial", "We"),
    pgettext_lazy("weekday initial", "Th"),
    pgettext_lazy("weekday initial", "Fr"),
    pgettext_lazy("weekday initial", "Sa"),
    pgettext_lazy("weekday initial", "Su"),
)


def _require(request: StaffRequest) -> None:
    if not access.has_capability(request.user, Capability.MANAGE_CALENDARS):
        raise PermissionDenied


def _calendar(pk: int) -> WorkingCalendar:
    return get_object_or_404(WorkingCalendar.objects.select_related("region"), pk=pk)


def _earlier_result(request: StaffRequest, *, scope: str) -> str | None:
    """The result of an earlier submission of this form (same idempotency key), if there was one."""
    key = request.POST.get("idempotency_key", "").strip()[:MAX_KEY_LENGTH]
    if not key:
        return None
    return IdempotencyRecord.objects.filter(user_id=request.user.pk, scope=scope, key=key).values_list("result", flat=True).first()


def _year(request: StaffRequest, default: int) -> int:
    try:
        year = int(request.GET.get("year", default))
    except ValueError:
        return default
    return year if MIN_YEAR <= year <= MAX_YEAR else default


# --- the list ------------------------------------------------------------------------------


@login_required
def calendar_list(request: StaffRequest) -> HttpResponse:
    """Every calendar (national first, then by region) with the settings in force and how far ahead it is known."""
    _require(request)
    rows = coverages()
    own_days = dict(CalendarException.objects.order_by().values("calendar_id").annotate(count=Count("id")).values_list("calendar_id", "count"))
    return render(
        request,
        "org/calendar_list.html",
        {"rows": [(row, own_days.get(row.calendar.pk, 0)) for row in rows], "short": [row for row in rows if row.is_short]},
    )


# --- a calendar's year ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCell:
    """One day of the year grid."""

    date: date
    state: str  # "working", "weekend", "holiday", "workday"
    name: str
    own: bool
    beyond_coverage: bool


def _state(day: date, entry: CalendarDay | None) -> str:
    if entry is not None:
        return "holiday" if entry.kind == DayKind.HOLIDAY else "workday"
    return "weekend" if day.weekday() >= 5 else "working"


def _months(calendar: WorkingCalendar, year: int, days: dict[date, CalendarDay], coverage: Coverage) -> list[tuple[str, list[list[DayCell | None]]]]:
    covered = coverage.covered_until
    months = []
    for month in range(1, 13):
        weeks = []
        for week in month_calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells: list[DayCell | None] = []
            for day in week:
                if day.month != month:
                    cells.append(None)
                    continue
                entry = days.get(day)
                cells.append(
                    DayCell(
                        date=day,
                        state=_state(day, entry),
                        name=entry.name if entry else "",
                        own=entry is not None and entry.calendar_id == calendar.pk,
                        beyond_coverage=covered is None or day > covered,
                    )
                )
            weeks.append(cells)
        months.append((str(MONTHS[month]), weeks))
    return months


def _render_detail(request: StaffRequest, calendar: WorkingCalendar, *, year: int, day_form: CalendarDayForm | None = None, status: int = 200) -> HttpResponse:
    coverage = coverage_of(calendar)
    days = days_of_year(calendar, year)
    sources = {c.pk: c for c in coverage.chain}
    entries = [(entry, sources.get(entry.calendar_id)) for _day, entry in sorted(days.items())]
    own_periods = periods_from_json(calendar.working_periods)
    return render(
        request,
        "org/calendar_detail.html",
        {
            "calendar": calendar,
            "coverage": coverage,
            "own_working_hours": format_working_periods(own_periods) if own_periods is not None else "",
            "year": year,
            "previous_year": year - 1 if year > MIN_YEAR else None,
            "next_year": year + 1 if year < MAX_YEAR else None,
            "months": _months(calendar, year, days, coverage),
            "weekdays": [str(label) for label in WEEKDAY_INITIALS],
            "entries": entries,
            "day_form": day_form or CalendarDayForm(),
        },
        status=status,
    )


@login_required
def calendar_detail(request: StaffRequest, pk: int) -> HttpResponse:
    """A calendar's settings, its coverage and a year of holidays and make-up working days (own and inherited)."""
    _require(request)
    calendar = _calendar(pk)
    return _render_detail(request, calendar, year=_year(request, timezone.localdate().year))


@login_required
@require_POST
def calendar_day_add(request: StaffRequest, pk: int) -> HttpResponse:
    """Enter a public holiday or a make-up working day; bad input shows the year again with the errors (422)."""
    _require(request)
    calendar = _calendar(pk)
    form = CalendarDayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            run_once(
                user_id=request.user.pk,
                scope="page:add_calendar_day",
                key=data["idempotency_key"],
                create=lambda: str(
                    calendar_services.add_calendar_day(
                        by=request.user, calendar=calendar, day=data["date"], kind=data["kind"], name=data["name"], name_en=data["name_en"]
                    ).pk
                ),
            )
            messages.success(request, _("%(date)s has been entered.") % {"date": data["date"].isoformat()})
            return redirect(f"{reverse('calendar_detail', args=[calendar.pk])}?year={data['date'].year}")
        except ValidationError as error:
            apply_errors(form, error)
    year = form.cleaned_data["date"].year if form.cleaned_data.get("date") else _year(request, timezone.localdate().year)
    return _render_detail(request, calendar, year=year, day_form=form, status=422)


@login_required
@require_POST
def calendar_day_remove(request: StaffRequest, pk: int) -> HttpResponse:
    """Remove one of the calendar's own days; a second click finds nothing and says so."""
    _require(request)
    calendar = _calendar(pk)
    form = CalendarDayRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a day to remove."))
        return redirect("calendar_detail", pk=calendar.pk)
    day = form.cleaned_data["date"]
    if calendar_services.remove_calendar_day(by=request.user, calendar=calendar, day=day):
        messages.success(request, _("%(date)s has been removed.") % {"date": day.isoformat()})
    else:
        messages.info(request, _("%(date)s was not entered in this calendar (already removed?).") % {"date": day.isoformat()})
    return redirect(f"{reverse('calendar_detail', args=[calendar.pk])}?year={day.year}")


# --- creating, editing, deleting -----------------------------------------------------------------


def _settings_initial(calendar: WorkingCalendar) -> dict[str, Any]:
    periods = periods_from_json(calendar.working_periods)
    return {
        "time_zone": calendar.time_zone,
        "working_hours": format_working_periods(periods) if periods is not None else "",
        "covered_until": calendar.covered_until,
    }


@login_required
def calendar_create(request: StaffRequest) -> HttpResponse:
    """Give a region a calendar of its own (it follows the calendar above until days are added)."""
    _require(request)
    initial: dict[str, Any] = {}
    if request.GET.get("region", "").isascii() and request.GET.get("region", "").isdigit():
        initial["region"] = request.GET["region"]
    if request.method == "POST":
        # A second submission of the same form finds its region taken (by itself): answer as the first did.
        done = _earlier_result(request, scope="page:create_calendar")
        if done is not None:
            messages.success(request, _("The calendar has been created."))
            return redirect("calendar_detail", pk=int(done))
    form = CalendarCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result, _ran = run_once(
                user_id=request.user.pk,
                scope="page:create_calendar",
                key=data["idempotency_key"],
                create=lambda: str(
                    calendar_services.create_region_calendar(
                        by=request.user,
                        region=data["region"],
                        time_zone=data["time_zone"],
                        working_periods=data["working_hours"],
                        covered_until=data["covered_until"],
                    ).pk
                ),
            )
            messages.success(request, _("The calendar has been created."))
            return redirect("calendar_detail", pk=int(result))
        except ValidationError as error:
            apply_errors(form, error)
    return render(request, "org/calendar_form.html", {"form": form, "calendar": None}, status=422 if form.errors else 200)


@login_required
def calendar_edit(request: StaffRequest, pk: int) -> HttpResponse:
    """Change a calendar's time zone, working hours and the date its holidays are entered until."""
    _require(request)
    calendar = _calendar(pk)
    form = CalendarSettingsForm(request.POST or None, national=calendar.is_national, initial=_settings_initial(calendar))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            calendar_services.update_calendar(
                by=request.user, calendar=calendar, time_zone=data["time_zone"], working_periods=data["working_hours"], covered_until=data["covered_until"]
            )
            messages.success(request, _("The calendar has been saved."))
            return redirect("calendar_detail", pk=calendar.pk)
        except ValidationError as error:
            apply_errors(form, error)
    return render(request, "org/calendar_form.html", {"form": form, "calendar": calendar}, status=422 if form.errors else 200)


@login_required
@require_POST
def calendar_delete(request: StaffRequest, pk: int) -> HttpResponse:
    """Remove a region's calendar: the region follows the calendar above again."""
    _require(request)
    calendar = _calendar(pk)
    try:
        calendar_services.delete_region_calendar(by=request.user, calendar=calendar)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("calendar_detail", pk=calendar.pk)
    messages.success(request, _("The calendar has been deleted."))
    return redirect("calendar_list")
