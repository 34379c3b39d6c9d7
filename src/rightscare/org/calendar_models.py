"""Working calendars: per region, inherited down the region tree (PRODUCT.md C4).

One national calendar (no region) serves every region without a calendar of its
own; a region's calendar applies to it and to the regions below it until a deeper
calendar takes over. A calendar holds the time zone and working hours (empty: as
the calendar above) and dated exceptions: public holidays and make-up working
days on weekends (调休). A deeper calendar's exception replaces the one above for
the same date, so a region can add a local holiday or keep working on a day the
calendar above has off.

The arithmetic is in :mod:`rightscare.core.workcalendar`; these tables become a
:class:`~rightscare.core.workcalendar.CalendarSpec` through
:func:`rightscare.org.calendars.effective_calendar`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from rightscare.core.models import TimeStampedModel
from rightscare.org.models import Region


class WorkingCalendar(TimeStampedModel):
    """The working calendar of a region and the regions below it; the national one has no region."""

    region = models.ForeignKey(Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT, related_name="working_calendars")
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, help_text=_("Empty: the time zone of the calendar above."))
    # [["09:00", "12:00"], ["14:00", "18:00"]]; null: the working hours of the calendar above.
    working_periods = models.JSONField(_("working hours"), null=True, blank=True)
    covered_until = models.DateField(
        _("holidays entered until"), null=True, blank=True, help_text=_("The last date up to which this calendar's public holidays have been entered.")
    )

    class Meta:
        verbose_name = _("working calendar")
        verbose_name_plural = _("working calendars")
        constraints = [
            # One calendar per region, and exactly one national calendar (region NULL counts as 0).
            models.UniqueConstraint(Coalesce(F("region"), Value(0)), name="working_calendar_one_per_region"),
            models.CheckConstraint(
                condition=Q(region__isnull=False) | (~Q(time_zone="") & Q(working_periods__isnull=False)),
                name="working_calendar_national_is_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_national(self) -> bool:
        return self.region_id is None

    @property
    def display_name(self) -> str:
        """The national calendar's name or the region's, in the active language."""
        if self.region is None:
            return str(_("National calendar"))
        return self.region.display_name


class DayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Public holiday (day off)")
    WORKDAY = "workday", _("Make-up working day (调休)")


class CalendarException(models.Model):
    """A dated exception to Monday–Friday: a day off (public holiday) or a working day (调休)."""

    calendar = models.ForeignKey(WorkingCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="exceptions")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=16, choices=DayKind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="calendar_exception_one_per_date")]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.display_name or self.get_kind_display()}"

    @property
    def display_name(self) -> str:
        """The name in the active language (the Chinese name when no English one is known)."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name
