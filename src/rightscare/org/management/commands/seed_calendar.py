"""``rightscare seed-calendar``: enter the public holidays and 调休 days the ``chinese_calendar`` package knows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from rightscare.org.calendar_services import seed_national_calendar


class Command(BaseCommand):
    help = (
        "Fill the national working calendar with the public holidays and make-up working days (调休) of every year "
        "the chinese_calendar package knows, and move its coverage to the package's last day. Safe to run again: "
        "dates already entered are left as they are."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = seed_national_calendar(by=None)
        self.stdout.write(
            f"National working calendar: {report.created} day(s) added, {report.already_entered} already entered "
            f"(years {report.first_year}–{report.last_year}); holidays entered until {report.covered_until.isoformat()}."
        )
        self.stdout.write(
            "Later years: enter the State Council's schedule on the calendar pages (Working calendars) when it is published, usually in November."
        )
