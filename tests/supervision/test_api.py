"""The deadlines in the API: the clocks in the work-order schema, the overdue flag of the case list, the
presets, and pausing, resuming, asking for and deciding on more time.
"""

from __future__ import annotations

import pytest
import time_machine

from rightscare.cases.models import TimeClass
from rightscare.supervision.models import ClockKind, ClockPause, ClockPolicy, Extension, ExtensionStatus
from tests.api_client import ApiClient, error_fields
from tests.supervision.clock_helpers import at, clock, frozen, national_calendar, send, sign

pytestmark = pytest.mark.usefixtures("national_calendar")
assert national_calendar

MONDAY_10 = at(2026, 3, 2, 10)


@pytest.fixture(autouse=True)
def _before_the_deadlines():
    """The requests of this module are made on Wednesday 4 March 2026, before the work orders'
    deadlines (more time can only be asked for before the resolution deadline); time runs on."""
    with time_machine.travel(at(2026, 3, 4, 10), tick=True):
        yield


@pytest.fixture
def as_user(client):
    return lambda user: ApiClient(client, user)


def test_the_work_order_schema_carries_its_clocks(org, personas, as_user):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    with frozen(at(2026, 3, 5, 15)):
        body = as_user(personas["handler"]).get(f"/work-orders/{order.pk}").json()
    assert [(c["kind"], c["due_at"], c["state"], c["paused"], c["extended_by_days"]) for c in body["clocks"]] == [
        ("sign_for", "2026-03-03T10:00:00Z", "met", False, 0),
        ("first_contact", "2026-03-04T10:00:00Z", "overdue", False, 0),
        ("update", "2026-03-09T10:00:00Z", "warning", False, 0),
        ("resolution", "2026-03-09T10:00:00Z", "warning", False, 0),
    ]


def test_the_inbox_and_the_case_carry_the_clocks_without_a_query_per_row(org, personas, as_user, django_assert_num_queries):
    for _ in range(3):
        send(org, personas, when=MONDAY_10)
    api = as_user(personas["handler"])
    api.get("/work-orders")
    with django_assert_num_queries(5):
        body = api.get("/work-orders").json()
    assert body["count"] == 3 and all(len(item["clocks"]) == 4 for item in body["items"])


def test_the_case_list_flags_overdue_cases(org, personas, as_user):
    order = send(org, personas, when=MONDAY_10)
    api = as_user(personas["dispatcher"])
    with frozen(at(2026, 3, 3, 12)):
        [item] = [i for i in api.get("/cases").json()["items"] if i["id"] == order.case_id]
        assert item["overdue"] is False
    with frozen(at(2026, 3, 3, 18)):
        api = as_user(personas["dispatcher"])
        [item] = [i for i in api.get("/cases").json()["items"] if i["id"] == order.case_id]
        assert item["overdue"] is True


def test_the_presets_are_listed(org, personas, as_user):
    body = as_user(personas["volunteer"]).get("/clock-policies", {"limit": 100}).json()
    assert body["count"] == ClockPolicy.objects.current().count() == 20
    emergency = [p for p in body["items"] if p["urgency"] == "emergency" and p["kind"] == "sign_for"]
    assert [(p["time_class"], p["amount"], p["unit"]) for p in emergency] == [(None, 30, "minutes")]


def test_pause_and_resume(org, personas, as_user):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    api = as_user(personas["handler"])
    with frozen(at(2026, 3, 3, 9)):
        first = api.post(f"/work-orders/{order.pk}/pause", {"reason_code": "arbitration", "reason": "深劳人仲案〔2026〕1号"}, {"Idempotency-Key": "p-1"})
        again = api.post(f"/work-orders/{order.pk}/pause", {"reason_code": "arbitration", "reason": "深劳人仲案〔2026〕1号"}, {"Idempotency-Key": "p-1"})
        conflict = api.post(f"/work-orders/{order.pk}/pause", {"reason_code": "petitioner"})
    assert (first.status_code, again.status_code, conflict.status_code) == (201, 200, 409)
    assert first.json() == again.json()
    assert first.json()["reason_code"] == "arbitration" and first.json()["ended_at"] is None
    assert ClockPause.objects.filter(work_order=order).count() == 1
    assert api.get(f"/work-orders/{order.pk}").json()["clocks"][3]["paused"] is True
    with frozen(at(2026, 3, 5, 9)):
        resumed = api.post(f"/work-orders/{order.pk}/resume")
    assert resumed.status_code == 200 and resumed.json()["ended_at"] == "2026-03-05T01:00:00Z"
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 11, 18)
    assert api.post(f"/work-orders/{order.pk}/resume").status_code == 409


def test_a_pause_needs_a_handler_reason(org, personas, as_user):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    api = as_user(personas["handler"])
    assert error_fields(api.post(f"/work-orders/{order.pk}/pause", {"reason_code": "review"})) == {"reason_code"}
    assert error_fields(api.post(f"/work-orders/{order.pk}/pause", {"reason_code": "other"})) == {"reason"}
    assert not ClockPause.objects.exists()


def test_extensions_are_asked_for_listed_and_decided(org, personas, as_user):
    order = sign(send(org, personas, when=MONDAY_10, time_class=TimeClass.LETTERS_AND_VISITS), personas, at(2026, 3, 2, 11))
    handler, dispatcher = as_user(personas["handler"]), as_user(personas["dispatcher"])
    assert error_fields(handler.post(f"/work-orders/{order.pk}/extensions", {"days": 31, "reason": "等待司法鉴定。"})) == {"days"}
    created = handler.post(f"/work-orders/{order.pk}/extensions", {"days": 30, "reason": "等待司法鉴定。"}, {"Idempotency-Key": "e-1"})
    assert created.status_code == 201
    body = created.json()
    assert (body["days"], body["day_unit"], body["status"], body["needs_supervisor"]) == (30, "calendar", "pending", False)
    assert handler.post(f"/work-orders/{order.pk}/extensions", {"days": 30, "reason": "等待司法鉴定。"}, {"Idempotency-Key": "e-1"}).status_code == 200
    assert handler.post(f"/work-orders/{order.pk}/extensions", {"days": 5, "reason": "再等等。"}).status_code == 409
    assert [e["id"] for e in dispatcher.get(f"/work-orders/{order.pk}/extensions").json()["items"]] == [body["id"]]
    assert handler.post(f"/extensions/{body['id']}/decision", {"approve": True}).status_code == 403
    assert error_fields(dispatcher.post(f"/extensions/{body['id']}/decision", {"approve": False})) == {"note"}
    decided = dispatcher.post(f"/extensions/{body['id']}/decision", {"approve": True, "note": "同意延期。"})
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 6, 6)
    assert dispatcher.post(f"/extensions/{body['id']}/decision", {"approve": True}).status_code == 409


def test_a_request_beyond_ten_days_is_approved_by_a_supervisor_only(org, personas, as_user):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    created = as_user(personas["handler"]).post(f"/work-orders/{order.pk}/extensions", {"days": 15, "reason": "跨部门协调。"}).json()
    assert created["needs_supervisor"] is True
    refused = as_user(personas["dispatcher"]).post(f"/extensions/{created['id']}/decision", {"approve": True})
    assert refused.status_code == 403 and "supervisor" in refused.json()["detail"]
    assert Extension.objects.get(pk=created["id"]).status == ExtensionStatus.PENDING
    assert as_user(personas["supervisor"]).post(f"/extensions/{created['id']}/decision", {"approve": True}).status_code == 200


@pytest.mark.parametrize("who", ["handler_twin", "dispatcher_twin", "department_handler", "volunteer"])
def test_out_of_scope_is_not_found(org, personas, as_user, who):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    extension = as_user(personas["handler"]).post(f"/work-orders/{order.pk}/extensions", {"days": 2, "reason": "等待材料。"}).json()
    api = as_user(personas[who])
    assert api.post(f"/work-orders/{order.pk}/pause", {"reason_code": "petitioner"}).status_code == 404
    assert api.post(f"/work-orders/{order.pk}/resume").status_code == 404
    assert api.get(f"/work-orders/{order.pk}/extensions").status_code == 404
    assert api.post(f"/work-orders/{order.pk}/extensions", {"days": 2, "reason": "x"}).status_code == 404
    assert api.post(f"/extensions/{extension['id']}/decision", {"approve": True}).status_code == 404
    assert api.post("/extensions/999999/decision", {"approve": True}).status_code == 404
    assert not ClockPause.objects.exists()
    assert Extension.objects.get().status == ExtensionStatus.PENDING
