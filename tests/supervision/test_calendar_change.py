"""A changed working calendar moves the open, unpaused deadlines of the regions it governs, re-measures
the handling time of stopped clocks, and the recomputation is audited.

The calendar services tell their listeners after commit; ours enqueues the
``recompute_deadlines`` task, which the test then runs as the worker would.
"""

from __future__ import annotations

import datetime

import pytest
from django_tasks_db.models import DBTaskResult

from rightscare.audit.models import AuditEntry
from rightscare.cases import services as case_services
from rightscare.cases.models import Category, Urgency
from rightscare.org import calendar_services
from rightscare.supervision import clocks
from rightscare.supervision.models import ClockKind
from rightscare.supervision.tasks import recompute_deadlines
from tests.supervision.clock_helpers import at, clock, dues, frozen, national_calendar, send, sign

pytestmark = pytest.mark.usefixtures("national_calendar")
assert national_calendar

MONDAY_10 = at(2026, 3, 2, 10)
TASK_PATH = "rightscare.supervision.tasks.recompute_deadlines"


def longhua_order(org, personas, *, urgency=Urgency.NORMAL):
    with frozen(MONDAY_10):
        case = case_services.register_case(
            by=personas["operator_twin"],
            unit=org.units["longhua"],
            request_type="help",
            category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
            summary="拖欠工资。",
            region=org.regions["longhua_street"],
            urgency=urgency,
        )
        [order] = case_services.dispatch_case(
            case=case, by=personas["dispatcher_twin"], dispatching_unit=org.units["longhua"], lead=org.units["longhua_street"]
        )
    return order


def run_queued_recomputations() -> list[int]:
    """Run the queued recomputations as a worker would (oldest first), and return what each moved."""
    moved = []
    for row in DBTaskResult.objects.filter(task_path=TASK_PATH, status="READY").order_by("enqueued_at"):
        moved.append(recompute_deadlines.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"]))
        row.delete()
    return moved


def test_a_new_holiday_moves_the_open_deadlines_of_the_region_only(org, personas, django_capture_on_commit_callbacks):
    pingshan = send(org, personas, when=MONDAY_10)
    longhua = longhua_order(org, personas)
    with frozen(at(2026, 3, 2, 12)):
        calendar = calendar_services.create_region_calendar(by=personas["system_admin"], region=org.regions["pingshan"])
        DBTaskResult.objects.filter(task_path=TASK_PATH).delete()
        with django_capture_on_commit_callbacks(execute=True):
            calendar_services.add_calendar_day(
                by=personas["system_admin"], calendar=calendar, day=datetime.date(2026, 3, 3), kind="holiday", name="坪山区纪念日"
            )
        [queued] = DBTaskResult.objects.filter(task_path=TASK_PATH)
        assert queued.args_kwargs["kwargs"] == {"calendar_id": calendar.pk, "region_path": org.regions["pingshan"].path, "dates": ["2026-03-03"]}
        assert run_queued_recomputations() == [4]
    # Tuesday 3 March is now a day off in Pingshan: every working-day deadline there moves one working day later.
    assert dues(pingshan) == {
        ClockKind.SIGN_FOR: at(2026, 3, 4, 18),
        ClockKind.FIRST_CONTACT: at(2026, 3, 5, 18),
        ClockKind.UPDATE: at(2026, 3, 10, 18),
        ClockKind.RESOLUTION: at(2026, 3, 10, 18),
    }
    assert clock(pingshan, ClockKind.RESOLUTION).original_due_at == at(2026, 3, 9, 18)
    assert dues(longhua)[ClockKind.RESOLUTION] == at(2026, 3, 9, 18)
    entry = AuditEntry.objects.get(event="supervision.recompute_deadlines")
    assert (entry.actor_id, entry.object_id, entry.reason) == (None, str(calendar.pk), "working calendar changed")
    assert entry.changes == {"dates": ["2026-03-03"], "open_clocks": 4, "due_times_moved": 4, "stopped_clocks": 0}


def test_the_handling_time_of_stopped_clocks_is_measured_again(org, personas, django_capture_on_commit_callbacks):
    order = send(org, personas, when=MONDAY_10)
    sign(order, personas, at(2026, 3, 4, 10))
    # Monday 10:00–18:00 (6 h), Tuesday (7 h), Wednesday 09:00–10:00 (1 h); missed (due Tuesday 18:00).
    assert (clock(order, ClockKind.SIGN_FOR).elapsed_working_seconds, clock(order, ClockKind.SIGN_FOR).breached) == (14 * 3600, True)
    with frozen(at(2026, 3, 4, 12)):
        calendar = calendar_services.ensure_national_calendar()
        with django_capture_on_commit_callbacks(execute=True):
            calendar_services.add_calendar_day(by=personas["system_admin"], calendar=calendar, day=datetime.date(2026, 3, 3), kind="holiday", name="测试假日")
        run_queued_recomputations()
    sign_for = clock(order, ClockKind.SIGN_FOR)
    # The deadline a stopped clock was held to stays; its handling time loses Tuesday.
    assert (sign_for.elapsed_working_seconds, sign_for.due_at, sign_for.breached) == (7 * 3600, at(2026, 3, 3, 18), True)
    assert AuditEntry.objects.get(event="supervision.recompute_deadlines").changes["stopped_clocks"] == 1


def test_new_working_hours_move_every_region_and_paused_clocks_wait_for_their_resumption(org, personas, django_capture_on_commit_callbacks):
    from rightscare.supervision.services import pause_clocks, resume_clocks

    urgent = send(org, personas, when=MONDAY_10, urgency=Urgency.URGENT)
    longhua = longhua_order(org, personas, urgency=Urgency.URGENT)
    paused = sign(send(org, personas, when=MONDAY_10, urgency=Urgency.URGENT), personas, at(2026, 3, 2, 10, 30))
    with frozen(at(2026, 3, 2, 11)):
        pause_clocks(work_order=paused, by=personas["handler"], reason_code="petitioner")
        national = calendar_services.ensure_national_calendar()
        with django_capture_on_commit_callbacks(execute=True):
            calendar_services.update_calendar(
                by=personas["system_admin"],
                calendar=national,
                time_zone="Asia/Shanghai",
                working_periods=((datetime.time(9), datetime.time(12)), (datetime.time(13), datetime.time(18))),
                covered_until=national.covered_until,
            )
        [queued] = DBTaskResult.objects.filter(task_path=TASK_PATH)
        assert queued.args_kwargs["kwargs"]["dates"] is None
        run_queued_recomputations()
    # Four working hours from Monday 10:00 now end at 15:00 (10–12, 13–15), in Pingshan and in Longhua.
    assert clock(urgent, ClockKind.SIGN_FOR).due_at == at(2026, 3, 2, 15)
    assert clock(longhua, ClockKind.SIGN_FOR).due_at == at(2026, 3, 2, 15)
    # The paused order's resolution clock is left alone while paused, then recomputed on the new hours when it resumes.
    assert clock(paused, ClockKind.RESOLUTION).due_at == at(2026, 3, 9, 18)
    with frozen(at(2026, 3, 2, 15)):
        resume_clocks(work_order=paused, by=personas["handler"])
    # Paused 11:00–15:00 on Monday; the working days counted from Tuesday are untouched.
    assert clock(paused, ClockKind.RESOLUTION).due_at == at(2026, 3, 9, 18)
    assert clock(paused, ClockKind.FIRST_CONTACT).due_at == at(2026, 3, 3, 18)


def test_the_listener_never_fails_the_calendar_edit(org, personas, monkeypatch):
    class Broken:
        def enqueue(self, **kwargs):
            raise RuntimeError("queue down")

    monkeypatch.setattr("rightscare.supervision.tasks.recompute_deadlines", Broken())
    change = calendar_services.CalendarChange(calendar_id=1, region_path=None, dates=None)
    clocks.on_calendar_changed(change)  # logged, not raised
    assert not DBTaskResult.objects.filter(task_path=TASK_PATH).exists()
