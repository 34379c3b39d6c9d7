"""Forms of the working-calendar pages."""

from __future__ import annotations

from datetime import time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from rightscare.org.calendar_models import DayKind, WorkingCalendar
from rightscare.org.calendar_services import time_zone_names
from rightscare.org.calendars import parse_working_periods
from rightscare.org.forms import OnceForm, RegionChoiceField
from rightscare.org.models import Region


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _time_zone_choices(*, inherit: bool) -> list[tuple[str, Any]]:
    first: list[tuple[str, Any]] = [("", _("As the calendar above"))] if inherit else []
    return first + [(name, name) for name in sorted(time_zone_names())]


class CalendarSettingsForm(forms.Form):
    """Time zone, working hours and coverage of a calendar; a region's may leave the first two empty."""

    time_zone = forms.ChoiceField(label=_("Time zone"), choices=(), required=False)
    working_hours = forms.CharField(
        label=_("Working hours"),
        max_length=200,
        required=False,
        help_text=_("Periods of the working day in order, e.g. 09:00-12:00, 14:00-18:00."),
    )
    covered_until = forms.DateField(
        label=_("Holidays entered until"),
        required=False,
        widget=DateInput(),
        help_text=_("The last date up to which public holidays and make-up working days have been entered."),
    )

    def __init__(self, *args: Any, national: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.national = national
        self.fields["time_zone"].choices = _time_zone_choices(inherit=not national)  # type: ignore[attr-defined]
        self.fields["time_zone"].required = national
        self.fields["working_hours"].required = national
        if not national:
            self.fields["working_hours"].help_text = _("Periods of the working day in order, e.g. 09:00-12:00, 14:00-18:00. Empty: as the calendar above.")
            self.fields["covered_until"].help_text = _(
                "Leave empty when this calendar only adds the odd local day; set it when this region keeps its own list of holidays up to date."
            )

    def clean_working_hours(self) -> tuple[tuple[time, time], ...] | None:
        text = self.cleaned_data.get("working_hours", "").strip()
        if not text:
            return None
        try:
            return parse_working_periods(text)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error


class CalendarCreateForm(OnceForm, CalendarSettingsForm):
    """A calendar for a region that has none yet."""

    region = RegionChoiceField(label=_("Region"), queryset=Region.objects.none())

    field_order = ["region", "time_zone", "working_hours", "covered_until"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, national=False, **kwargs)
        taken = WorkingCalendar.objects.filter(region__isnull=False).values("region_id")
        self.fields["region"].queryset = Region.objects.exclude(pk__in=taken).order_by("path")  # type: ignore[attr-defined]


class CalendarDayForm(OnceForm):
    """A public holiday or a make-up working day (调休) to enter."""

    date = forms.DateField(label=_("Date"), widget=DateInput())
    kind = forms.ChoiceField(label=_("Kind"), choices=DayKind.choices, initial=DayKind.HOLIDAY)
    name = forms.CharField(label=_("Name"), max_length=100, required=False, help_text=_("e.g. 国庆节; required for a public holiday."))
    name_en = forms.CharField(label=_("English name"), max_length=100, required=False)


class CalendarDayRemoveForm(forms.Form):
    date = forms.DateField()
