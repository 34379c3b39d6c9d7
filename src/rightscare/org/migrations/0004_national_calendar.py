"""Create the national working calendar, so a fresh installation has one.

It gets the default time zone (Asia/Shanghai) and office hours (09:00–12:00,
14:00–18:00) and no holidays: ``rightscare seed-calendar`` (run by the demo loader)
fills in the holidays and make-up working days that the ``chinese_calendar``
package knows; until then deadlines count Monday–Friday and ``rightscare check``
warns. The holidays are not seeded here so that a migration never depends on the
version of a third-party package installed at the time it runs.
"""

from django.db import migrations

DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_WORKING_PERIODS = [["09:00", "12:00"], ["14:00", "18:00"]]


def create_national_calendar(apps, schema_editor):
    WorkingCalendar = apps.get_model("org", "WorkingCalendar")
    if not WorkingCalendar.objects.filter(region__isnull=True).exists():
        WorkingCalendar.objects.create(region=None, time_zone=DEFAULT_TIME_ZONE, working_periods=DEFAULT_WORKING_PERIODS)


def remove_national_calendar(apps, schema_editor):
    WorkingCalendar = apps.get_model("org", "WorkingCalendar")
    WorkingCalendar.objects.filter(region__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("org", "0003_working_calendars"),
    ]

    operations = [
        migrations.RunPython(create_national_calendar, remove_national_calendar),
    ]
