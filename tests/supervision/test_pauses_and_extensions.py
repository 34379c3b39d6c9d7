"""Pauses (due times move by the paused working time) and extensions (one of at most 10 working
days; more only with a supervisor; letters and visits one of at most 30 days, never more).

Sent on Monday 2 March 2026 at 10:00 (Shenzhen time) to the Pingshan street federation and
signed for at 11:00; resolution due Monday 9 March 18:00 unless said otherwise.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from rightscare.audit.models import AuditEntry
from rightscare.cases import services as case_services
from rightscare.cases.models import CaseEvent, EventKind, TimeClass
from rightscare.core.errors import AuthorisationError, Conflict
from rightscare.supervision import services
from rightscare.supervision.models import ClockKind, ClockPause, ClockState, DayUnit, Extension, ExtensionStatus, PauseReason, WorkOrderClock
from rightscare.supervision.selectors import annotate_work_orders
from rightscare.supervision.sweep import sweep
from tests.supervision.clock_helpers import at, clock, dues, frozen, national_calendar, send, sign

pytestmark = pytest.mark.usefixtures("national_calendar")
assert national_calendar

MONDAY_10 = at(2026, 3, 2, 10)
WEDNESDAY_10 = at(2026, 3, 4, 10)
WEDNESDAY_15 = at(2026, 3, 4, 15)


def signed(org, personas, *, time_class: str = TimeClass.STANDARD):
    order = send(org, personas, when=MONDAY_10, time_class=time_class)
    return sign(order, personas, at(2026, 3, 2, 11))


def pause(order, personas, when, reason_code=PauseReason.PETITIONER, reason="她外出务工，下周回来。"):
    with frozen(when):
        return services.pause_clocks(work_order=order, by=personas["handler"], reason_code=reason_code, reason=reason)


def resume(order, user, when):
    with frozen(when):
        return services.resume_clocks(work_order=order, by=user)


def ask(order, personas, days, when=WEDNESDAY_10, reason="需等待仲裁结果。"):
    with frozen(when):
        return services.request_extension(work_order=order, by=personas["handler"], days=days, reason=reason)


def decide(extension, user, approve=True, when=WEDNESDAY_15, note=""):
    with frozen(when):
        return services.decide_extension(extension=extension, by=user, approve=approve, note=note)


# --- pauses ----------------------------------------------------------------------------------------------


def test_a_pause_moves_the_due_times_by_the_paused_working_time(org, personas):
    order = signed(org, personas)
    paused = pause(order, personas, at(2026, 3, 3, 9))
    assert {c.kind for c in WorkOrderClock.objects.filter(work_order=order, paused_at__isnull=False)} == {
        ClockKind.FIRST_CONTACT,
        ClockKind.UPDATE,
        ClockKind.RESOLUTION,
    }
    with frozen(at(2026, 3, 10)):
        # Past the old due time, but paused: never overdue.
        assert clock(order, ClockKind.RESOLUTION).state() == ClockState.PAUSED
        assert not annotate_work_orders(type(order).objects.filter(pk=order.pk)).get().overdue
    # Tuesday 09:00 to Thursday 09:00 covers two working days (14 working hours).
    resume(order, personas["handler"], at(2026, 3, 5, 9))
    assert dues(order) == {
        ClockKind.SIGN_FOR: at(2026, 3, 3, 18),  # stopped at sign-for, before the pause: unchanged
        ClockKind.FIRST_CONTACT: at(2026, 3, 6, 18),
        ClockKind.UPDATE: at(2026, 3, 11, 18),
        ClockKind.RESOLUTION: at(2026, 3, 11, 18),
    }
    resolution = clock(order, ClockKind.RESOLUTION)
    assert resolution.original_due_at == at(2026, 3, 9, 18)
    assert resolution.paused_at is None and resolution.paused_total.total_seconds() == 48 * 3600
    assert resolution.next_check_at == resolution.half_at
    paused.refresh_from_db()
    assert (paused.ended_at, paused.ended_by) == (at(2026, 3, 5, 9), personas["handler"])


def test_a_weekend_pause_changes_no_working_deadline(org, personas):
    order = signed(org, personas)
    pause(order, personas, at(2026, 3, 6, 18), reason_code=PauseReason.COURT, reason="（2026）粤0310民初123号")
    resume(order, personas["handler"], at(2026, 3, 9, 9))
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 9, 18)


def test_a_pause_and_its_end_are_on_the_timeline_and_audited(org, personas):
    order = signed(org, personas)
    paused = pause(order, personas, at(2026, 3, 3, 9))
    resume(order, personas["dispatcher"], at(2026, 3, 3, 15))
    events = list(
        CaseEvent.objects.filter(
            case=order.case, kind__in=[EventKind.CLOCK_PAUSED, EventKind.CLOCK_RESUMED, EventKind.EXTENSION_REQUESTED, EventKind.EXTENSION_DECIDED]
        )
        .order_by("id")
        .values_list("kind", "data__supervision", "unit_id")
    )
    assert events == [(EventKind.CLOCK_PAUSED, "clock_paused", order.unit_id), (EventKind.CLOCK_RESUMED, "clock_resumed", order.sent_by_unit_id)]
    audit = list(AuditEntry.objects.filter(object_type="supervision.clockpause", object_id=str(paused.pk)).order_by("id").values_list("event", "actor_id"))
    assert audit == [("supervision.pause_clocks", personas["handler"].pk), ("supervision.resume_clocks", personas["dispatcher"].pk)]


def test_only_one_pause_at_a_time_and_only_while_handling(org, personas):
    order = signed(org, personas)
    pause(order, personas, at(2026, 3, 3, 9))
    with pytest.raises(Conflict):
        pause(order, personas, at(2026, 3, 3, 10))
    assert ClockPause.objects.filter(work_order=order).count() == 1
    sent_only = send(org, personas, when=MONDAY_10)
    with pytest.raises(Conflict):
        pause(sent_only, personas, at(2026, 3, 3, 9))
    with pytest.raises(Conflict):
        resume(sent_only, personas["handler"], at(2026, 3, 3, 9))
    assert not ClockPause.objects.filter(work_order=sent_only).exists()


def test_a_pause_needs_a_known_reason_and_details_for_other(org, personas):
    order = signed(org, personas)
    with pytest.raises(ValidationError) as error:
        pause(order, personas, at(2026, 3, 3, 9), reason_code=PauseReason.REVIEW)
    assert "reason_code" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        pause(order, personas, at(2026, 3, 3, 9), reason_code=PauseReason.OTHER, reason=" ")
    assert "reason" in error.value.message_dict
    assert not ClockPause.objects.exists()
    assert not WorkOrderClock.objects.filter(paused_at__isnull=False).exists()


def test_completion_ends_an_open_pause(org, personas):
    order = signed(org, personas)
    with frozen(at(2026, 3, 2, 14)):
        order = case_services.record_first_contact(work_order=order, by=personas["handler"], note="电话联系。")
    pause(order, personas, at(2026, 3, 3, 9))
    with frozen(at(2026, 3, 4, 9)):
        case_services.complete_work_order(work_order=order, by=personas["handler"], result="当事人撤回。")
    assert ClockPause.objects.get(work_order=order).ended_at == at(2026, 3, 4, 9)
    resolution = clock(order, ClockKind.RESOLUTION)
    # Handling time: Monday 10:00–18:00 only (6 h); Tuesday and Wednesday were paused.
    assert (resolution.stopped_at, resolution.paused_at, resolution.elapsed_working_seconds) == (at(2026, 3, 4, 9), None, 6 * 3600)


# --- extensions ------------------------------------------------------------------------------------------


def test_an_approved_extension_moves_the_resolution_deadline(org, personas):
    order = signed(org, personas)
    extension = ask(order, personas, 3)
    assert (extension.status, extension.day_unit, extension.needs_supervisor) == (ExtensionStatus.PENDING, DayUnit.WORKING, False)
    decided = decide(extension, personas["dispatcher"])
    assert (decided.status, decided.decided_by, decided.decided_at) == (ExtensionStatus.APPROVED, personas["dispatcher"], at(2026, 3, 4, 15))
    resolution = clock(order, ClockKind.RESOLUTION)
    assert (resolution.due_at, resolution.original_due_at, resolution.extended_by_days) == (at(2026, 3, 12, 18), at(2026, 3, 9, 18), 3)
    # The other clocks keep their deadlines.
    assert clock(order, ClockKind.UPDATE).due_at == at(2026, 3, 9, 18)
    entry = AuditEntry.objects.get(event="supervision.decide_extension", object_id=str(extension.pk))
    assert entry.changes["status"] == ["pending", "approved"]
    event = CaseEvent.objects.get(case=order.case, data__supervision="extension_decided")
    assert (event.visibility, event.public_text) == ("public", "The handling time of your request has been extended.")


def test_the_petitioner_reads_the_extension_in_her_language(org, personas):
    order = signed(org, personas)
    decide(ask(order, personas, 3), personas["dispatcher"])
    event = CaseEvent.objects.get(case=order.case, kind=EventKind.EXTENSION_DECIDED)
    with translation.override("zh-hans"):
        assert event.public_message == "您的诉求办理期限已延长。"


def test_more_time_must_be_asked_for_before_the_deadline(org, personas):
    order = signed(org, personas)
    with pytest.raises(Conflict, match="before the resolution deadline"):
        ask(order, personas, 3, when=at(2026, 3, 9, 18, 1))
    assert not Extension.objects.filter(work_order=order).exists()
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 9, 18)


def test_an_extension_asked_in_time_but_approved_after_the_deadline_rejudges_the_clock(org, personas):
    order = signed(org, personas)
    extension = ask(order, personas, 3, when=at(2026, 3, 9, 17))
    with frozen(at(2026, 3, 9, 18, 30)):
        sweep()
        missed = clock(order, ClockKind.RESOLUTION)
        assert (missed.breached, missed.state()) == (True, ClockState.OVERDUE)
    decide(extension, personas["dispatcher"], when=at(2026, 3, 10, 9))
    resolution = clock(order, ClockKind.RESOLUTION)
    assert resolution.due_at == at(2026, 3, 12, 18)
    assert resolution.breached is False
    with frozen(at(2026, 3, 10, 9)):
        assert resolution.state() in (ClockState.RUNNING, ClockState.WARNING, ClockState.LATE)
    # Completed within the approved deadline, it is met; the earlier reminder stays on record.
    with frozen(at(2026, 3, 12, 10)):
        case_services.record_first_contact(work_order=order, by=personas["handler"], note="已联系。")
        case_services.complete_work_order(work_order=order, by=personas["handler"], result="已补发工资。")
    assert clock(order, ClockKind.RESOLUTION).state() == ClockState.MET
    assert CaseEvent.objects.filter(case=order.case, kind=EventKind.CHASED).exists()


def test_a_refusal_needs_a_note_and_changes_no_deadline(org, personas):
    order = signed(org, personas)
    extension = ask(order, personas, 3)
    with pytest.raises(ValidationError):
        decide(extension, personas["dispatcher"], approve=False)
    assert Extension.objects.get(pk=extension.pk).status == ExtensionStatus.PENDING
    decide(extension, personas["dispatcher"], approve=False, note="仲裁不影响办理。")
    assert Extension.objects.get(pk=extension.pk).status == ExtensionStatus.REFUSED
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 9, 18)
    with pytest.raises(Conflict):
        decide(extension, personas["dispatcher"])


def test_more_than_ten_working_days_needs_a_supervisor(org, personas):
    order = signed(org, personas)
    extension = ask(order, personas, 11)
    assert extension.needs_supervisor
    with pytest.raises(AuthorisationError):
        decide(extension, personas["dispatcher"])
    assert Extension.objects.get(pk=extension.pk).status == ExtensionStatus.PENDING
    assert clock(order, ClockKind.RESOLUTION).extended_by_days == 0
    # The sending unit may still refuse it; a supervisor over the area approves it.
    decide(extension, personas["supervisor"])
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 24, 18)


def test_a_second_extension_needs_a_supervisor(org, personas):
    order = signed(org, personas)
    decide(ask(order, personas, 2), personas["dispatcher"])
    second = ask(order, personas, 1, when=at(2026, 3, 5, 10))
    assert second.needs_supervisor
    with pytest.raises(AuthorisationError):
        decide(second, personas["dispatcher"], when=at(2026, 3, 5, 11))
    with pytest.raises(PermissionDenied):
        decide(second, personas["supervisor_twin"], when=at(2026, 3, 5, 11))
    decide(second, personas["supervisor"], when=at(2026, 3, 5, 11))
    resolution = clock(order, ClockKind.RESOLUTION)
    assert (resolution.extended_by_days, resolution.due_at) == (3, at(2026, 3, 12, 18))


def test_only_one_request_waits_at_a_time(org, personas):
    order = signed(org, personas)
    ask(order, personas, 2)
    with pytest.raises(Conflict):
        ask(order, personas, 3)
    assert Extension.objects.filter(work_order=order).count() == 1


def test_letters_and_visits_get_one_extension_of_at_most_thirty_days(org, personas):
    order = signed(org, personas, time_class=TimeClass.LETTERS_AND_VISITS)
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 5, 7)
    with pytest.raises(ValidationError) as error:
        ask(order, personas, 31)
    assert "days" in error.value.message_dict
    assert not Extension.objects.exists()
    extension = ask(order, personas, 30)
    assert (extension.day_unit, extension.needs_supervisor) == (DayUnit.CALENDAR, False)
    decide(extension, personas["dispatcher"])
    # 30 days after 24:00 of 6 May: 24:00 of Friday 5 June.
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 6, 6)
    with pytest.raises(ValidationError):
        ask(order, personas, 1, when=at(2026, 3, 5, 10))
    assert Extension.objects.filter(work_order=order).count() == 1


def test_a_supervisor_cannot_approve_past_the_letters_and_visits_limit(org, personas):
    order = signed(org, personas, time_class=TimeClass.LETTERS_AND_VISITS)
    with pytest.raises(ValidationError):
        ask(order, personas, 45)
    decide(ask(order, personas, 10), personas["supervisor"])
    with pytest.raises(ValidationError):
        ask(order, personas, 20, when=at(2026, 3, 5, 10))
    assert clock(order, ClockKind.RESOLUTION).extended_by_days == 10


def test_an_extension_during_a_pause_counts_from_the_paused_deadline(org, personas):
    order = signed(org, personas)
    pause(order, personas, at(2026, 3, 3, 9))
    decide(ask(order, personas, 1, when=at(2026, 3, 3, 10)), personas["dispatcher"], when=at(2026, 3, 3, 11))
    resolution = clock(order, ClockKind.RESOLUTION)
    # While paused the deadline stays as it was; it is recomputed when the clocks run again.
    assert (resolution.paused_at, resolution.extended_by_days, resolution.due_at) == (at(2026, 3, 3, 9), 1, at(2026, 3, 9, 18))
    resume(order, personas["handler"], at(2026, 3, 5, 9))
    # Two working days paused and one extended: Thursday 12 March.
    assert clock(order, ClockKind.RESOLUTION).due_at == at(2026, 3, 12, 18)
