"""The duty roster (值班): who is on duty for a unit, kept by its dispatchers and administrators,
read by everyone who sees the unit; emergencies route to it."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from rightscare.audit.models import AuditAction, AuditEntry
from rightscare.cases import selectors
from rightscare.cases.models import DutyShift
from tests.intake.conftest import SHANGHAI, WORKING_MORNING, unit_named, unit_of

PINGSHAN = "坪山区妇联"


def shift_data(user, start: str = "2026-06-03T18:00", end: str = "2026-06-04T09:00", **extra):
    return {"user": str(user.pk), "starts_at": start, "ends_at": end, "phone": "0755-8888 0001", **extra}


@pytest.fixture(autouse=True)
def _wednesday_morning():
    with time_machine.travel(WORKING_MORNING, tick=False):
        yield


def test_dispatcher_adds_a_shift_and_emergencies_route_to_it(demo_org, as_user):
    dispatcher = demo_org["pingshan.dispatcher"]
    unit = unit_named(PINGSHAN)
    client = as_user(dispatcher)
    response = client.post(reverse("duty_add", args=[unit.pk]), shift_data(dispatcher, idempotency_key="k1"))
    assert response.status_code == 302
    shift = DutyShift.objects.get()
    assert (shift.unit, shift.user, shift.phone) == (unit, dispatcher, "0755-8888 0001")
    assert (shift.starts_at, shift.ends_at) == (datetime.datetime(2026, 6, 3, 18, tzinfo=SHANGHAI), datetime.datetime(2026, 6, 4, 9, tzinfo=SHANGHAI))
    entry = AuditEntry.objects.get(event="cases.add_duty_shift")
    assert (entry.action, entry.actor_id, entry.unit_id) == (AuditAction.CREATE, dispatcher.pk, unit.pk)
    # A double click: one shift.
    client.post(reverse("duty_add", args=[unit.pk]), shift_data(dispatcher, idempotency_key="k1"))
    assert DutyShift.objects.count() == 1
    at_night = datetime.datetime(2026, 6, 3, 23, tzinfo=SHANGHAI)
    assert selectors.emergency_route(unit, at_night) == (unit, shift)
    # A street under Pingshan without its own roster routes up to Pingshan's shift.
    street = unit_named("坪山街道妇联")
    assert selectors.emergency_route(street, at_night) == (unit, shift)


def test_roster_page_lists_shifts_and_who_is_on_duty(demo_org, as_user):
    unit = unit_named(PINGSHAN)
    dispatcher = demo_org["pingshan.dispatcher"]
    DutyShift.objects.create(
        unit=unit, user=dispatcher, starts_at=WORKING_MORNING - datetime.timedelta(hours=1), ends_at=WORKING_MORNING + datetime.timedelta(hours=8)
    )
    client = as_user(demo_org["pingshan.admin"])
    page = client.get(reverse("duty_roster", args=[unit.pk])).content.decode()
    assert "On duty now: 黄丽华" in page
    assert f'action="{reverse("duty_add", args=[unit.pk])}"' in page  # the unit administrator may edit
    overview = as_user(dispatcher).get(reverse("duty_overview")).content.decode()
    assert reverse("duty_roster", args=[unit.pk]) in overview and "黄丽华" in overview


@pytest.mark.parametrize(
    ("username", "status", "may_edit"),
    [
        ("pingshan.dispatcher", 200, True),
        ("pingshan.admin", 200, True),
        ("pingshan.street", 404, False),  # a street federation does not see the district above it
        ("city.supervisor", 200, False),  # reads, never edits
        ("city.dispatcher", 200, False),  # a dispatcher of another unit reads
        ("pingshan.hr", 404, False),  # a department does not see the federation
        ("longhua.dispatcher", 404, False),
        ("liujiadayan.volunteer", 403, False),
    ],
)
def test_who_reads_and_who_edits_the_roster(demo_org, as_user, username, status, may_edit):
    unit = unit_named(PINGSHAN)
    client = as_user(demo_org[username])
    response = client.get(reverse("duty_roster", args=[unit.pk]))
    assert response.status_code == status
    if status == 200:
        assert ("Add the shift" in response.content.decode()) is may_edit
    before = (DutyShift.objects.count(), AuditEntry.objects.filter(event="cases.add_duty_shift").count())
    added = client.post(reverse("duty_add", args=[unit.pk]), shift_data(demo_org["pingshan.dispatcher"]))
    if may_edit:
        assert added.status_code == 302
    else:
        assert added.status_code == (403 if status == 200 else status)
        assert (DutyShift.objects.count(), AuditEntry.objects.filter(event="cases.add_duty_shift").count()) == before


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"start": "2026-06-04T09:00", "end": "2026-06-03T18:00"}, "id_ends_at", "A shift must end after it starts."),
        ({"start": "2026-06-03T18:00", "end": "2026-06-12T18:00"}, "id_ends_at", "A shift lasts at most 7 days."),
        ({"start": "2026-06-02T18:00", "end": "2026-06-03T09:00"}, "id_ends_at", "This shift is already over."),
        ({"start": "not a time"}, "id_starts_at", "Enter a valid date/time."),
    ],
)
def test_bad_shifts_change_nothing(demo_org, as_user, data, field, message):
    from tests.intake.conftest import field_errors

    unit = unit_named(PINGSHAN)
    client = as_user(demo_org["pingshan.dispatcher"])
    response = client.post(reverse("duty_add", args=[unit.pk]), shift_data(demo_org["pingshan.dispatcher"], **data))
    assert response.status_code == 422
    assert field_errors(response.content.decode())[field] == [message]
    assert DutyShift.objects.count() == 0


def test_only_a_member_of_the_unit_can_be_put_on_duty(demo_org, as_user):
    unit = unit_named(PINGSHAN)
    client = as_user(demo_org["pingshan.dispatcher"])
    response = client.post(reverse("duty_add", args=[unit.pk]), shift_data(demo_org["longhua.dispatcher"]))
    assert response.status_code == 422
    assert DutyShift.objects.count() == 0
    # The service says the same to a caller that skips the form.
    from django.core.exceptions import ValidationError

    from rightscare.cases.services import add_duty_shift

    with pytest.raises(ValidationError) as error:
        add_duty_shift(
            by=demo_org["pingshan.dispatcher"],
            unit=unit,
            user=demo_org["longhua.dispatcher"],
            starts_at=WORKING_MORNING,
            ends_at=WORKING_MORNING + datetime.timedelta(hours=8),
        )
    assert error.value.message_dict == {"user": ["Only a member of the unit can be put on duty."]}


def test_remove_a_coming_shift_but_never_one_that_is_over(demo_org, as_user):
    unit = unit_named(PINGSHAN)
    dispatcher = demo_org["pingshan.dispatcher"]
    coming = DutyShift.objects.create(
        unit=unit, user=dispatcher, starts_at=WORKING_MORNING + datetime.timedelta(hours=8), ends_at=WORKING_MORNING + datetime.timedelta(hours=23)
    )
    over = DutyShift.objects.create(
        unit=unit, user=dispatcher, starts_at=WORKING_MORNING - datetime.timedelta(hours=20), ends_at=WORKING_MORNING - datetime.timedelta(hours=4)
    )
    # Others may not remove it.
    for username, status in (("pingshan.street", 404), ("longhua.dispatcher", 404), ("city.dispatcher", 403), ("city.supervisor", 403)):
        assert as_user(demo_org[username]).post(reverse("duty_remove", args=[coming.pk])).status_code == status, username
    assert DutyShift.objects.count() == 2
    client = as_user(dispatcher)
    assert client.post(reverse("duty_remove", args=[coming.pk])).status_code == 302
    assert list(DutyShift.objects.values_list("pk", flat=True)) == [over.pk]
    entry = AuditEntry.objects.get(event="cases.remove_duty_shift")
    assert entry.action == AuditAction.DELETE
    assert client.post(reverse("duty_remove", args=[over.pk])).status_code == 302
    assert list(DutyShift.objects.values_list("pk", flat=True)) == [over.pk]
    assert AuditEntry.objects.filter(event="cases.remove_duty_shift").count() == 1


def test_city_administrator_edits_a_districts_roster(demo_org, as_user):
    # The system administrator administers every unit; she needs her second factor, skipped here.
    unit = unit_of(demo_org["pingshan.dispatcher"])
    from rightscare.cases.services import may_keep_duty_roster

    assert may_keep_duty_roster(demo_org["admin"], unit) is True
    assert may_keep_duty_roster(demo_org["pingshan.admin"], unit) is True
    assert may_keep_duty_roster(demo_org["pingshan.admin"], unit_named("深圳市妇联")) is False
    assert may_keep_duty_roster(demo_org["city.supervisor"], unit) is False
