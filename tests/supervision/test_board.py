"""The supervision board, a supervisor's reminder and the unit's answer through the pages.

A Pingshan street work order sent on Monday 2 March 2026 at 10:00 and left alone: by
Thursday 5 March 18:00 its sign-for and first-contact deadlines have passed (automatic
reminders) and it is under supervision by the Pingshan district federation. The pages are
read on Thursday at 19:00.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rightscare.audit.models import AuditEntry
from rightscare.cases import services
from rightscare.cases.models import CaseEvent, Visibility
from rightscare.notifications.models import Message
from rightscare.supervision import board
from rightscare.supervision.models import Chase, ChaseLevel
from rightscare.supervision.sweep import sweep
from tests.conftest import log_in
from tests.supervision.chasing_helpers import dispatched_order, local, messages_in_english  # noqa: F401 - autouse

SENT = local(2026, 3, 2, 10)
SWEPT = local(2026, 3, 5, 18)
READ = local(2026, 3, 5, 19)


@pytest.fixture
def order(org, personas):
    with time_machine.travel(SENT, tick=False):
        order = dispatched_order(org, personas)
    for day, hour in ((3, 18), (4, 18), (5, 18)):
        with time_machine.travel(local(2026, 3, day, hour), tick=False):
            sweep()
    return order


@pytest.fixture
def at_read():
    with time_machine.travel(READ, tick=False):
        yield


def state() -> tuple:
    """What the chasing pages may change."""
    return (
        sorted(Chase.objects.values_list("pk", "level", "by_id", "comment", "answer", "answered_at")),
        Message.objects.count(),
        CaseEvent.objects.count(),
        AuditEntry.objects.filter(event__startswith="supervision.").count(),
    )


def remind(client, order, comment: str = "", key: str = "") -> object:
    return client.post(reverse("supervision_remind", args=[order.pk]), {"comment": comment, "idempotency_key": key or uuid.uuid4().hex})


def test_the_supervisor_sees_what_is_overdue_in_her_subtree_by_unit(client, order, org, personas, at_read):
    assert board.unit_summaries(by=personas["supervisor"]) == [board.UnitSummary(org.units["pingshan_street"], 1, 1, 1, 0)]
    log_in(client, personas["supervisor"])
    response = client.get(reverse("supervision_board"))
    assert response.status_code == 200
    page = response.content.decode()
    assert order.case.number in page
    assert "坪山街道妇联" in page
    # Sign-for due Tuesday 18:00: Wednesday and Thursday are two working days of 7 hours.
    assert "due 03/03/2026 6 p.m." in page and "overdue by 2.0 working days" in page
    assert "due 03/04/2026 6 p.m." in page and "overdue by 1.0 working days" in page
    assert "Supervision (督办)" in page
    assert reverse("supervision_remind", args=[order.pk]) in page
    [row] = [board.row_of(o, READ, {}) for o in board.with_details(board.overdue_work_orders(by=personas["supervisor"], at=READ), READ)]
    assert ([(c.kind, c.overdue_days) for c in row.clocks], row.level) == ([("sign_for", Decimal("2.0")), ("first_contact", Decimal("1.0"))], "supervision")

    street = org.units["pingshan_street"]
    assert order.case.number in client.get(reverse("supervision_board"), {"unit": street.pk}).content.decode()
    assert order.case.number not in client.get(reverse("supervision_board"), {"unit": org.units["pingshan_hr"].pk}).content.decode()


def test_a_sibling_district_supervisor_sees_and_chases_nothing_of_pingshan(client, order, org, personas, at_read):
    twin = personas["supervisor_twin"]
    assert board.unit_summaries(by=twin) == []
    assert not board.overdue_work_orders(by=twin).exists()
    log_in(client, twin)
    page = client.get(reverse("supervision_board")).content.decode()
    assert order.case.number not in page and "坪山" not in page
    assert "Nothing is overdue in the units you supervise." in page
    assert client.get(reverse("supervision_board"), {"unit": org.units["pingshan_street"].pk}).status_code == 404
    before = state()
    assert remind(client, order, "龙华来催。").status_code == 404
    assert client.get(reverse("supervision_remind", args=[order.pk])).status_code == 404
    supervision = Chase.objects.get(level=ChaseLevel.SUPERVISION)
    assert client.post(reverse("chase_answer", args=[supervision.pk]), {"answer": "不是我们的。"}).status_code == 404
    assert state() == before


@pytest.mark.parametrize("persona", ["handler", "dispatcher", "operator", "system_admin"])
def test_only_supervisors_open_the_board(client, order, personas, persona, at_read):
    log_in(client, personas[persona])
    assert client.get(reverse("supervision_board")).status_code == 403


def test_a_handler_cannot_send_a_reminder(client, order, personas, at_read):
    log_in(client, personas["handler"])
    before = state()
    assert remind(client, order, "自己催自己。").status_code == 403
    assert state() == before


def test_a_double_click_sends_one_reminder(client, order, personas, at_read):
    log_in(client, personas["supervisor"])
    key = uuid.uuid4().hex
    first = remind(client, order, "请今天内签收并回复原因。", key)
    assert first.status_code == 302 and first["Location"] == reverse("supervision_board") + f"#work-order-{order.pk}"
    second = remind(client, order, "请今天内签收并回复原因。", key)
    assert second.status_code == 302
    [chase] = Chase.objects.filter(automatic=False)
    assert (chase.level, chase.by, chase.by_unit.name, chase.comment, chase.needs_answer, chase.at) == (
        ChaseLevel.REMINDER,
        personas["supervisor"],
        "坪山区妇联",
        "请今天内签收并回复原因。",
        True,
        READ,
    )
    assert list(Message.objects.filter(event="supervision.reminder").values_list("to_user__username", "subject")) == [
        ("handler", f"Reminder from Pingshan District Women's Federation: case {order.case.number}")
    ]
    event = CaseEvent.objects.get(data__chase=chase.pk)
    assert (event.visibility, event.actor, event.text) == (
        Visibility.HANDLING,
        personas["supervisor"],
        "Reminder (催办) from 坪山区妇联.\n请今天内签收并回复原因。",
    )
    assert AuditEntry.objects.get(event="supervision.reminder", actor_id=personas["supervisor"].pk).reason == "请今天内签收并回复原因。"


def test_the_unit_answers_in_its_inbox_and_the_supervisor_reads_it(client, order, personas, at_read):
    log_in(client, personas["supervisor"])
    remind(client, order, "为何三天未签收？")
    chase = Chase.objects.get(automatic=False)

    log_in(client, personas["handler"])
    inbox = client.get(reverse("work_order_inbox")).content.decode()
    assert "Reminders to answer" in inbox and "为何三天未签收？" in inbox
    assert reverse("chase_answer", args=[chase.pk]) in inbox
    supervision = Chase.objects.get(level=ChaseLevel.SUPERVISION)
    assert reverse("chase_answer", args=[supervision.pk]) in inbox  # supervision always asks for an answer
    response = client.post(reverse("chase_answer", args=[chase.pk]), {"answer": "经办人休假，今日已安排签收。", "idempotency_key": uuid.uuid4().hex})
    assert response.status_code == 302 and response["Location"] == reverse("work_order_inbox")
    chase.refresh_from_db()
    assert (chase.answer, chase.answered_by, chase.answered_at) == ("经办人休假，今日已安排签收。", personas["handler"], READ)
    assert reverse("chase_answer", args=[chase.pk]) not in client.get(reverse("work_order_inbox")).content.decode()
    event = CaseEvent.objects.get(data__supervision="chase_answered")
    assert (event.unit, event.actor, event.text) == (
        order.unit,
        personas["handler"],
        "Answer to the Reminder (催办) of 坪山区妇联:\n经办人休假，今日已安排签收。",
    )
    assert list(Message.objects.filter(event="supervision.chase_answered").values_list("to_user__username", flat=True)) == ["supervisor"]

    # Once answered, a second answer is refused and changes nothing.
    before = state()
    again = client.post(reverse("chase_answer", args=[chase.pk]), {"answer": "再答一次。"})
    assert again.status_code == 409
    assert state() == before

    log_in(client, personas["supervisor"])
    page = client.get(reverse("supervision_board")).content.decode()
    assert "经办人休假，今日已安排签收。" in page
    assert "Latest answers" in page


def test_only_the_chased_unit_answers(client, order, personas, at_read):
    supervision = Chase.objects.get(level=ChaseLevel.SUPERVISION)
    before = state()
    for persona, status in (("handler_twin", 404), ("department_handler_twin", 404), ("dispatcher", 403), ("supervisor", 403), ("operator", 403)):
        log_in(client, personas[persona])
        assert client.post(reverse("chase_answer", args=[supervision.pk]), {"answer": "代答。"}).status_code == status, persona
    assert state() == before


def test_an_empty_answer_is_refused(client, order, personas, at_read):
    supervision = Chase.objects.get(level=ChaseLevel.SUPERVISION)
    log_in(client, personas["handler"])
    before = state()
    response = client.post(reverse("chase_answer", args=[supervision.pk]), {"answer": "   "})
    assert response.status_code == 422
    assert state() == before


def test_a_completed_work_order_is_not_chased(client, order, personas, at_read):
    handler = personas["handler"]
    services.sign_for_work_order(work_order=order, by=handler)
    services.record_first_contact(work_order=order, by=handler, note="电话联系。")
    services.complete_work_order(work_order=order, by=handler, result="已追回工资。")
    log_in(client, personas["supervisor"])
    before = state()
    response = remind(client, order, "还要催吗？")
    assert response.status_code == 409
    assert "Only a work order its unit is still handling can be chased." in response.content.decode()
    assert state() == before
    assert order.case.number not in client.get(reverse("supervision_board")).content.decode()


def test_the_board_takes_the_same_queries_for_more_overdue_work_orders(client, org, personas):
    def overdue_orders(count: int) -> None:
        with time_machine.travel(SENT, tick=False):
            for n in range(count):
                dispatched_order(org, personas, summary=f"第{n}件。")
        with time_machine.travel(local(2026, 3, 4, 18), tick=False):
            sweep()

    def queries() -> int:
        with time_machine.travel(READ, tick=False):
            log_in(client, personas["supervisor"])
            with CaptureQueriesContext(connection) as captured:
                assert client.get(reverse("supervision_board")).status_code == 200
        return len(captured)

    overdue_orders(2)
    few = queries()
    overdue_orders(5)
    assert queries() == few


def test_working_time_between_long_spans_is_the_calendars_own_measure():
    """The board's constant-time measure agrees with workcalendar's day-by-day walk, holidays and make-up days included."""
    import datetime as dt

    from rightscare.core import workcalendar
    from rightscare.supervision.board import working_time_between

    spec = workcalendar.CalendarSpec(
        holiday_dates=frozenset({dt.date(2026, 10, 1), dt.date(2026, 10, 2), dt.date(2026, 10, 5), dt.date(2025, 1, 1)}),
        extra_working_dates=frozenset({dt.date(2026, 9, 27), dt.date(2026, 10, 10)}),
    )
    begin = dt.datetime(2024, 12, 30, 7, 13, tzinfo=dt.UTC)
    for hours in (0, 5, 30, 80, 24 * 9 + 3, 24 * 40 + 11, 24 * 400, 24 * 640 + 17):
        for start in (begin, begin + dt.timedelta(days=635, hours=2)):
            end = start + dt.timedelta(hours=hours)
            assert working_time_between(spec, start, end) == workcalendar.measure_working_time(spec, start, end).duration, (start, hours)


@pytest.mark.postgres
def test_the_board_reads_her_supervised_work_once_per_page(client, order, personas, at_read):
    """On PostgreSQL the list, its count, the table by unit and the chases share one read of her supervised work (one UNION)."""
    log_in(client, personas["supervisor"])
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("supervision_board"))
    assert response.status_code == 200
    assert order.case.number in response.content.decode()
    sqls = [query["sql"] for query in captured.captured_queries]
    assert sum(" UNION " in sql for sql in sqls) == 1
    assert sum("::bigint[]" in sql for sql in sqls) >= 3
