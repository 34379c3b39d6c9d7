"""The deadlines on the pages: the case page's four clocks with their pause and extension forms, the
overdue marks in every list, the pause/resume/extension pages, and the administrators' presets.
"""

from __future__ import annotations

import uuid

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from rightscare.audit.models import AuditEntry
from rightscare.cases import services as case_services
from rightscare.cases.models import TimeClass, Urgency
from rightscare.supervision import services
from rightscare.supervision.models import ClockKind, ClockPause, ClockPolicy, ClockUnit, Extension, ExtensionStatus
from tests.conftest import log_in
from tests.supervision.clock_helpers import at, clock, contact, frozen, national_calendar, send, sign

pytestmark = pytest.mark.usefixtures("national_calendar")
assert national_calendar

MONDAY_10 = at(2026, 3, 2, 10)


@pytest.fixture(autouse=True)
def _before_the_deadlines():
    """The requests of this module are made on Wednesday 4 March 2026, before the work orders'
    deadlines (more time can only be asked for before the resolution deadline); time runs on."""
    with time_machine.travel(at(2026, 3, 4, 10), tick=True):
        yield


def key() -> str:
    return uuid.uuid4().hex


def chinese(user) -> Client:
    return log_in(Client(HTTP_ACCEPT_LANGUAGE="zh-hans"), user)


def test_the_case_page_shows_the_four_clocks_in_chinese_dates(org, personas):
    order = send(org, personas, when=MONDAY_10, time_class=TimeClass.LETTERS_AND_VISITS)
    with frozen(at(2026, 3, 3, 17)):
        page = chinese(personas["handler"]).get(reverse("case_detail", args=[order.case_id])).content.decode()
    assert "2026年3月3日 18:00" in page  # sign-for, one working day
    assert "2026年3月18日 00:00" in page  # acceptance notice, 15 days
    assert "2026年5月7日 00:00" in page  # resolution, 60 days past the May Day holiday
    assert "签收" in page or "Sign-for" in page


def test_a_handler_pauses_and_resumes_from_the_case_page(client, org, personas):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    # Sessions end after 30 idle minutes: she signs in again after each jump in time.
    with frozen(at(2026, 3, 3, 9)):
        log_in(client, personas["handler"])
        page = client.get(reverse("case_detail", args=[order.case_id])).content.decode()
        assert reverse("work_order_pause", args=[order.pk]) in page
        assert reverse("work_order_extension", args=[order.pk]) in page
        response = client.post(
            reverse("work_order_pause", args=[order.pk]), {"reason_code": "court", "reason": "（2026）粤0310民初1号", "idempotency_key": key()}
        )
    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", args=[order.case_id]) + f"#work-order-{order.pk}"
    with frozen(at(2026, 3, 4, 9)):
        log_in(client, personas["handler"])
        page = client.get(reverse("case_detail", args=[order.case_id])).content.decode()
        assert "Clocks paused since" in page and "Waiting for a court" in page
        assert reverse("work_order_pause", args=[order.pk]) not in page
        response = client.post(reverse("work_order_resume", args=[order.pk]), {"idempotency_key": key()})
    assert response.status_code == 302
    assert ClockPause.objects.get(work_order=order).ended_at == at(2026, 3, 4, 9)
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 10, 18)


def test_a_double_click_makes_one_pause(client, org, personas):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    log_in(client, personas["handler"])
    data = {"reason_code": "petitioner", "reason": "", "idempotency_key": key()}
    assert client.post(reverse("work_order_pause", args=[order.pk]), data).status_code == 302
    assert client.post(reverse("work_order_pause", args=[order.pk]), data).status_code == 302
    assert ClockPause.objects.filter(work_order=order).count() == 1


def test_a_second_pause_is_refused_with_its_reason(client, org, personas):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    services.pause_clocks(work_order=order, by=personas["handler"], reason_code="petitioner")
    log_in(client, personas["handler"])
    response = client.post(reverse("work_order_pause", args=[order.pk]), {"reason_code": "court", "idempotency_key": key()})
    assert response.status_code == 409
    assert "already paused" in response.content.decode()
    assert ClockPause.objects.filter(work_order=order).count() == 1


@pytest.mark.parametrize(("who", "status"), [("dispatcher", 403), ("handler_twin", 404), ("department_handler", 404), ("supervisor", 403)])
def test_others_cannot_pause(client, org, personas, who, status):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    log_in(client, personas[who])
    response = client.post(reverse("work_order_pause", args=[order.pk]), {"reason_code": "petitioner", "idempotency_key": key()})
    assert response.status_code == status
    assert not ClockPause.objects.exists()


def test_an_extension_is_asked_for_and_decided_on_the_pages(client, org, personas):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    handler = log_in(Client(HTTP_ACCEPT_LANGUAGE="en"), personas["handler"])
    response = handler.post(reverse("work_order_extension", args=[order.pk]), {"days": "3", "reason": "等待仲裁。", "idempotency_key": key()})
    assert response.status_code == 302
    extension = Extension.objects.get(work_order=order)
    # The handler cannot decide her own request; the sending unit's dispatcher can.
    assert handler.get(reverse("extension_decide", args=[extension.pk])).status_code == 403
    log_in(client, personas["dispatcher"])
    page = client.get(reverse("case_detail", args=[order.case_id])).content.decode()
    assert reverse("extension_decide", args=[extension.pk]) in page
    assert client.get(reverse("extension_decide", args=[extension.pk])).status_code == 200
    response = client.post(reverse("extension_decide", args=[extension.pk]), {"decision": "refuse", "note": "", "idempotency_key": key()})
    assert response.status_code == 422
    assert Extension.objects.get(pk=extension.pk).status == ExtensionStatus.PENDING
    response = client.post(reverse("extension_decide", args=[extension.pk]), {"decision": "approve", "note": "同意。", "idempotency_key": key()})
    assert response.status_code == 302
    assert Extension.objects.get(pk=extension.pk).status == ExtensionStatus.APPROVED
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 12, 18)
    assert client.get(reverse("extension_decide", args=[extension.pk])).status_code == 200
    assert client.post(reverse("extension_decide", args=[extension.pk]), {"decision": "approve", "idempotency_key": key()}).status_code == 409


def test_the_dispatcher_cannot_approve_what_needs_a_supervisor(client, org, personas):
    order = sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11))
    extension = services.request_extension(work_order=order, by=personas["handler"], days=12, reason="需要补充鉴定。")
    log_in(client, personas["dispatcher"])
    assert "only a supervisor may approve it" in client.get(reverse("extension_decide", args=[extension.pk])).content.decode()
    response = client.post(reverse("extension_decide", args=[extension.pk]), {"decision": "approve", "idempotency_key": key()})
    assert response.status_code == 403
    assert Extension.objects.get(pk=extension.pk).status == ExtensionStatus.PENDING
    supervisor = log_in(Client(HTTP_ACCEPT_LANGUAGE="en"), personas["supervisor"])
    assert reverse("extension_decide", args=[extension.pk]) in supervisor.get(reverse("case_detail", args=[order.case_id])).content.decode()
    assert supervisor.post(reverse("extension_decide", args=[extension.pk]), {"decision": "approve", "idempotency_key": key()}).status_code == 302
    assert clock(order, ClockKind.RESOLUTION).extended_by_days == 12


# --- the lists ---------------------------------------------------------------------------------------------


def test_the_inbox_marks_what_is_overdue(client, org, personas):
    late = send(org, personas, when=MONDAY_10)
    fresh = send(org, personas, when=at(2026, 3, 4, 10))
    with frozen(at(2026, 3, 4, 11)):
        log_in(client, personas["handler"])
        page = client.get(reverse("work_order_inbox")).content.decode()
    rows = page.split("<tr")
    late_row = next(row for row in rows if late.case.number in row)
    fresh_row = next(row for row in rows if fresh.case.number in row)
    assert 'class="row--late"' in late_row and "Overdue" in late_row and "Sign-for" in late_row
    assert "row--late" not in fresh_row and "Running" in fresh_row


def test_the_case_search_marks_overdue_cases(client, org, personas):
    order = send(org, personas, when=MONDAY_10)
    with frozen(at(2026, 3, 2, 12)):
        log_in(client, personas["dispatcher"])
        row = next(r for r in client.get(reverse("case_search")).content.decode().split("<tr") if order.case.number in r)
        assert "row--late" not in row and "Running" in row
    with frozen(at(2026, 3, 10, 9)):
        log_in(client, personas["dispatcher"])
        row = next(r for r in client.get(reverse("case_search")).content.decode().split("<tr") if order.case.number in r)
        assert "row--late" in row and "Overdue" in row


def test_the_review_queue_shows_whether_the_resolution_deadline_was_met(client, org, personas):
    met = contact(sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11)), personas, at(2026, 3, 2, 14))
    missed = contact(sign(send(org, personas, when=MONDAY_10), personas, at(2026, 3, 2, 11)), personas, at(2026, 3, 2, 14))
    with frozen(at(2026, 3, 5, 10)):
        case_services.complete_work_order(work_order=met, by=personas["handler"], result="已解决。")
    with frozen(at(2026, 3, 11, 10)):
        case_services.complete_work_order(work_order=missed, by=personas["handler"], result="已解决。")
    log_in(client, personas["dispatcher"])
    rows = client.get(reverse("dispatch_queues")).content.decode().split("<tr")
    assert "Met" in next(r for r in rows if met.case.number in r)
    assert "Missed" in next(r for r in rows if missed.case.number in r)


def test_the_inbox_reads_the_marks_in_one_query(client, org, personas, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    send(org, personas, when=MONDAY_10)
    log_in(client, personas["handler"])
    with CaptureQueriesContext(connection) as first:
        client.get(reverse("work_order_inbox"))
    for _ in range(4):
        send(org, personas, when=MONDAY_10, urgency=Urgency.URGENT)
    with django_assert_num_queries(len(first)):
        client.get(reverse("work_order_inbox"))


# --- the presets -------------------------------------------------------------------------------------------


def test_the_presets_page_lists_every_row(client, org, personas):
    log_in(client, personas["system_admin"])
    page = client.get(reverse("clock_policy_list")).content.decode()
    assert page.count('href="/cases/admin/deadlines/') >= 2 * ClockPolicy.objects.current().count()
    assert "30 minutes (24/7)" in page and "60 days (as the law counts them)" in page


def test_editing_a_preset_keeps_the_old_version(client, org, personas):
    policy = ClockPolicy.objects.current().get(urgency=Urgency.NORMAL, time_class=TimeClass.COMPLEX, kind=ClockKind.RESOLUTION)
    log_in(client, personas["system_admin"])
    assert client.get(reverse("clock_policy_edit", args=[policy.pk])).status_code == 200
    data = {"urgency": "urgent", "time_class": "", "kind": "sign_for", "amount": "20", "unit": ClockUnit.WORKING_DAYS, "idempotency_key": key()}
    response = client.post(reverse("clock_policy_edit", args=[policy.pk]), data)
    new = ClockPolicy.objects.current().get(urgency=Urgency.NORMAL, time_class=TimeClass.COMPLEX, kind=ClockKind.RESOLUTION)
    assert response.status_code == 302 and response["Location"] == reverse("clock_policy_history", args=[new.pk])
    # The disabled fields keep what the preset applies to, whatever was posted.
    assert (new.amount, new.unit, new.replaces_id, new.updated_by) == (20, ClockUnit.WORKING_DAYS, policy.pk, personas["system_admin"])
    policy.refresh_from_db()
    assert policy.valid_until is not None
    history = client.get(reverse("clock_policy_history", args=[new.pk])).content.decode()
    assert "20 working days" in history and "15 working days" in history
    entry = AuditEntry.objects.get(event="supervision.save_clock_policy")
    assert entry.changes == {"amount": [15, 20], "replaces": policy.pk}


def test_a_new_preset_for_a_combination_that_has_one_is_refused(client, org, personas):
    log_in(client, personas["system_admin"])
    before = ClockPolicy.objects.count()
    data = {"urgency": "normal", "time_class": "standard", "kind": "sign_for", "amount": "2", "unit": "working_days", "idempotency_key": key()}
    response = client.post(reverse("clock_policy_create"), data)
    assert response.status_code == 422
    assert ClockPolicy.objects.count() == before
    data = {"urgency": "normal", "time_class": "", "kind": "sign_for", "amount": "2", "unit": "working_days", "idempotency_key": key()}
    assert client.post(reverse("clock_policy_create"), data).status_code == 302
    assert ClockPolicy.objects.current().filter(urgency="normal", time_class="", kind="sign_for", amount=2).exists()


@pytest.mark.parametrize("who", ["dispatcher", "supervisor", "unit_admin", "handler"])
def test_only_list_administrators_reach_the_presets(client, org, personas, who):
    log_in(client, personas[who])
    policy = ClockPolicy.objects.current().first()
    assert client.get(reverse("clock_policy_list")).status_code == 403
    response = client.post(reverse("clock_policy_edit", args=[policy.pk]), {"amount": "1", "unit": "minutes", "idempotency_key": key()})
    assert response.status_code == 403
    assert ClockPolicy.objects.filter(valid_until__isnull=False).count() == 0
