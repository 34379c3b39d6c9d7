"""Deadlines of work orders computed on the working calendar of the unit's region.

For now the return window (2 working days); the deadlines issue adds the four
clocks per work order on the same arithmetic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rightscare.core import memo, workcalendar

#: A unit may return a work order within this many working days of receiving it.
RETURN_WINDOW_WORKING_DAYS = 2


def calendar_for(unit: Any) -> workcalendar.CalendarSpec:
    """The effective working calendar of the unit's region (national default when none)."""
    try:
        from rightscare.org.calendars import effective_calendar
    except ImportError:  # the calendar tables are not installed yet: Monday–Friday
        return workcalendar.CalendarSpec()
    # Read once per sweep batch (rightscare.core.memo); every time elsewhere.
    region = unit.region
    return memo.remembered(("calendar", region.pk if region is not None else None), lambda: effective_calendar(region))


def return_deadline(*, unit: Any, sent_at: datetime) -> datetime:
    """Until when ``unit`` may return a work order sent at ``sent_at``."""
    return workcalendar.add_working_days(calendar_for(unit), sent_at, RETURN_WINDOW_WORKING_DAYS).instant
