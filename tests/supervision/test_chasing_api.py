"""Chasing through the API: the overdue list, a reminder (idempotent), the chases to answer, an answer; scoped like the pages."""

from __future__ import annotations

import pytest
import time_machine

from rightscare.notifications.models import Message
from rightscare.supervision.models import Chase, ChaseLevel
from rightscare.supervision.sweep import sweep
from tests.api_client import ApiClient, error_fields
from tests.supervision.chasing_helpers import dispatched_order, local, messages_in_english  # noqa: F401 - autouse

SENT = local(2026, 3, 2, 10)
READ = local(2026, 3, 5, 19)


@pytest.fixture
def order(org, personas):
    with time_machine.travel(SENT, tick=False):
        order = dispatched_order(org, personas)
    for day in (3, 4, 5):
        with time_machine.travel(local(2026, 3, day, 18), tick=False):
            sweep()
    with time_machine.travel(READ, tick=False):
        yield order


def state() -> tuple:
    return sorted(Chase.objects.values_list("pk", "level", "comment", "answer", "answered_at")), Message.objects.count()


def test_the_overdue_list_of_a_supervisor(client, order, org, personas):
    response = ApiClient(client, personas["supervisor"]).get("/supervision/overdue")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    [item] = body["items"]
    chases = item.pop("chases")
    assert item == {
        "id": order.pk,
        "case_id": order.case_id,
        "case_number": order.case.number,
        "urgency": "normal",
        "unit": {"id": org.units["pingshan_street"].pk, "name": "坪山街道妇联"},
        "status": "sent",
        "level": "supervision",
        "clocks": [
            {"kind": "sign_for", "due_at": "2026-03-03T10:00:00Z", "overdue_days": "2.0", "working_time": True},
            {"kind": "first_contact", "due_at": "2026-03-04T10:00:00Z", "overdue_days": "1.0", "working_time": True},
        ],
    }
    assert [(c["level"], c["clock"], c["automatic"], c["needs_answer"], c["by_unit"]["name"]) for c in chases] == [
        ("reminder", "sign_for", True, False, "坪山区妇联"),
        ("reminder", "first_contact", True, False, "坪山区妇联"),
        ("supervision", "sign_for", True, True, "坪山区妇联"),
    ]


def test_the_sibling_supervisor_lists_nothing_and_cannot_chase(client, order, org, personas):
    api = ApiClient(client, personas["supervisor_twin"])
    assert api.get("/supervision/overdue").json() == {"items": [], "count": 0}
    assert api.get("/supervision/overdue", {"unit_id": org.units["pingshan_street"].pk}).json() == {"items": [], "count": 0}
    before = state()
    assert api.post(f"/work-orders/{order.pk}/chases", {"comment": "龙华来催。"}).status_code == 404
    supervision = Chase.objects.get(level=ChaseLevel.SUPERVISION)
    assert ApiClient(client, personas["handler_twin"]).post(f"/chases/{supervision.pk}/answer", {"answer": "代答。"}).status_code == 404
    assert state() == before


def test_a_reminder_is_sent_once_per_idempotency_key(client, order, personas):
    api = ApiClient(client, personas["supervisor"])
    headers = {"Idempotency-Key": "remind-1"}
    first = api.post(f"/work-orders/{order.pk}/chases", {"comment": "请说明原因。"}, headers=headers)
    assert first.status_code == 201
    again = api.post(f"/work-orders/{order.pk}/chases", {"comment": "请说明原因。"}, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    chase = first.json()
    assert {k: chase[k] for k in ("work_order_id", "level", "by_id", "automatic", "clock", "comment", "needs_answer", "answered_at")} == {
        "work_order_id": order.pk,
        "level": "reminder",
        "by_id": personas["supervisor"].pk,
        "automatic": False,
        "clock": None,
        "comment": "请说明原因。",
        "needs_answer": True,
        "answered_at": None,
    }
    assert Chase.objects.filter(automatic=False).count() == 1
    assert Message.objects.filter(event="supervision.reminder").count() == 1


def test_only_supervisors_send_reminders(client, order, personas):
    before = state()
    for persona in ("handler", "dispatcher", "operator"):
        assert ApiClient(client, personas[persona]).post(f"/work-orders/{order.pk}/chases", {"comment": "催。"}).status_code == 403, persona
    assert ApiClient(client, personas["handler"]).get("/supervision/overdue").status_code == 403
    assert state() == before


def test_the_unit_lists_and_answers_its_chases(client, order, personas):
    ApiClient(client, personas["supervisor"]).post(f"/work-orders/{order.pk}/chases", {"comment": "请说明原因。"})
    handler = ApiClient(client, personas["handler"])
    listed = handler.get("/chases").json()
    assert [(c["level"], c["comment"], c["automatic"]) for c in listed["items"]] == [("supervision", "", True), ("reminder", "请说明原因。", False)]
    assert ApiClient(client, personas["handler_twin"]).get("/chases").json() == {"items": [], "count": 0}

    supervision_id = listed["items"][0]["id"]
    assert error_fields(handler.post(f"/chases/{supervision_id}/answer", {"answer": ""})) == {"answer"}
    answered = handler.post(f"/chases/{supervision_id}/answer", {"answer": "已签收，明日联系当事人。"})
    assert answered.status_code == 200
    assert (answered.json()["answer"], answered.json()["answered_by_id"], answered.json()["answered_at"]) == (
        "已签收，明日联系当事人。",
        personas["handler"].pk,
        "2026-03-05T11:00:00Z",
    )
    before = state()
    conflict = handler.post(f"/chases/{supervision_id}/answer", {"answer": "再答一次。"})
    assert conflict.status_code == 409 and conflict["Content-Type"] == "application/problem+json"
    assert ApiClient(client, personas["dispatcher"]).post(f"/chases/{supervision_id}/answer", {"answer": "代答。"}).status_code == 403
    assert state() == before
    assert [c["level"] for c in handler.get("/chases").json()["items"]] == ["reminder"]
    # An automatic reminder asks for no answer: 409, nothing changed.
    automatic = Chase.objects.filter(level=ChaseLevel.REMINDER, automatic=True).first()
    assert handler.post(f"/chases/{automatic.pk}/answer", {"answer": "收到。"}).status_code == 409
    assert state() == before


def test_the_overdue_list_takes_the_same_queries_for_more_work_orders(client, order, org, personas):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = ApiClient(client, personas["supervisor"])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/supervision/overdue").status_code == 200
        return len(captured)

    queries()  # the token's first use of the day is recorded once
    few = queries()
    # Token, memberships, the page, its late clocks, its chases, the calendar (2), the count; on
    # PostgreSQL her supervised work's ids first, read once for the page and its count.
    assert few == (9 if connection.vendor == "postgresql" else 8)
    with time_machine.travel(SENT, tick=False):
        for n in range(4):
            dispatched_order(org, personas, summary=f"第{n}件。")
    with time_machine.travel(local(2026, 3, 5, 18), tick=False):
        sweep()
    assert api.get("/supervision/overdue").json()["count"] == 5
    assert queries() == few
