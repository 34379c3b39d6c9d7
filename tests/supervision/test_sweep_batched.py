"""The deadline sweep works a batch of due clocks a table at a time, and falls back to one clock at a time when that fails.

Work orders are sent on Monday 2 March 2026 at 10:00 (see test_sweep.py); on Wednesday 4 March
at 10:00 their sign-for deadline (Tuesday 18:00) has passed and half their first-contact time is
used: each work order has two clocks due, a reminder (催办) and a warning.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rightscare.audit.models import AppendOnlyError, AuditAction, AuditEntry
from rightscare.audit.services import new_entry, record, record_many, seal
from rightscare.audit.verification import verify_chain
from rightscare.cases.deadlines import calendar_for
from rightscare.cases.models import CaseEvent, WorkOrder
from rightscare.core import memo
from rightscare.notifications.models import Message
from rightscare.notifications.services import messages_to_users, queue_message, queue_messages
from rightscare.org import calendar_services
from rightscare.org.calendars import effective_calendar
from rightscare.org.models import CalendarException, DayKind, WorkingCalendar
from rightscare.supervision import sweep as sweep_module
from rightscare.supervision.models import Chase, ClockKind, WorkOrderClock
from rightscare.supervision.sweep import SweepReport, sweep
from tests.supervision.chasing_helpers import dispatched_order, local, messages_in_english  # noqa: F401 - autouse

SENT = local(2026, 3, 2, 10)
SWEPT = local(2026, 3, 4, 10)
#: The units the work orders are moved to in turn: two with a parent unit, two without (supervised by the sender).
UNITS = ("pingshan_street", "longhua_street", "pingshan_community", "pingshan_hr")


def orders_of_several_units(org: Any, personas: Any, count: int) -> list[WorkOrder]:
    """``count`` work orders sent at ``SENT``, spread over the units of ``UNITS`` (moved there after dispatch)."""
    with time_machine.travel(SENT, tick=False):
        orders = [dispatched_order(org, personas, summary=f"第{n}件。") for n in range(count)]
    for n, order in enumerate(orders):
        WorkOrder.objects.filter(pk=order.pk).update(unit=org.units[UNITS[n % len(UNITS)]])
    return orders


def swept(instant: datetime.datetime) -> tuple[SweepReport, int]:
    """The sweep's report at ``instant`` and the number of SQL statements it ran."""
    with time_machine.travel(instant, tick=False), CaptureQueriesContext(connection) as captured:
        report = sweep()
    return report, len(captured)


def written_for(clock: WorkOrderClock) -> tuple[int, int, int]:
    """Chases, chase timeline events and audit entries written for ``clock``."""
    chases = list(Chase.objects.filter(clock=clock).values_list("pk", flat=True))
    return (
        len(chases),
        CaseEvent.objects.filter(data__chase__in=chases).count(),
        AuditEntry.objects.filter(object_type="supervision.chase", object_id__in=[str(pk) for pk in chases]).count(),
    )


def test_a_batch_runs_as_many_statements_for_twenty_four_due_work_orders_as_for_three(org, personas):
    """A constant number of statements per batch, whatever the number of due clocks in it.

    Twenty-four, not more: SQLite takes at most 999 parameters a statement, and Django splits
    a longer ``bulk_create`` (48 audit entries of 17 columns fit in one). PostgreSQL has no such limit.
    """
    orders = orders_of_several_units(org, personas, 3 + 24)
    few, many = orders[:3], orders[3:]
    clocks = WorkOrderClock.objects.filter(work_order__in=many)
    waiting = dict(clocks.values_list("pk", "next_check_at"))
    clocks.update(next_check_at=None)  # the twenty-four wait while the three are swept

    report, statements_for_three = swept(SWEPT)
    assert (report.clocks, report.reminders, report.warnings, report.failed) == (6, 3, 3, 0)

    for pk, next_check_at in waiting.items():
        WorkOrderClock.objects.filter(pk=pk).update(next_check_at=next_check_at)
    report, statements_for_many = swept(SWEPT)
    assert (report.clocks, report.reminders, report.warnings, report.failed) == (48, 24, 24, 0)
    assert statements_for_many == statements_for_three

    # Every work order got its one reminder, whichever unit it is with; the units without a parent are chased by the sender.
    assert Chase.objects.filter(clock__kind=ClockKind.SIGN_FOR).count() == 27
    chasing = dict(Chase.objects.values_list("work_order_id", "by_unit__name"))
    assert {chasing[order.pk] for order in few + many} == {org.units["pingshan"].name, org.units["longhua"].name}
    assert chasing[orders[2].pk] == org.units["pingshan"].name  # pingshan_community: no parent, sent by Pingshan


def test_a_batch_writes_what_the_clocks_one_by_one_wrote(org, personas):
    """Timeline, audit and inbox in the order of the clocks, and an audit log the sealer seals and verifies."""
    orders = orders_of_several_units(org, personas, 4)
    report, _statements = swept(SWEPT)
    assert (report.reminders, report.warnings, report.messages) == (4, 4, Message.objects.count())
    by_clock = list(WorkOrderClock.objects.filter(work_order__in=orders).order_by("next_check_at", "id"))
    events = list(CaseEvent.objects.filter(data__has_key="supervision").order_by("id").values_list("work_order_id", "data__supervision"))
    assert len(events) == 8
    # One event per acting clock, in the order the clocks were claimed.
    claimed = [
        (c.work_order_id, "chase" if c.kind == ClockKind.SIGN_FOR else "deadline_warning")
        for c in by_clock
        if c.kind in (ClockKind.SIGN_FOR, ClockKind.FIRST_CONTACT)
    ]
    assert sorted(events) == sorted(claimed)
    entries = AuditEntry.objects.filter(event__startswith="supervision.")
    assert entries.count() == 8 and not entries.filter(chain_no__isnull=False).exists()
    assert seal() >= 8
    assert verify_chain().ok


def reminded(case_number: str) -> list[str]:
    """Who got the automatic reminder about ``case_number``."""
    return sorted(m.to_user.username for m in Message.objects.filter(event="supervision.deadline_missed").select_related("to_user") if case_number in m.subject)


def test_a_clock_that_fails_in_a_batch_is_left_for_the_next_run_and_the_others_are_written(org, personas, monkeypatch, caplog):
    orders = orders_of_several_units(org, personas, 5)
    bad = WorkOrderClock.objects.get(work_order=orders[4], kind=ClockKind.SIGN_FOR)  # with the handler's street federation
    before = WorkOrderClock.objects.filter(pk=bad.pk).values().get()
    real_context = sweep_module._clock_context

    def failing_context(clock: WorkOrderClock, order: WorkOrder) -> dict[str, Any]:
        if clock.pk == bad.pk:
            raise RuntimeError("the wording of this one cannot be rendered")
        return real_context(clock, order)

    monkeypatch.setattr(sweep_module, "_clock_context", failing_context)
    with caplog.at_level(logging.WARNING, logger="rightscare.supervision.sweep"):
        report, _statements = swept(SWEPT)
    assert "a batch of 10 clocks failed; trying them one at a time" in caplog.text
    assert f"supervision.WorkOrderClock {bad.pk} failed" in caplog.text
    # The batch rolled back as a whole and was done again clock by clock: the failing clock is counted, none of its steps.
    assert (report.clocks, report.reminders, report.warnings, report.failed) == (10, 4, 5, 1)
    assert WorkOrderClock.objects.filter(pk=bad.pk).values().get() == before
    assert written_for(bad) == (0, 0, 0)
    assert reminded(orders[4].case.number) == []
    for order in orders[:4]:
        assert written_for(WorkOrderClock.objects.get(work_order=order, kind=ClockKind.SIGN_FOR)) == (1, 1, 1)
    assert reminded(orders[0].case.number) == ["handler"]
    assert CaseEvent.objects.filter(data__supervision="deadline_warning").count() == 5
    sent = Message.objects.count()

    # Repaired, the next run sends the one reminder left, and nothing twice.
    monkeypatch.setattr(sweep_module, "_clock_context", real_context)
    report, _statements = swept(SWEPT + datetime.timedelta(minutes=1))
    assert (report.clocks, report.reminders, report.warnings, report.failed, report.messages) == (1, 1, 0, 0, 1)
    assert written_for(bad) == (1, 1, 1)
    assert reminded(orders[4].case.number) == ["handler"]
    assert (Chase.objects.count(), Message.objects.count()) == (5, sent + 1)


def test_the_batch_reads_each_region_the_calendar_calendar_for_reads(org):
    """The calendars of a batch's regions, read together, are the ones ``effective_calendar`` reads for each region."""
    national = calendar_services.ensure_national_calendar()
    city = WorkingCalendar.objects.create(region=org.regions["shenzhen"], working_periods=[["08:30", "12:00"], ["13:30", "17:30"]])
    district = WorkingCalendar.objects.create(region=org.regions["pingshan"], time_zone="Asia/Shanghai")
    CalendarException.objects.create(calendar=national, date=datetime.date(2026, 4, 6), kind=DayKind.HOLIDAY, name="清明节")
    CalendarException.objects.create(calendar=city, date=datetime.date(2026, 4, 6), kind=DayKind.WORKDAY, name="调休")
    CalendarException.objects.create(calendar=district, date=datetime.date(2026, 4, 7), kind=DayKind.HOLIDAY, name="区假日")
    units = list(org.units.values())
    expected = {unit.pk: effective_calendar(unit.region) for unit in units}
    assert len(set(expected.values())) == 2  # Shenzhen's, Pingshan's (every unit is in Shenzhen)

    with memo.one_read_each(), CaptureQueriesContext(connection) as captured:
        sweep_module._remember_calendars(units)
        read = {unit.pk: calendar_for(unit) for unit in units}
    assert read == expected
    # The calendars of every region at once, then the exceptions once per distinct chain.
    assert len(captured) == 1 + 2


# --- the bulk writers the batch uses -------------------------------------------------------------


def test_queued_together_the_messages_are_those_queue_message_writes_one_by_one(personas):
    context = {"case_number": "SZ-2026-1", "unit": "坪山街道妇联", "clock": "Sign-for", "due_at": local(2026, 3, 3, 18)}
    users = [personas["handler"], personas["supervisor"]]
    one_by_one = [queue_message(event="supervision.deadline_missed", to_user=user, channel="inbox", context=context) for user in users]
    together = queue_messages(messages_to_users(event="supervision.deadline_missed", to_users=users, channel="inbox", context=context))

    def seen(message: Message) -> tuple[Any, ...]:
        message = Message.objects.get(pk=message.pk)
        return (message.event, message.channel, message.language, message.to_user_id, message.subject, message.body, message.status, message.attempts)

    assert [seen(m) for m in together] == [seen(m) for m in one_by_one]
    assert together[0].subject == "Reminder: case SZ-2026-1 is overdue (Sign-for)"
    assert len({m.key for m in together + one_by_one}) == 4
    with pytest.raises(ValueError, match="unknown event"):
        messages_to_users(event="supervision.nothing", to_users=users, channel="inbox", context=context)
    with pytest.raises(ValueError, match="unknown channel"):
        messages_to_users(event="supervision.deadline_missed", to_users=users, channel="pigeon", context=context)


def test_audit_entries_appended_together_are_new_and_unsealed(org, personas):
    unit = org.units["pingshan"]
    entries = record_many(
        [new_entry(actor=personas["supervisor"], action=AuditAction.OTHER, event=f"test.bulk_{n}", unit=unit, changes={"n": n}) for n in range(3)]
    )
    single = record(actor=personas["supervisor"], action=AuditAction.OTHER, event="test.bulk_3", unit=unit, changes={"n": 3})
    stored = list(AuditEntry.objects.filter(event__startswith="test.bulk_").order_by("id"))
    assert [e.pk for e in stored] == [*(e.pk for e in entries), single.pk]
    assert {(e.actor_id, e.actor_label, e.unit_id, e.unit_label, e.chain_no) for e in stored} == {
        (personas["supervisor"].pk, single.actor_label, unit.pk, single.unit_label, None)
    }
    with pytest.raises(AppendOnlyError):
        record_many([stored[0]])
    with pytest.raises(ValueError, match="unknown audit action"):
        new_entry(actor=None, action="shout")
