"""Safety follow-up of domestic-violence and child-protection cases: opened when such a case is
resolved, its own review clock (reminder, then the parent unit), never closed by anything but a
person with a reason, and no effect on the resolution clocks.

A physical-violence case registered in Pingshan on Monday 2 March 2026 at 10:00 (Shenzhen
time), dispatched to the Pingshan street federation, handled and accepted on Tuesday 3 March.
"""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from rightscare.audit.models import AuditEntry
from rightscare.cases import services as case_services
from rightscare.cases.models import Case, CaseEvent, CaseStatus, Category, EventKind, Visibility, WorkOrder
from rightscare.core.errors import Conflict
from rightscare.notifications.models import Message
from rightscare.supervision import safety
from rightscare.supervision.models import ClockKind, ClockState, RiskLevel, SafetyFollowUp, SafetyReview, WorkOrderClock
from rightscare.supervision.sweep import sweep
from tests.supervision.clock_helpers import at, frozen, national_calendar

pytestmark = pytest.mark.usefixtures("national_calendar")
assert national_calendar

RESOLVED_AT = at(2026, 3, 3, 16)


def category(code: str) -> Category:
    return Category.objects.get(code=code, valid_until__isnull=True)


def handled_case(org, personas, *, code: str = "dv-physical", accept: bool = True) -> Case:
    """A case of ``code`` taken through dispatch, sign-for, first contact, completion and (by default) acceptance."""
    with frozen(at(2026, 3, 2, 10)):
        case = case_services.register_case(
            by=personas["operator"],
            unit=org.units["pingshan"],
            request_type="help",
            category=category(code),
            summary="丈夫多次殴打，已报警。",
            region=org.regions["pingshan_street"],
        )
        [order] = case_services.dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"])
    with frozen(at(2026, 3, 2, 11)):
        order = case_services.sign_for_work_order(work_order=order, by=personas["handler"])
        order = case_services.record_first_contact(work_order=order, by=personas["handler"], note="电话联系，她已暂住娘家。")
    with frozen(at(2026, 3, 3, 15)):
        order = case_services.complete_work_order(work_order=order, by=personas["handler"], result="已申请人身安全保护令并获批。")
    if accept:
        with frozen(RESOLVED_AT):
            case_services.review_work_order(work_order=order, by=personas["dispatcher"], accept=True)
    return Case.objects.select_related("category").get(pk=case.pk)


def open_of(case: Case) -> SafetyFollowUp:
    return SafetyFollowUp.objects.get(case=case, ended_at__isnull=True)


# --- opened on resolution -----------------------------------------------------------------------------


def test_a_resolved_domestic_violence_case_opens_a_follow_up_with_the_dispatching_unit(org, personas, settings):
    settings.SAFETY_REVIEW_DAYS = 7
    case = handled_case(org, personas)
    assert case.status == CaseStatus.RESOLVED
    follow_up = open_of(case)
    assert follow_up.unit == org.units["pingshan"]
    assert follow_up.opened_by is None
    assert follow_up.opened_at == RESOLVED_AT
    assert follow_up.next_review_at == RESOLVED_AT + datetime.timedelta(days=7)
    assert follow_up.next_check_at == follow_up.next_review_at
    event = CaseEvent.objects.get(case=case, kind=EventKind.SAFETY_OPENED)
    assert event.visibility == Visibility.HANDLING
    assert event.data["automatic"] is True
    assert AuditEntry.objects.filter(event="supervision.open_safety_follow_up", object_id=str(follow_up.pk)).count() == 1


def test_a_child_protection_case_is_followed_up_too_and_an_ordinary_case_is_not(org, personas):
    child = handled_case(org, personas, code=Category.objects.filter(child_protection=True, valid_until__isnull=True, parent__isnull=False).first().code)
    assert SafetyFollowUp.objects.filter(case=child, ended_at__isnull=True).count() == 1
    wages = handled_case(org, personas, code="wage-arrears")
    assert wages.status == CaseStatus.RESOLVED
    assert not SafetyFollowUp.objects.filter(case=wages).exists()


def test_the_follow_up_does_not_count_against_resolution_time(org, personas):
    case = handled_case(org, personas)
    [order] = WorkOrder.objects.filter(case=case)
    resolution = WorkOrderClock.objects.get(work_order=order, kind=ClockKind.RESOLUTION)
    # Months later, the follow-up still open and its review long overdue: the resolution clock stays met.
    with frozen(at(2026, 7, 1, 9)):
        sweep()
        assert resolution.state() == ClockState.MET
        resolution.refresh_from_db()
        assert resolution.stopped_at == at(2026, 3, 3, 15)
        assert resolution.breached is False
    assert open_of(case).is_open


# --- never closed automatically -----------------------------------------------------------------------


def test_a_case_under_follow_up_cannot_be_closed_until_a_person_ends_it(org, personas, client, login):
    case = handled_case(org, personas)
    with pytest.raises(Conflict, match="safety"):
        case_services.close_case(case=case, by=personas["dispatcher"])
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    login(personas["dispatcher"])
    page = client.get(f"/cases/{case.pk}/")
    assert b"close-note" not in page.content and "Close the case" not in page.content.decode()
    assert "Safety follow-up" in page.content.decode()

    with pytest.raises(ValidationError):
        safety.end_follow_up(follow_up=open_of(case), by=personas["dispatcher"], reason="  ")
    ended = safety.end_follow_up(follow_up=open_of(case), by=personas["dispatcher"], reason="她已迁居外地，保护令有效。")
    assert ended.ended_by == personas["dispatcher"]
    assert CaseEvent.objects.filter(case=case, kind=EventKind.SAFETY_ENDED).count() == 1
    closed = case_services.close_case(case=case, by=personas["dispatcher"])
    assert closed.status == CaseStatus.CLOSED


def test_the_database_refuses_a_follow_up_ended_without_a_person_and_a_reason(org, personas):
    case = handled_case(org, personas)
    with pytest.raises(IntegrityError), transaction.atomic():
        SafetyFollowUp.objects.filter(pk=open_of(case).pk).update(ended_at=at(2026, 4, 1))


def test_the_sweep_reminds_then_tells_the_parent_unit_and_never_ends_anything(org, personas, settings):
    settings.SAFETY_REVIEW_DAYS = 7
    settings.SAFETY_ESCALATE_AFTER_DAYS = 3
    case = handled_case(org, personas)
    follow_up = open_of(case)
    due = follow_up.next_review_at
    with frozen(due - datetime.timedelta(minutes=1)):
        assert sweep().safety_reminders == 0
    with frozen(due + datetime.timedelta(minutes=1)):
        first = sweep()
        again = sweep()
    assert (first.safety_reminders, again.safety_reminders) == (1, 0)
    follow_up.refresh_from_db()
    assert follow_up.reminded_at is not None and follow_up.escalated_at is None
    assert follow_up.next_check_at == due + datetime.timedelta(days=3)
    reminders = Message.objects.filter(event="supervision.safety_review_due")
    assert reminders.count() >= 1
    assert {m.to_user_id for m in reminders} >= {personas["dispatcher"].pk}

    with frozen(due + datetime.timedelta(days=3, minutes=1)):
        assert sweep().safety_escalations == 1
        assert sweep().safety_escalations == 0
    follow_up.refresh_from_db()
    assert follow_up.escalated_at is not None and follow_up.next_check_at is None
    assert follow_up.ended_at is None
    assert Message.objects.filter(event="supervision.safety_review_overdue").exists()
    steps = list(CaseEvent.objects.filter(case=case, data__safety_follow_up=follow_up.pk, kind=EventKind.DEADLINE_WARNING).values_list("data__step", flat=True))
    assert steps == ["reminder", "escalation"]
    with frozen(at(2027, 1, 1)):
        sweep()
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    assert open_of(case).pk == follow_up.pk


# --- reviews ----------------------------------------------------------------------------------------------


def test_a_review_sets_the_next_due_time_and_rearms_the_reminders(org, personas, settings):
    settings.SAFETY_REVIEW_DAYS = 7
    case = handled_case(org, personas)
    follow_up = open_of(case)
    with frozen(follow_up.next_review_at + datetime.timedelta(hours=1)):
        sweep()
    reviewed_at = follow_up.next_review_at + datetime.timedelta(hours=2)
    with frozen(reviewed_at):
        review = safety.record_review(
            follow_up=follow_up, by=personas["dispatcher"], risk=RiskLevel.MEDIUM, note="上门走访，她情绪稳定。", next_review_in_days=30
        )
    follow_up.refresh_from_db()
    assert follow_up.next_review_at == reviewed_at + datetime.timedelta(days=30)
    assert (follow_up.reminded_at, follow_up.escalated_at) == (None, None)
    assert follow_up.next_check_at == follow_up.next_review_at
    assert review.unit == org.units["pingshan"]
    event = CaseEvent.objects.get(case=case, kind=EventKind.SAFETY_REVIEWED)
    assert event.data["late"] is True and event.data["risk"] == "medium"


def test_a_review_needs_a_risk_a_note_and_a_sensible_interval_and_changes_nothing_otherwise(org, personas):
    case = handled_case(org, personas)
    follow_up = open_of(case)
    before = follow_up.next_review_at
    with pytest.raises(ValidationError) as error:
        safety.record_review(follow_up=follow_up, by=personas["dispatcher"], risk="extreme", note=" ", next_review_in_days=0)
    assert set(error.value.message_dict) == {"risk", "note", "next_review_in_days"}
    follow_up.refresh_from_db()
    assert follow_up.next_review_at == before
    assert not SafetyReview.objects.exists()


def test_only_units_of_the_case_act_on_its_follow_up(org, personas):
    case = handled_case(org, personas)
    follow_up = open_of(case)
    for outsider in ("dispatcher_twin", "handler_twin", "operator"):
        with pytest.raises(PermissionDenied):
            safety.record_review(follow_up=follow_up, by=personas[outsider], risk=RiskLevel.LOW, note="x", next_review_in_days=7)
    # The handling street federation may review, in its own name.
    review = safety.record_review(follow_up=follow_up, by=personas["handler"], risk=RiskLevel.LOW, note="电话回访。", next_review_in_days=14)
    assert review.unit == org.units["pingshan_street"]
    # …but only the responsible or the dispatching unit ends it.
    assert safety.may_act(personas["handler"], follow_up) and not safety.may_end(personas["handler"], follow_up)
    with pytest.raises(PermissionDenied):
        safety.end_follow_up(follow_up=follow_up, by=personas["handler"], reason="她说不用了。")
    assert open_of(case).pk == follow_up.pk


def test_a_follow_up_can_be_opened_by_hand_before_resolution_but_only_once(org, personas):
    case = handled_case(org, personas, accept=False)
    assert case.status == CaseStatus.IN_PROGRESS
    follow_up = safety.open_follow_up(case=case, by=personas["handler"], reason="施暴者即将出狱。", review_every_days=3)
    assert follow_up.unit == org.units["pingshan_street"]
    with pytest.raises(Conflict):
        safety.open_follow_up(case=case, by=personas["dispatcher"], reason="重复。")
    # Resolution does not open a second one.
    [order] = WorkOrder.objects.filter(case=case)
    case_services.review_work_order(work_order=order, by=personas["dispatcher"], accept=True)
    assert SafetyFollowUp.objects.filter(case=case).count() == 1


def test_an_ordinary_case_cannot_be_followed_up(org, personas):
    case = handled_case(org, personas, code="wage-arrears", accept=False)
    assert not safety.may_open(personas["dispatcher"], case)
    with pytest.raises(Conflict):
        safety.open_follow_up(case=case, by=personas["dispatcher"], reason="x")


# --- pages and API --------------------------------------------------------------------------------------


def test_the_review_page_records_once_and_the_list_shows_the_follow_up(org, personas, client, login):
    case = handled_case(org, personas)
    follow_up = open_of(case)
    login(personas["handler"])
    page = client.get(f"/safety/{follow_up.pk}/review/")
    assert page.status_code == 200
    form = {"risk": "high", "note": "邻居反映施暴者又来过。", "next_review_in_days": "2", "idempotency_key": "k-1"}
    first = client.post(f"/safety/{follow_up.pk}/review/", form)
    second = client.post(f"/safety/{follow_up.pk}/review/", form)
    assert first.status_code == second.status_code == 302
    assert SafetyReview.objects.filter(follow_up=follow_up).count() == 1
    bad = client.post(f"/safety/{follow_up.pk}/review/", {**form, "note": "", "idempotency_key": "k-2"})
    assert bad.status_code == 422
    listing = client.get("/safety/").content.decode()
    assert case.number in listing
    login(personas["handler_twin"])
    assert client.get(f"/safety/{follow_up.pk}/review/").status_code == 404
    assert case.number not in client.get("/safety/").content.decode()


def test_the_api_opens_reviews_and_ends(org, personas, client, login):
    case = handled_case(org, personas, accept=False)
    login(personas["dispatcher"])
    created = client.post(
        f"/api/v1/cases/{case.pk}/safety-follow-ups",
        {"reason": "她仍与施暴者同住一个小区。", "review_every_days": 5},
        content_type="application/json",
        headers={"Idempotency-Key": "open-1"},
    )
    assert created.status_code == 201, created.content
    repeated = client.post(
        f"/api/v1/cases/{case.pk}/safety-follow-ups",
        {"reason": "她仍与施暴者同住一个小区。", "review_every_days": 5},
        content_type="application/json",
        headers={"Idempotency-Key": "open-1"},
    )
    assert repeated.status_code == 200 and repeated.json()["id"] == created.json()["id"]
    follow_up_id = created.json()["id"]
    bad = client.post(
        f"/api/v1/safety-follow-ups/{follow_up_id}/reviews", {"risk": "low", "note": "", "next_review_in_days": 7}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad["Content-Type"] == "application/problem+json"
    review = client.post(
        f"/api/v1/safety-follow-ups/{follow_up_id}/reviews", {"risk": "low", "note": "电话回访。", "next_review_in_days": 7}, content_type="application/json"
    )
    assert review.status_code == 201 and review.json()["risk"] == "low"
    listed = client.get("/api/v1/safety-follow-ups").json()
    assert [row["id"] for row in listed["items"]] == [follow_up_id]
    ended = client.post(f"/api/v1/safety-follow-ups/{follow_up_id}/end", {"reason": "已搬离。"}, content_type="application/json")
    assert ended.status_code == 200 and ended.json()["ended_at"] is not None
    again = client.post(f"/api/v1/safety-follow-ups/{follow_up_id}/end", {"reason": "已搬离。"}, content_type="application/json")
    assert again.status_code == 409
    login(personas["dispatcher_twin"])
    assert client.get(f"/api/v1/cases/{case.pk}/safety-follow-ups").status_code == 404
    assert client.post(f"/api/v1/safety-follow-ups/{follow_up_id}/end", {"reason": "x"}, content_type="application/json").status_code == 404
