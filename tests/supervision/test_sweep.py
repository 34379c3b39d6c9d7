"""The deadline sweep with frozen time: warnings, the automatic reminder, 督办 and 挂牌督办, the emergency escalation.

The test organisation has no working calendar rows: Monday to Friday, 09:00–12:00 and
14:00–18:00 in Shenzhen. A normal, standard work order sent on Monday 2 March 2026 at 10:00
must be signed for by Tuesday 18:00 (one working day, counted from the end of Monday), its
first contact made by Wednesday 18:00, its update and resolution done by Monday 9 March 18:00.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rightscare.audit.models import AuditEntry
from rightscare.cases import services
from rightscare.cases.models import CaseEvent, DutyShift, Urgency, Visibility
from rightscare.notifications.models import Message
from rightscare.org.models import Membership
from rightscare.org.roles import Role
from rightscare.supervision import services as deadline_services
from rightscare.supervision.models import Chase, ChaseLevel, ClockKind, PauseReason, WorkOrderClock
from rightscare.supervision.sweep import CHASE_ORDER_BY, CLOCK_ORDER_BY, PAUSED_RECHECK, SweepReport, claim_query, due_chases, due_clocks, sweep
from tests.factories import UserFactory
from tests.supervision.chasing_helpers import clock, dispatched_order, local, messages_in_english  # noqa: F401 - autouse

SENT = local(2026, 3, 2, 10)


def sweep_at(instant: datetime.datetime) -> SweepReport:
    with time_machine.travel(instant, tick=False):
        return sweep()


def counts(report: SweepReport) -> dict[str, int]:
    return {name: value for name, value in vars(report).items() if value}


def messages(event: str) -> list[tuple[str, str]]:
    """(recipient, subject) of every message of ``event``, in order."""
    return [(m.to_user.username, m.subject) for m in Message.objects.filter(event=event).select_related("to_user").order_by("id")]


def ledger() -> list[tuple[Any, ...]]:
    """Every chase: level, the missed clock, the chasing unit, when, whether it must be answered, and its next step."""
    return [
        (c.level, c.clock.kind if c.clock else None, c.by_unit.name, c.at, c.needs_answer, c.escalate_at)
        for c in Chase.objects.select_related("clock", "by_unit").order_by("id")
    ]


def everything() -> tuple[Any, ...]:
    """What a sweep writes: chases, messages, timeline events, audit entries and the clocks' stamps."""
    return (
        ledger(),
        Message.objects.count(),
        CaseEvent.objects.count(),
        AuditEntry.objects.filter(event__startswith="supervision.").count(),
        sorted(WorkOrderClock.objects.values_list("pk", "warned_half_at", "warned_late_at", "due_notified_at", "next_check_at", "breached")),
    )


@pytest.fixture
def order(org, personas):
    with time_machine.travel(SENT, tick=False):
        return dispatched_order(org, personas)


@pytest.fixture
def city_supervisor(org):
    user = UserFactory(username="city_supervisor", full_name="市妇联督查")
    Membership.objects.create(user=user, unit=org.units["city"], role=Role.SUPERVISOR)
    return user


def test_the_chain_from_warnings_to_listed_supervision(order, org, personas, city_supervisor):
    sign_for, first_contact = clock(order, ClockKind.SIGN_FOR), clock(order, ClockKind.FIRST_CONTACT)
    assert (sign_for.half_at, sign_for.late_at, sign_for.due_at) == (local(2026, 3, 3, 14, 30), local(2026, 3, 3, 16, 36), local(2026, 3, 3, 18))
    assert first_contact.due_at == local(2026, 3, 4, 18)

    assert counts(sweep_at(local(2026, 3, 3, 14, 29))) == {}
    assert counts(sweep_at(local(2026, 3, 3, 14, 30))) == {"clocks": 1, "warnings": 1, "messages": 1}
    assert messages("supervision.deadline_warning") == [("handler", f"Case {order.case.number}: 50 % of the time for Sign-for is used")]
    sign_for.refresh_from_db()
    assert (sign_for.warned_half_at, sign_for.warned_late_at, sign_for.next_check_at) == (local(2026, 3, 3, 14, 30), None, local(2026, 3, 3, 16, 36))
    warning = CaseEvent.objects.get(data__supervision="deadline_warning")
    assert (warning.visibility, warning.unit, warning.work_order_id, warning.data) == (
        Visibility.UNIT,
        order.unit,
        order.pk,
        {"supervision": "deadline_warning", "clock": "sign_for", "share": 50},
    )

    assert counts(sweep_at(local(2026, 3, 3, 16, 36))) == {"clocks": 1, "warnings": 1, "messages": 1}

    # Tuesday 18:00: the sign-for deadline passes (automatic 催办) and half the first-contact time is used.
    assert counts(sweep_at(local(2026, 3, 3, 18))) == {"clocks": 2, "warnings": 1, "reminders": 1, "messages": 2}
    assert messages("supervision.deadline_missed") == [("handler", f"Reminder: case {order.case.number} is overdue (Sign-for)")]
    sign_for.refresh_from_db()
    assert (sign_for.due_notified_at, sign_for.breached, sign_for.next_check_at) == (local(2026, 3, 3, 18), True, None)
    # Two working days after the missed deadline the work order would go to its parent unit.
    assert ledger() == [("reminder", "sign_for", "坪山区妇联", local(2026, 3, 3, 18), False, local(2026, 3, 5, 18))]
    reminder_event = CaseEvent.objects.get(data__supervision="chase")
    assert (reminder_event.visibility, reminder_event.actor, reminder_event.unit.name) == (Visibility.HANDLING, None, "坪山区妇联")
    assert reminder_event.text == "Reminder (催办): the Sign-for deadline (2026-03-03 18:00) has passed."
    audit = AuditEntry.objects.get(event="supervision.reminder")
    assert (audit.actor_id, audit.unit_id, audit.changes["clock"], audit.changes["automatic"]) == (None, org.units["pingshan"].pk, "sign_for", True)

    # Running it again sends nothing twice.
    before = everything()
    assert counts(sweep_at(local(2026, 3, 3, 18, 5))) == {}
    assert everything() == before

    # Wednesday 18:00: the first contact is overdue too; its 80 % warning was overtaken and is not sent.
    assert counts(sweep_at(local(2026, 3, 4, 18))) == {"clocks": 1, "reminders": 1, "messages": 1}
    assert len(messages("supervision.deadline_warning")) == 3

    # Thursday 18:00: two working days past the oldest missed deadline: 督办 by the parent unit.
    report = sweep_at(local(2026, 3, 5, 18))
    assert counts(report) == {"clocks": 2, "chases": 1, "warnings": 2, "supervisions": 1, "messages": 5}
    assert sorted(messages("supervision.supervision")) == [
        ("dispatcher", f"Under supervision: case {order.case.number} (坪山街道妇联)"),
        ("handler", f"Under supervision: case {order.case.number} (坪山街道妇联)"),
        ("supervisor", f"Under supervision: case {order.case.number} (坪山街道妇联)"),
    ]

    # Friday 18:00: the first contact's reminder would escalate too, but the work order already is under supervision.
    assert counts(sweep_at(local(2026, 3, 6, 18))) == {"clocks": 2, "chases": 1, "warnings": 2, "messages": 2}
    # Monday 9 March 18:00: update and resolution run out.
    assert counts(sweep_at(local(2026, 3, 9, 18))) == {"clocks": 2, "reminders": 2, "messages": 2}
    # Tuesday 10 March 18:00: five working days past the oldest missed deadline: 挂牌督办 by the city.
    assert counts(sweep_at(local(2026, 3, 10, 18))) == {"chases": 1, "listings": 1, "messages": 2}
    assert sorted(messages("supervision.listed")) == [
        ("city_supervisor", f"Listed for supervision by Shenzhen Women's Federation: case {order.case.number}"),
        ("handler", f"Listed for supervision by Shenzhen Women's Federation: case {order.case.number}"),
    ]

    assert ledger() == [
        ("reminder", "sign_for", "坪山区妇联", local(2026, 3, 3, 18), False, None),
        ("reminder", "first_contact", "坪山区妇联", local(2026, 3, 4, 18), False, None),
        ("supervision", "sign_for", "坪山区妇联", local(2026, 3, 5, 18), True, None),
        ("reminder", "update", "坪山区妇联", local(2026, 3, 9, 18), False, local(2026, 3, 11, 18)),
        ("reminder", "resolution", "坪山区妇联", local(2026, 3, 9, 18), False, local(2026, 3, 11, 18)),
        ("listed", "sign_for", "深圳市妇联", local(2026, 3, 10, 18), True, None),
    ]
    assert Counter(CaseEvent.objects.filter(case=order.case, data__supervision="chase").values_list("data__level", flat=True)) == {
        "reminder": 4,
        "supervision": 1,
        "listed": 1,
    }
    assert Counter(AuditEntry.objects.filter(event__startswith="supervision.").values_list("event", flat=True)) == {
        "supervision.deadline_warning": 7,
        "supervision.reminder": 4,
        "supervision.supervision": 1,
        "supervision.listed": 1,
    }
    # The last two reminders reach their step: the work order is already under supervision and listed.
    assert counts(sweep_at(local(2026, 3, 11, 18))) == {"chases": 2}
    assert [c[5] for c in ledger()] == [None] * 6
    # Nothing is left to do: no clock and no chase is due any more, however late the sweep runs.
    assert counts(sweep_at(local(2026, 4, 30, 18))) == {}


def test_work_done_in_time_stops_the_climb(order, personas):
    sweep_at(local(2026, 3, 3, 18))
    assert [c[0] for c in ledger()] == ["reminder"]
    with time_machine.travel(local(2026, 3, 4, 9, 30), tick=False):
        services.sign_for_work_order(work_order=order, by=personas["handler"])
        services.record_first_contact(work_order=order, by=personas["handler"], note="电话联系。")

    # Thursday 18:00: the reminder's step comes, but no running clock is overdue: it climbs no further.
    # (Only the resolution clock reached half its time; the update clock restarted at the first contact.)
    assert counts(sweep_at(local(2026, 3, 5, 18))) == {"clocks": 1, "chases": 1, "warnings": 1, "messages": 1}
    assert [(c[0], c[5]) for c in ledger()] == [("reminder", None)]
    assert not Message.objects.filter(event="supervision.supervision").exists()


def test_a_paused_overdue_work_order_waits_instead_of_climbing(order, personas):
    with time_machine.travel(local(2026, 3, 3, 9, 30), tick=False):
        services.sign_for_work_order(work_order=order, by=personas["handler"])
    sweep_at(local(2026, 3, 4, 18))  # the first contact is overdue: 催办
    reminder = Chase.objects.get()
    assert (reminder.clock.kind, reminder.escalate_at) == (ClockKind.FIRST_CONTACT, local(2026, 3, 6, 18))
    with time_machine.travel(local(2026, 3, 5, 10), tick=False):
        deadline_services.pause_clocks(work_order=order, by=personas["handler"], reason_code=PauseReason.PETITIONER)

    report = sweep_at(local(2026, 3, 6, 18))
    assert (report.chases, report.supervisions) == (1, 0)
    reminder.refresh_from_db()
    assert reminder.escalate_at == local(2026, 3, 6, 18) + PAUSED_RECHECK
    assert not Chase.objects.filter(level=ChaseLevel.SUPERVISION).exists()


def test_an_emergency_not_signed_for_in_30_minutes_escalates_at_once(org, personas):
    duty_officer = UserFactory(username="duty_officer", full_name="值班员")
    Membership.objects.create(user=duty_officer, unit=org.units["city"], role=Role.DISPATCHER)
    DutyShift.objects.create(unit=org.units["pingshan"], user=duty_officer, starts_at=local(2026, 3, 2, 8), ends_at=local(2026, 3, 2, 20))
    with time_machine.travel(SENT, tick=False):
        order = dispatched_order(org, personas, urgency=Urgency.EMERGENCY)
    assert clock(order, ClockKind.SIGN_FOR).due_at == local(2026, 3, 2, 10, 30)

    # At 10:29 the 80 % warning goes (the 50 % one it overtook does not).
    assert counts(sweep_at(local(2026, 3, 2, 10, 29))) == {"clocks": 1, "warnings": 1, "messages": 1}
    assert counts(sweep_at(local(2026, 3, 2, 10, 30))) == {"clocks": 1, "reminders": 1, "supervisions": 1, "emergencies": 1, "messages": 4}

    assert ledger() == [
        ("reminder", "sign_for", "坪山区妇联", local(2026, 3, 2, 10, 30), False, None),
        # Listed by the city five days (24/7) after the missed deadline if it is still not done.
        ("supervision", "sign_for", "坪山区妇联", local(2026, 3, 2, 10, 30), True, local(2026, 3, 7, 10, 30)),
    ]
    subject = f"Emergency not signed for: case {order.case.number} (坪山街道妇联)"
    assert sorted(messages("supervision.emergency_unsigned")) == [("dispatcher", subject), ("duty_officer", subject), ("supervisor", subject)]
    assert messages("supervision.deadline_missed") == [("handler", f"Reminder: case {order.case.number} is overdue (Sign-for)")]
    event = CaseEvent.objects.get(data__level="supervision")
    assert event.data == {
        "supervision": "chase",
        "chase": Chase.objects.get(level="supervision").pk,
        "level": "supervision",
        "automatic": True,
        "emergency": True,
        "on_duty": duty_officer.pk,
    }
    assert counts(sweep_at(local(2026, 3, 2, 10, 31))) == {}


def test_an_emergency_signed_for_in_time_is_not_escalated(org, personas):
    with time_machine.travel(SENT, tick=False):
        order = dispatched_order(org, personas, urgency=Urgency.EMERGENCY)
    with time_machine.travel(local(2026, 3, 2, 10, 20), tick=False):
        services.sign_for_work_order(work_order=order, by=personas["handler"])
    report = sweep_at(local(2026, 3, 2, 10, 31))
    assert (report.reminders, report.supervisions, report.emergencies) == (0, 0, 0)
    assert not Chase.objects.exists()
    assert not Message.objects.filter(event="supervision.emergency_unsigned").exists()


# --- proportional to what is due ------------------------------------------------------------------


def _queries_of_sweep(instant: datetime.datetime) -> int:
    with time_machine.travel(instant, tick=False), CaptureQueriesContext(connection) as queries:
        sweep()
    return len(queries)


@pytest.mark.parametrize("waiting", [2, 12])
def test_an_idle_sweep_reads_three_index_ranges_however_many_clocks_wait(org, personas, django_assert_num_queries, waiting):
    with time_machine.travel(SENT, tick=False):
        for n in range(waiting):
            dispatched_order(org, personas, summary=f"第{n}件。")
    assert WorkOrderClock.objects.count() == 4 * waiting
    # One claim of the due clocks, one of the due chases and one of the due safety reviews,
    # each in its own transaction (savepoints in a test).
    with time_machine.travel(local(2026, 3, 3, 14), tick=False), django_assert_num_queries(9) as captured:
        report = sweep()
    assert counts(report) == {}
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert [sql.split(" FROM ")[1].split()[0] for sql in selects] == ['"supervision_workorderclock"', '"supervision_chase"', '"supervision_safetyfollowup"']


def test_a_sweep_reads_only_the_due_clocks(org, personas):
    with time_machine.travel(SENT, tick=False):
        due = dispatched_order(org, personas, summary="到期的一件。")
    with time_machine.travel(local(2026, 3, 3, 12), tick=False):
        for n in range(3):
            dispatched_order(org, personas, summary=f"较新的第{n}件。")
    few = _queries_of_sweep(local(2026, 3, 3, 14, 30))
    assert Message.objects.filter(event="supervision.deadline_warning").count() == 1
    Message.objects.all().delete()
    WorkOrderClock.objects.filter(work_order=due, kind=ClockKind.SIGN_FOR).update(warned_half_at=None, next_check_at=local(2026, 3, 3, 14, 30))

    with time_machine.travel(local(2026, 3, 3, 12), tick=False):
        for n in range(12):
            dispatched_order(org, personas, summary=f"更多的第{n}件。")
    assert few == _queries_of_sweep(local(2026, 3, 3, 14, 30))
    assert Message.objects.filter(event="supervision.deadline_warning").count() == 1


@pytest.mark.postgres
def test_the_claims_use_the_partial_indexes(order, personas):
    from tests.cases.test_queries import plan

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    now = local(2026, 3, 3, 18)
    clocks_plan = plan(claim_query(due_clocks(now), CLOCK_ORDER_BY, 100))
    assert "clock_next_check" in clocks_plan, clocks_plan
    assert "Seq Scan on supervision_workorderclock" not in clocks_plan, clocks_plan
    assert "LockRows" in clocks_plan, clocks_plan
    assert str(claim_query(due_clocks(now), CLOCK_ORDER_BY, 100).query).endswith('FOR UPDATE OF "supervision_workorderclock" SKIP LOCKED')
    sweep_at(now)
    chases_plan = plan(claim_query(due_chases(local(2026, 3, 5, 18)), CHASE_ORDER_BY, 100))
    assert "chase_escalate_at" in chases_plan, chases_plan
    assert "Seq Scan on supervision_chase" not in chases_plan, chases_plan


def test_a_batch_reads_each_calendar_and_each_wording_once(org, personas):
    """Twelve work orders of one unit, all past their sign-for deadline: the batch reads the calendar and each wording once."""
    with time_machine.travel(SENT, tick=False):
        for n in range(12):
            dispatched_order(org, personas, summary=f"同时到期的第{n}件。")
    with time_machine.travel(local(2026, 3, 4, 10), tick=False), CaptureQueriesContext(connection) as captured:
        report = sweep()
    assert report.reminders >= 12
    tables = [q["sql"].split(" WHERE ")[0] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    # effective_calendar reads the region chain's calendars (then their exceptions): once for the batch.
    assert sum('FROM "org_workingcalendar"' in sql for sql in tables) == 1
    events = set(Message.objects.values_list("event", flat=True))
    assert sum('FROM "notifications_messagetemplate"' in sql for sql in tables) == len(events)
