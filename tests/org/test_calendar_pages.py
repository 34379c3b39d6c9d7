"""The working-calendar pages (system administrators) and the calendar API (anyone who sees the organisation)."""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import urlencode

import pytest
import time_machine
from django.urls import reverse

from rightscare.audit.models import AuditEntry
from rightscare.org import calendar_services, services
from rightscare.org.calendar_models import CalendarException, DayKind, WorkingCalendar
from rightscare.org.calendars import parse_working_periods

pytestmark = pytest.mark.django_db


def frozen(day: str) -> time_machine.travel:
    return time_machine.travel(datetime.fromisoformat(f"{day}T12:00:00+08:00"), tick=False)


@pytest.fixture(autouse=True)
def late_november():
    """Every test here runs on 29 November 2026 at noon in Beijing (sign-in included, so sessions stay fresh)."""
    with frozen("2026-11-29"):
        yield


@pytest.fixture
def national(db) -> WorkingCalendar:
    calendar = calendar_services.ensure_national_calendar()
    calendar_services.seed_national_calendar()
    calendar.refresh_from_db()
    return calendar


@pytest.fixture
def admin(client, login, personas):
    """The system administrator, signed in, reading English."""
    login(personas["system_admin"])
    client.cookies["rightscare_language"] = "en"
    return personas["system_admin"]


@pytest.fixture
def pingshan_calendar(national, org, personas) -> WorkingCalendar:
    calendar = calendar_services.create_region_calendar(by=personas["system_admin"], region=org.regions["pingshan"])
    calendar_services.add_calendar_day(by=personas["system_admin"], calendar=calendar, day=date(2026, 11, 20), kind=DayKind.HOLIDAY, name="坪山区纪念日")
    return calendar


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def days(calendar: WorkingCalendar) -> list[tuple[date, str, str]]:
    return list(calendar.exceptions.order_by("date").values_list("date", "kind", "name"))


# --- pages ---------------------------------------------------------------------------------------


def test_the_list_shows_every_calendar_with_its_coverage_and_warns(client, admin, pingshan_calendar, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = client.get(reverse("calendar_list"))
    page = text(response)
    assert response.status_code == 200
    assert "National calendar: public holidays are entered only up to 2026-12-31 (32 days ahead)." in page
    assert "Pingshan: public holidays are entered only up to 2026-12-31 (32 days ahead)." in page
    assert re.search(r"National calendar — Asia/Shanghai 09:00-12:00, 14:00-18:00 \d+ Dec\. 31, 2026 Less than 90 days ahead", page)
    assert "Pingshan National calendar Asia/Shanghai 09:00-12:00, 14:00-18:00 1 Dec. 31, 2026" in page


def test_the_list_does_not_warn_when_next_year_is_entered(client, admin, national):
    calendar_services.update_calendar(
        by=admin,
        calendar=national,
        time_zone="Asia/Shanghai",
        working_periods=parse_working_periods("09:00-12:00, 14:00-18:00"),
        covered_until=date(2027, 12, 31),
    )
    page = text(client.get(reverse("calendar_list")))
    assert "public holidays are entered only up to" not in page
    assert "Up to date" in page


def test_the_navigation_links_the_calendars_for_those_who_manage_them(client, login, personas, national):
    login(personas["system_admin"])
    assert reverse("calendar_list") in client.get(reverse("home")).content.decode()
    login(personas["unit_admin"])
    assert reverse("calendar_list") not in client.get(reverse("home")).content.decode()


def test_a_calendar_page_shows_the_year_with_own_and_inherited_days(client, admin, pingshan_calendar):
    response = client.get(reverse("calendar_detail", args=[pingshan_calendar.pk]))
    page = text(response)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Working calendar: Pingshan" in page
    assert "2026-10-01 Thu Public holiday 国庆节 National calendar" in page
    assert "2026-10-10 Sat Make-up working day (调休) 国庆节调休 National calendar" in page
    assert "2026-11-20 Fri Public holiday 坪山区纪念日 This calendar Remove" in page
    assert 'class="calendar-day calendar-day--holiday calendar-day--own" title="坪山区纪念日">20</td>' in html
    assert 'class="calendar-day calendar-day--workday" title="国庆节调休">10</td>' in html
    assert "Pingshan: public holidays are entered only up to 2026-12-31 (32 days ahead)." in page


def test_another_year_is_shown_on_request_and_marked_as_not_covered(client, admin, national):
    page = client.get(reverse("calendar_detail", args=[national.pk]) + "?year=2027").content.decode()
    assert "The year 2027" in page
    assert "No holidays or make-up working days are entered for this year." in page
    assert 'class="calendar-day calendar-day--working calendar-day--beyond">4</td>' in page
    # A year that makes no sense falls back to this year.
    assert "The year 2026" in client.get(reverse("calendar_detail", args=[national.pk]) + "?year=99999").content.decode()


def test_entering_a_day_redirects_to_its_year(client, admin, national):
    response = client.post(
        reverse("calendar_day_add", args=[national.pk]),
        {"date": "2027-01-01", "kind": "holiday", "name": "元旦", "name_en": "New Year's Day", "idempotency_key": "k1"},
    )
    assert (response.status_code, response["Location"]) == (302, reverse("calendar_detail", args=[national.pk]) + "?year=2027")
    assert national.exceptions.get(date=date(2027, 1, 1)).name == "元旦"
    assert "2027-01-01 has been entered." in text(client.get(response["Location"]))


def test_a_double_submission_enters_the_day_once(client, admin, national):
    data = {"date": "2027-02-06", "kind": "workday", "name": "春节调休", "idempotency_key": "same-key"}
    first = client.post(reverse("calendar_day_add", args=[national.pk]), data)
    second = client.post(reverse("calendar_day_add", args=[national.pk]), data)
    assert (first.status_code, second.status_code) == (302, 302)
    assert national.exceptions.filter(date=date(2027, 2, 6)).count() == 1
    assert AuditEntry.objects.filter(event="org.calendar.add_day").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"date": "2027-01-01", "kind": "holiday", "name": ""}, "A public holiday needs a name, e.g. 国庆节."),
        ({"date": "2026-10-01", "kind": "holiday", "name": "国庆节"}, "2026-10-01 is already entered in this calendar; remove it first."),
        ({"date": "not a date", "kind": "holiday", "name": "x"}, "Enter a valid date."),
        ({"date": "2027-01-01", "kind": "vacation", "name": "x"}, "Select a valid choice. vacation is not one of the available choices."),
    ],
)
def test_a_bad_day_shows_the_page_again_with_the_error_and_changes_nothing(client, admin, national, data, message):
    before = (days(national), AuditEntry.objects.count())
    response = client.post(reverse("calendar_day_add", args=[national.pk]), data)
    assert response.status_code == 422
    assert message in text(response)
    assert "The year" in text(response)
    assert (days(national), AuditEntry.objects.count()) == before


def test_removing_a_day_twice_says_it_is_gone(client, admin, national):
    url = reverse("calendar_day_remove", args=[national.pk])
    first = client.post(url, {"date": "2026-10-07"})
    second = client.post(url, {"date": "2026-10-07"})
    assert (first.status_code, first["Location"]) == (302, reverse("calendar_detail", args=[national.pk]) + "?year=2026")
    assert second.status_code == 302
    assert not national.exceptions.filter(date=date(2026, 10, 7)).exists()
    assert "2026-10-07 was not entered in this calendar (already removed?)." in text(client.get(second["Location"]))


def test_editing_working_hours_and_coverage(client, admin, national):
    url = reverse("calendar_edit", args=[national.pk])
    form = client.get(url).content.decode()
    assert 'value="09:00-12:00, 14:00-18:00"' in form
    response = client.post(url, {"time_zone": "Asia/Shanghai", "working_hours": "08:30-12:00, 14:00-17:30", "covered_until": "2027-12-31"})
    assert (response.status_code, response["Location"]) == (302, reverse("calendar_detail", args=[national.pk]))
    national.refresh_from_db()
    assert (national.working_periods, national.covered_until) == ([["08:30", "12:00"], ["14:00", "17:30"]], date(2027, 12, 31))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"time_zone": "Asia/Shanghai", "working_hours": "14:00-18:00, 09:00-12:00"},
            "Working periods must be in order and must not overlap: 09:00 is before 18:00.",
        ),
        (
            {"time_zone": "Asia/Shanghai", "working_hours": "nine to five"},
            "Write the working hours as periods like 09:00-12:00, 14:00-18:00 (not nine to five).",
        ),
        ({"time_zone": "", "working_hours": "09:00-17:00"}, "This field is required."),
        ({"time_zone": "Mars/Olympus", "working_hours": "09:00-17:00"}, "Select a valid choice."),
        ({"time_zone": "Asia/Shanghai", "working_hours": ""}, "This field is required."),
    ],
)
def test_bad_settings_show_the_form_again_and_change_nothing(client, admin, national, data, message):
    before = WorkingCalendar.objects.values_list("time_zone", "working_periods", "covered_until").get(pk=national.pk)
    response = client.post(reverse("calendar_edit", args=[national.pk]), data)
    assert response.status_code == 422
    assert message in text(response)
    assert WorkingCalendar.objects.values_list("time_zone", "working_periods", "covered_until").get(pk=national.pk) == before


def test_a_region_calendar_may_follow_the_calendar_above(client, admin, pingshan_calendar):
    response = client.post(reverse("calendar_edit", args=[pingshan_calendar.pk]), {"time_zone": "", "working_hours": "", "covered_until": ""})
    assert response.status_code == 302
    pingshan_calendar.refresh_from_db()
    assert (pingshan_calendar.time_zone, pingshan_calendar.working_periods, pingshan_calendar.covered_until) == ("", None, None)


def test_creating_a_region_calendar_once_per_submission(client, admin, national, org):
    data = {"region": org.regions["longhua"].pk, "time_zone": "", "working_hours": "", "covered_until": "", "idempotency_key": "create-1"}
    first = client.post(reverse("calendar_create"), data)
    second = client.post(reverse("calendar_create"), data)
    calendar = WorkingCalendar.objects.get(region=org.regions["longhua"])
    assert (first.status_code, first["Location"], second["Location"]) == (302, reverse("calendar_detail", args=[calendar.pk]), first["Location"])
    # The region now has one: it is no longer offered.
    form = client.get(reverse("calendar_create")).content.decode()
    assert f'<option value="{org.regions["longhua"].pk}"' not in form
    assert f'<option value="{org.regions["pingshan"].pk}"' in form
    refused = client.post(reverse("calendar_create"), {**data, "idempotency_key": "create-2"})
    assert refused.status_code == 422
    assert WorkingCalendar.objects.filter(region=org.regions["longhua"]).count() == 1


def test_the_create_form_preselects_a_region(client, admin, national, org):
    form = client.get(reverse("calendar_create") + f"?region={org.regions['pingshan'].pk}").content.decode()
    assert f'<option value="{org.regions["pingshan"].pk}" selected>' in form


def test_deleting_a_region_calendar(client, admin, pingshan_calendar):
    response = client.post(reverse("calendar_delete", args=[pingshan_calendar.pk]))
    assert (response.status_code, response["Location"]) == (302, reverse("calendar_list"))
    assert not WorkingCalendar.objects.filter(pk=pingshan_calendar.pk).exists()


def test_the_national_calendar_is_not_deleted(client, admin, national):
    response = client.post(reverse("calendar_delete", args=[national.pk]))
    assert (response.status_code, response["Location"]) == (302, reverse("calendar_detail", args=[national.pk]))
    assert WorkingCalendar.objects.filter(pk=national.pk).exists()
    assert "The national calendar cannot be deleted." in text(client.get(response["Location"]))


def test_a_missing_calendar_is_404(client, admin, national):
    assert client.get(reverse("calendar_detail", args=[999999])).status_code == 404


# --- API -------------------------------------------------------------------------------------------


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.create_api_token(by=user, name='test')[1]}"}


def test_the_calendar_list_is_scoped_to_the_regions_one_sees(client, personas, org, pingshan_calendar):
    longhua = calendar_services.create_region_calendar(by=personas["system_admin"], region=org.regions["longhua"])
    body = client.get("/api/v1/calendars", headers=bearer(personas["dispatcher"]), HTTP_ACCEPT_LANGUAGE="en").json()
    assert [(c["name"], c["region_id"]) for c in body["items"]] == [("National calendar", None), ("Pingshan", org.regions["pingshan"].pk)]
    assert body["items"][1] == {
        "id": pingshan_calendar.pk,
        "name": "Pingshan",
        "region_id": org.regions["pingshan"].pk,
        "is_national": False,
        "time_zone": "",
        "working_periods": None,
        "covered_until": None,
        "effective": {
            "inherits_from": body["items"][0]["id"],
            "time_zone": "Asia/Shanghai",
            "working_periods": [{"start": "09:00", "end": "12:00"}, {"start": "14:00", "end": "18:00"}],
            "covered_until": "2026-12-31",
            "coverage_short": True,
        },
    }
    hidden = client.get(f"/api/v1/calendars/{longhua.pk}", headers=bearer(personas["dispatcher"]))
    missing = client.get("/api/v1/calendars/999999", headers=bearer(personas["dispatcher"]))
    assert (hidden.status_code, hidden.content) == (missing.status_code, missing.content) == (404, missing.content)


def test_a_calendar_with_its_days_of_a_year(client, personas, pingshan_calendar, national):
    body = client.get(f"/api/v1/calendars/{pingshan_calendar.pk}?year=2026", headers=bearer(personas["handler"])).json()
    by_date = {day["date"]: day for day in body["days"]}
    assert body["year"] == 2026
    assert by_date["2026-11-20"] == {"date": "2026-11-20", "kind": "holiday", "name": "坪山区纪念日", "name_en": "", "calendar_id": pingshan_calendar.pk}
    assert by_date["2026-10-10"] == {
        "date": "2026-10-10",
        "kind": "workday",
        "name": "国庆节调休",
        "name_en": "National Day (make-up working day)",
        "calendar_id": national.pk,
    }
    assert len(body["days"]) == CalendarException.objects.filter(date__year=2026).count()


def deadline_url(region_id: int, **query: object) -> str:
    return f"/api/v1/regions/{region_id}/deadline?{urlencode(query)}"


def test_a_deadline_in_a_region(client, personas, org, pingshan_calendar):
    url = deadline_url(org.regions["pingshan_street"].pk, start="2026-11-19T10:00:00+08:00", amount=1, unit="working_days")
    body = client.get(url, headers=bearer(personas["handler"])).json()
    assert body == {
        "region_id": org.regions["pingshan_street"].pk,
        "calendar_id": pingshan_calendar.pk,
        "start": "2026-11-19T10:00:00+08:00",
        "amount": 1.0,
        "unit": "working_days",
        "due": "2026-11-23T18:00:00+08:00",
        "time_zone": "Asia/Shanghai",
        "warnings": [],
    }


def test_a_deadline_beyond_the_covered_days_carries_the_warning(client, personas, org, national):
    url = deadline_url(org.regions["pingshan"].pk, start="2026-12-30T10:00:00+08:00", amount=3, unit="working_days")
    body = client.get(url, headers=bearer(personas["dispatcher"]), HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["due"] == "2027-01-04T18:00:00+08:00"
    assert body["warnings"] == [
        {
            "code": "beyond_coverage",
            "message": "The working calendar has public holidays only up to 2026-12-31: after that date Monday to Friday were counted as working days.",
        }
    ]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "2026-11-19T10:00:00", "amount": 1, "unit": "working_days"}, "start", "Give the time-zone offset, e.g. 2026-09-30T10:00:00+08:00."),
        ({"start": "2026-11-19T10:00:00+08:00", "amount": 1.5, "unit": "working_days"}, "amount", "Days must be a whole number."),
        ({"start": "1800-01-01T10:00:00+08:00", "amount": 1, "unit": "working_hours"}, "start", "The year must be between 1900 and 2999."),
    ],
)
def test_a_bad_deadline_request_is_a_422_naming_the_field(client, personas, org, national, query, field, message):
    response = client.get(deadline_url(org.regions["pingshan"].pk, **query), headers=bearer(personas["dispatcher"]))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": field, "message": message}]


def test_working_time_between_two_instants(client, personas, org, national):
    query = urlencode({"start": "2026-09-30T10:00:00+08:00", "end": "2026-10-09T12:00:00+08:00"})
    body = client.get(f"/api/v1/regions/{org.regions['pingshan'].pk}/working-time?{query}", headers=bearer(personas["dispatcher"])).json()
    # 30 Sep 10:00–18:00 = 6 h (lunch excluded); 1–7 Oct off; 8 Oct 7 h; 9 Oct 09:00–12:00 3 h.
    assert (body["working_seconds"], body["working_hours"], body["working_days"], body["warnings"]) == (16 * 3600, 16.0, round(10 / 7, 6), [])
    backwards = client.get(
        f"/api/v1/regions/{org.regions['pingshan'].pk}/working-time?{urlencode({'start': '2026-10-09T12:00:00+08:00', 'end': '2026-09-30T10:00:00+08:00'})}",
        headers=bearer(personas["dispatcher"]),
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"] == [{"field": "end", "message": "The end must not be before the start."}]
