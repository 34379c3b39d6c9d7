"""The four clocks of a work order: every preset row, working time across weekends, holidays and
调休 days, the 50 %/80 % thresholds, and how the life cycle starts, stops and restarts them.

Times are frozen (time-machine) and written in Shenzhen's time. Office hours are 09:00–12:00
and 14:00–18:00 (7 working hours a day). 2 March 2026 is a Monday.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from rightscare.cases import services
from rightscare.cases.models import TimeClass, Urgency
from rightscare.supervision import clocks
from rightscare.supervision.models import ClockKind, ClockPolicy, ClockState, ClockUnit, StopReason, WorkOrderClock, clock_state
from rightscare.supervision.services import save_clock_policy
from tests.supervision.clock_helpers import at, clock, contact, dues, frozen, national_calendar, send, sign

pytestmark = pytest.mark.usefixtures("national_calendar")
assert national_calendar  # the fixture, imported for use above

MONDAY_10 = at(2026, 3, 2, 10)

#: Every preset row, sent on Monday 2 March 2026 at 10:00: the due time of each clock, worked out by hand.
PRESET_ROWS = {
    # 24/7: 30 minutes, 2 hours, 24 hours, 72 hours.
    (Urgency.EMERGENCY, TimeClass.STANDARD): {
        ClockKind.SIGN_FOR: at(2026, 3, 2, 10, 30),
        ClockKind.FIRST_CONTACT: at(2026, 3, 2, 12),
        ClockKind.UPDATE: at(2026, 3, 3, 10),
        ClockKind.RESOLUTION: at(2026, 3, 5, 10),
    },
    # 4 working hours: 10–12 and 14–16 on Monday; working days end at 18:00 of the Nth working day after Monday.
    (Urgency.URGENT, TimeClass.STANDARD): {
        ClockKind.SIGN_FOR: at(2026, 3, 2, 16),
        ClockKind.FIRST_CONTACT: at(2026, 3, 3, 18),
        ClockKind.UPDATE: at(2026, 3, 4, 18),
        ClockKind.RESOLUTION: at(2026, 3, 9, 18),
    },
    (Urgency.NORMAL, TimeClass.STANDARD): {
        ClockKind.SIGN_FOR: at(2026, 3, 3, 18),
        ClockKind.FIRST_CONTACT: at(2026, 3, 4, 18),
        ClockKind.UPDATE: at(2026, 3, 9, 18),
        ClockKind.RESOLUTION: at(2026, 3, 9, 18),
    },
    (Urgency.NORMAL, TimeClass.COMPLEX): {
        ClockKind.SIGN_FOR: at(2026, 3, 3, 18),
        ClockKind.FIRST_CONTACT: at(2026, 3, 4, 18),
        ClockKind.UPDATE: at(2026, 3, 9, 18),
        ClockKind.RESOLUTION: at(2026, 3, 23, 18),
    },
    # 信访: acceptance notice within 15 days (24:00 of Tuesday 17 March); resolution within 60 days: 1 May is
    # a holiday until 5 May, so the last day moves to Wednesday 6 May (its 24:00 is 7 May 00:00).
    (Urgency.NORMAL, TimeClass.LETTERS_AND_VISITS): {
        ClockKind.SIGN_FOR: at(2026, 3, 3, 18),
        ClockKind.FIRST_CONTACT: at(2026, 3, 18),
        ClockKind.UPDATE: at(2026, 3, 16, 18),
        ClockKind.RESOLUTION: at(2026, 5, 7),
    },
    # Urgent 信访: per clock the earlier of the urgent row and the 信访 row (here the urgent one each time).
    (Urgency.URGENT, TimeClass.LETTERS_AND_VISITS): {
        ClockKind.SIGN_FOR: at(2026, 3, 2, 16),
        ClockKind.FIRST_CONTACT: at(2026, 3, 3, 18),
        ClockKind.UPDATE: at(2026, 3, 4, 18),
        ClockKind.RESOLUTION: at(2026, 3, 9, 18),
    },
}


@pytest.mark.parametrize(("urgency", "time_class"), list(PRESET_ROWS))
def test_every_preset_row_gives_its_due_times(org, personas, urgency, time_class):
    order = send(org, personas, when=MONDAY_10, urgency=urgency, time_class=time_class)
    assert dues(order) == PRESET_ROWS[(urgency, time_class)]
    for row in WorkOrderClock.objects.filter(work_order=order):
        assert row.started_at == MONDAY_10
        assert row.original_due_at == row.due_at
        assert row.stopped_at is None and not row.breached


def test_an_emergency_runs_through_the_weekend(org, personas):
    order = send(org, personas, when=at(2026, 3, 6, 17), urgency=Urgency.EMERGENCY)
    assert dues(order) == {
        ClockKind.SIGN_FOR: at(2026, 3, 6, 17, 30),
        ClockKind.FIRST_CONTACT: at(2026, 3, 6, 19),
        ClockKind.UPDATE: at(2026, 3, 7, 17),
        ClockKind.RESOLUTION: at(2026, 3, 9, 17),
    }


def test_working_time_skips_the_weekend(org, personas):
    # Friday 16:00: two working hours on Friday, two on Monday morning.
    urgent = send(org, personas, when=at(2026, 3, 6, 16), urgency=Urgency.URGENT)
    assert clock(urgent, ClockKind.SIGN_FOR).due_at == at(2026, 3, 9, 11)
    normal = send(org, personas, when=at(2026, 3, 6, 16))
    assert dues(normal)[ClockKind.SIGN_FOR] == at(2026, 3, 9, 18)
    assert dues(normal)[ClockKind.RESOLUTION] == at(2026, 3, 13, 18)


def test_working_time_skips_a_public_holiday(org, personas):
    # Thursday 2 April 2026: 清明节 is 4–6 April (Saturday to Monday), so after Friday comes Tuesday 7 April.
    order = send(org, personas, when=at(2026, 4, 2, 10))
    assert dues(order) == {
        ClockKind.SIGN_FOR: at(2026, 4, 3, 18),
        ClockKind.FIRST_CONTACT: at(2026, 4, 7, 18),
        ClockKind.UPDATE: at(2026, 4, 10, 18),
        ClockKind.RESOLUTION: at(2026, 4, 10, 18),
    }


def test_a_make_up_working_saturday_counts(org, personas):
    # Friday 13 February 2026: Saturday 14 February is a make-up working day (调休), then 春节 until 23 February.
    order = send(org, personas, when=at(2026, 2, 13, 15))
    assert dues(order)[ClockKind.SIGN_FOR] == at(2026, 2, 14, 18)
    assert dues(order)[ClockKind.FIRST_CONTACT] == at(2026, 2, 24, 18)


def test_the_thresholds_are_half_and_four_fifths_of_the_working_time(org, personas):
    order = send(org, personas, when=MONDAY_10)
    resolution = clock(order, ClockKind.RESOLUTION)
    # Five working days counted from Tuesday: 35 working hours. Half (17.5 h) is Thursday 14:30; 80 % (28 h) is Friday 18:00.
    assert (resolution.half_at, resolution.late_at, resolution.due_at) == (at(2026, 3, 5, 14, 30), at(2026, 3, 6, 18), at(2026, 3, 9, 18))
    assert resolution.next_check_at == resolution.half_at
    sign_for = clock(order, ClockKind.SIGN_FOR)
    # One working day (Tuesday, 7 h): half (3.5 h) at 14:30, 80 % (5.6 h) at 16:36.
    assert (sign_for.half_at, sign_for.late_at) == (at(2026, 3, 3, 14, 30), at(2026, 3, 3, 16, 36))


@pytest.mark.parametrize(
    ("moment", "state"),
    [
        (at(2026, 3, 5, 14, 29), ClockState.RUNNING),
        (at(2026, 3, 5, 14, 30), ClockState.WARNING),
        (at(2026, 3, 6, 17, 59), ClockState.WARNING),
        (at(2026, 3, 6, 18), ClockState.LATE),
        (at(2026, 3, 9, 17, 59), ClockState.LATE),
        (at(2026, 3, 9, 18), ClockState.OVERDUE),
    ],
)
def test_the_state_follows_the_frozen_time(org, personas, moment, state):
    order = send(org, personas, when=MONDAY_10)
    resolution = clock(order, ClockKind.RESOLUTION)
    with frozen(moment):
        assert resolution.state() == state
        assert WorkOrderClock.objects.filter(pk=resolution.pk).overdue().exists() == (state == ClockState.OVERDUE)


def test_an_emergency_is_half_used_after_fifteen_minutes(org, personas):
    order = send(org, personas, when=MONDAY_10, urgency=Urgency.EMERGENCY)
    sign_for = clock(order, ClockKind.SIGN_FOR)
    assert (sign_for.half_at, sign_for.late_at) == (at(2026, 3, 2, 10, 15), at(2026, 3, 2, 10, 24))
    assert clock_state(sign_for, at(2026, 3, 2, 10, 31)) == ClockState.OVERDUE


def test_an_urgent_letters_and_visits_order_takes_the_earlier_preset_per_clock(org, personas):
    # Lengthen the urgent resolution preset to 90 working days: the 信访 row's 60 days are now earlier.
    urgent = ClockPolicy.objects.current().get(urgency=Urgency.URGENT, time_class="", kind=ClockKind.RESOLUTION)
    save_clock_policy(
        by=personas["system_admin"], policy=urgent, urgency=Urgency.URGENT, time_class="", kind=ClockKind.RESOLUTION, amount=90, unit=ClockUnit.WORKING_DAYS
    )
    order = send(org, personas, when=MONDAY_10, urgency=Urgency.URGENT, time_class=TimeClass.LETTERS_AND_VISITS)
    resolution = clock(order, ClockKind.RESOLUTION)
    assert resolution.due_at == at(2026, 5, 7)
    assert (resolution.policy.urgency, resolution.policy.time_class, resolution.policy.amount) == (Urgency.NORMAL, TimeClass.LETTERS_AND_VISITS, 60)
    assert resolution.alternative_policy is not None and resolution.alternative_policy.amount == 90
    # The sign-for clock still takes the urgent row's 4 working hours.
    sign_for = clock(order, ClockKind.SIGN_FOR)
    assert (sign_for.due_at, sign_for.policy.urgency) == (at(2026, 3, 2, 16), Urgency.URGENT)
    assert sign_for.alternative_policy is not None and sign_for.alternative_policy.time_class == TimeClass.LETTERS_AND_VISITS


def test_a_changed_preset_applies_to_work_orders_sent_afterwards_only(org, personas):
    before = send(org, personas, when=MONDAY_10)
    policy = ClockPolicy.objects.current().get(urgency=Urgency.NORMAL, time_class=TimeClass.STANDARD, kind=ClockKind.SIGN_FOR)
    with frozen(at(2026, 3, 2, 11)):
        new = save_clock_policy(
            by=personas["system_admin"],
            policy=policy,
            urgency=Urgency.NORMAL,
            time_class=TimeClass.STANDARD,
            kind=ClockKind.SIGN_FOR,
            amount=2,
            unit=ClockUnit.WORKING_DAYS,
        )
    after = send(org, personas, when=MONDAY_10)
    assert clock(before, ClockKind.SIGN_FOR).policy_id == policy.pk
    assert clock(before, ClockKind.SIGN_FOR).due_at == at(2026, 3, 3, 18)
    assert clock(after, ClockKind.SIGN_FOR).policy_id == new.pk
    assert clock(after, ClockKind.SIGN_FOR).due_at == at(2026, 3, 4, 18)


# --- the life cycle ----------------------------------------------------------------------------------------


def test_sign_for_stops_its_clock_as_met_and_stores_the_working_time(org, personas):
    order = send(org, personas, when=MONDAY_10)
    sign(order, personas, at(2026, 3, 3, 9, 30))
    sign_for = clock(order, ClockKind.SIGN_FOR)
    assert (sign_for.stopped_at, sign_for.stop_reason, sign_for.breached, sign_for.next_check_at) == (at(2026, 3, 3, 9, 30), StopReason.DONE, False, None)
    # Monday 10:00–12:00 and 14:00–18:00, Tuesday 09:00–09:30: 6.5 working hours.
    assert sign_for.elapsed_working_seconds == 6 * 3600 + 1800
    assert clock_state(sign_for, at(2026, 3, 10)) == ClockState.MET
    assert {c.kind for c in WorkOrderClock.objects.filter(work_order=order, stopped_at__isnull=True)} == {
        ClockKind.FIRST_CONTACT,
        ClockKind.UPDATE,
        ClockKind.RESOLUTION,
    }


def test_a_late_sign_for_counts_as_missed(org, personas):
    order = send(org, personas, when=MONDAY_10)
    sign(order, personas, at(2026, 3, 4, 9))
    sign_for = clock(order, ClockKind.SIGN_FOR)
    assert sign_for.breached
    assert clock_state(sign_for, at(2026, 3, 4, 9)) == ClockState.BREACHED


def test_first_contact_stops_its_clock_and_notes_restart_the_update_clock(org, personas):
    order = send(org, personas, when=MONDAY_10)
    sign(order, personas, at(2026, 3, 2, 11))
    order = contact(order, personas, at(2026, 3, 3, 10))
    assert clock(order, ClockKind.FIRST_CONTACT).stopped_at == at(2026, 3, 3, 10)
    update = clock(order, ClockKind.UPDATE)
    # The next gap runs from the contact: five working days from Tuesday end on Tuesday 10 March.
    assert (update.started_at, update.due_at, update.restarts) == (at(2026, 3, 3, 10), at(2026, 3, 10, 18), 1)
    with frozen(at(2026, 3, 12, 15)):
        services.add_progress_note(work_order=order, by=personas["handler"], text="约谈企业。")
    update = clock(order, ClockKind.UPDATE)
    # The gap ran out before this note: it is missed, and the next gap runs from the note.
    assert (update.started_at, update.due_at, update.restarts, update.breached) == (at(2026, 3, 12, 15), at(2026, 3, 19, 18), 2, True)
    assert update.warned_half_at is None and update.next_check_at == update.half_at


def test_completion_stops_every_clock_and_send_back_continues_the_resolution_clock(org, personas):
    order = send(org, personas, when=MONDAY_10)
    sign(order, personas, at(2026, 3, 2, 11))
    order = contact(order, personas, at(2026, 3, 2, 15))
    with frozen(at(2026, 3, 4, 10)):
        order = services.complete_work_order(work_order=order, by=personas["handler"], result="已追回工资。")
    resolution = clock(order, ClockKind.RESOLUTION)
    assert (resolution.stopped_at, resolution.stop_reason) == (at(2026, 3, 4, 10), StopReason.DONE)
    # Monday 10:00–18:00 (6 h), Tuesday (7 h), Wednesday 09:00–10:00 (1 h).
    assert resolution.elapsed_working_seconds == 14 * 3600
    assert not WorkOrderClock.objects.filter(work_order=order, stopped_at__isnull=True).exists()
    # The dispatcher sends it back on Friday morning: the two review days (Wednesday 10:00 to Friday 10:00) count for nobody.
    with frozen(at(2026, 3, 6, 10)):
        order = services.review_work_order(work_order=order, by=personas["dispatcher"], accept=False, comment="请补充协议。")
    resolution = clock(order, ClockKind.RESOLUTION)
    assert (resolution.stopped_at, resolution.stop_reason, resolution.elapsed_working_seconds) == (None, "", None)
    assert resolution.due_at == at(2026, 3, 11, 18)
    update = clock(order, ClockKind.UPDATE)
    assert (update.stopped_at, update.started_at, update.due_at) == (None, at(2026, 3, 6, 10), at(2026, 3, 13, 18))
    with frozen(at(2026, 3, 9, 10)):
        services.complete_work_order(work_order=order, by=personas["handler"], result="已签协议。")
    resolution = clock(order, ClockKind.RESOLUTION)
    assert not resolution.breached
    # Handling time: 14 h before the review, then Friday 10:00–18:00 (6 h) and Monday 09:00–10:00 (1 h).
    assert resolution.elapsed_working_seconds == 21 * 3600


def test_a_returned_work_order_stops_its_clocks_as_cancelled(org, personas):
    order = send(org, personas, when=MONDAY_10)
    with frozen(at(2026, 3, 2, 15)):
        services.return_work_order(work_order=order, by=personas["handler"], reason="不属于本街道。")
    rows = WorkOrderClock.objects.filter(work_order=order)
    assert {(c.kind, c.stop_reason, c.breached) for c in rows} == {(kind, StopReason.RETURNED, False) for kind in ClockKind.values}
    assert all(clock_state(c, timezone.now()) == ClockState.CANCELLED for c in rows)


def test_a_forwarded_work_order_gets_its_own_clocks(org, personas):
    order = send(org, personas, when=MONDAY_10)
    sign(order, personas, at(2026, 3, 2, 11))
    with frozen(at(2026, 3, 2, 14)):
        [child] = services.forward_work_order(work_order=order, by=personas["handler"], lead=org.units["pingshan_community"])
    assert dues(child) == {
        ClockKind.SIGN_FOR: at(2026, 3, 3, 18),
        ClockKind.FIRST_CONTACT: at(2026, 3, 4, 18),
        ClockKind.UPDATE: at(2026, 3, 9, 18),
        ClockKind.RESOLUTION: at(2026, 3, 9, 18),
    }


def test_presets_are_seeded_again_into_an_empty_table(org, personas):
    WorkOrderClock.objects.all().delete()
    ClockPolicy.objects.all().delete()
    order = send(org, personas, when=MONDAY_10)
    assert ClockPolicy.objects.count() == len(clocks.PRESETS)
    assert dues(order)[ClockKind.RESOLUTION] == at(2026, 3, 9, 18)


def test_a_clock_without_a_preset_is_not_started(org, personas):
    ClockPolicy.objects.filter(urgency=Urgency.NORMAL, time_class=TimeClass.STANDARD, kind=ClockKind.UPDATE).update(valid_until=timezone.now())
    order = send(org, personas, when=MONDAY_10)
    assert set(dues(order)) == {ClockKind.SIGN_FOR, ClockKind.FIRST_CONTACT, ClockKind.RESOLUTION}
