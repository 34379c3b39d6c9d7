"""Submitting through the service: the contact, its details and the tracking code, and the
code's life through confirmation, merging and rejection."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rightscare.cases import services as cases
from rightscare.cases.models import Case, CaseStatus
from rightscare.intake.models import Contact, ReviewState
from rightscare.petitioners import codes, services
from rightscare.petitioners.models import Submission, TrackingCode


def test_submission_lands_in_the_intake_queue_with_a_code(org, personas, submit):
    result = submit()
    contact = Contact.objects.get(pk=result.contact.pk)
    assert (contact.channel, contact.operator_id, contact.unit_id, contact.review_state, contact.case_id) == (
        "web_form",
        None,
        org.units["pingshan"].pk,
        ReviewState.PENDING,
        None,
    )
    assert contact.caller_phone == "+8613800138000"
    details = Submission.objects.get(contact=contact)
    assert (details.anonymous, details.name, details.may_call, details.may_text) == (True, "", True, False)
    assert result.case is None
    assert len(result.code) == 19 and result.code.count("-") == 3
    assert result.pin.isdigit() and len(result.pin) == 6
    assert result.expected_at is not None
    assert list(services.pending_submissions_for(personas["operator"])) == [contact]
    assert list(services.pending_submissions_for(personas["operator_twin"])) == []


def test_only_digests_are_stored(submit):
    result = submit()
    tracking = TrackingCode.objects.get(contact=result.contact)
    normalised = codes.normalise(result.code)
    assert normalised is not None
    assert normalised not in tracking.code_digest and result.pin not in tracking.pin_hash
    assert tracking.code_digest == codes.digest(normalised)
    assert services.find_tracking(result.code.lower().replace("-", " ")) == tracking
    assert services.check_pin(tracking, result.pin) is True
    assert services.check_pin(tracking, "000000" if result.pin != "000000" else "111111") is False
    assert services.check_pin(None, result.pin) is False


def test_codes_are_random_and_long(submit):
    first, second = submit(), submit(phone="138 0013 8001")
    assert first.code != second.code
    # 16 characters of a 32-letter alphabet: 80 bits.
    assert codes.CODE_LENGTH * 5 >= 60
    assert set(codes.normalise(first.code) or "") <= set(codes.ALPHABET)


def test_unknown_and_malformed_codes_find_nothing(submit):
    submit()
    assert services.find_tracking("0000-0000-0000-0000") is None
    assert services.find_tracking("not a code") is None


def test_invalid_submission_records_nothing(org, submit):
    with pytest.raises(ValidationError) as raised:
        submit(description=" ", phone="12", anonymous=False)
    assert set(raised.value.message_dict) == {"description", "phone"}
    assert Contact.objects.count() == 0 and TrackingCode.objects.count() == 0


def test_anonymous_without_phone_may_not_ask_to_be_called(submit):
    with pytest.raises(ValidationError) as raised:
        submit(phone="", may_call=True)
    assert list(raised.value.message_dict) == ["phone"]
    result = submit(phone="", may_call=False, may_text=False)
    assert result.contact.caller_phone == ""


def test_same_key_creates_one_record_and_reissues_the_code(submit):
    first = submit(idempotency_key="form-123")
    again = submit(idempotency_key="form-123")
    assert Contact.objects.count() == 1 and TrackingCode.objects.count() == 1
    assert (again.contact.pk, again.created) == (first.contact.pk, False)
    assert again.code != first.code
    assert services.find_tracking(first.code) is None
    assert services.find_tracking(again.code) is not None


def test_too_many_submissions_per_phone(submit, settings):
    settings.PUBLIC_RATE_LIMITS = {**settings.PUBLIC_RATE_LIMITS, "submit_phone": (2, 86400)}
    submit()
    submit()
    with pytest.raises(services.RateLimited):
        submit()
    assert Contact.objects.count() == 2
    submit(phone="138 0013 8009")
    assert Contact.objects.count() == 3


def test_status_before_checking(submit):
    tracking = services.find_tracking(submit().code)
    status = services.public_status(tracking)
    assert (status.state, status.label, status.finished) == ("received", "Received, waiting to be checked", False)
    assert status.expected_at is not None


def _confirm(result, personas, org, category):
    contact = Contact.objects.get(pk=result.contact.pk)
    return services.confirm_submission(
        contact=contact,
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=category,
        region=org.regions["pingshan_community"],
        summary=contact.content,
    )


def test_code_survives_confirmation(submit, personas, org, category):
    result = submit()
    case = _confirm(result, personas, org, category)
    contact = Contact.objects.get(pk=result.contact.pk)
    assert (contact.case_id, contact.review_state, contact.reviewed_by_id) == (case.pk, ReviewState.CONFIRMED, personas["operator"].pk)
    assert contact.caller is not None and contact.caller.safe_contact.may_text is False
    tracking = services.find_tracking(result.code)
    assert services.current_case(tracking) == case
    assert services.public_status(tracking).state == "registered"
    assert [note.message for note in services.public_timeline(tracking)] == ["Your request was received.", "Your request has been registered."]


def test_confirming_twice_is_refused(submit, personas, org, category):
    result = submit()
    _confirm(result, personas, org, category)
    with pytest.raises(ValidationError):
        _confirm(result, personas, org, category)
    assert Case.objects.count() == 1


def test_outside_the_queue_nothing_is_confirmed(submit, personas, org, category):
    result = submit()
    with pytest.raises(PermissionDenied):
        services.confirm_submission(
            contact=result.contact,
            by=personas["operator_twin"],
            unit=org.units["longhua"],
            request_type="help",
            category=category,
            region=org.regions["longhua_community"],
            summary="x",
        )
    assert Case.objects.count() == 0
    assert Contact.objects.get(pk=result.contact.pk).review_state == ReviewState.PENDING


def test_code_follows_merges(submit, personas, org, category):
    result = submit()
    case = _confirm(result, personas, org, category)
    other = cases.register_case(
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=category,
        summary="同一件事。",
        region=org.regions["pingshan_community"],
    )
    cases.merge_case(case=case, into=other, by=personas["dispatcher"], reason="重复")
    tracking = services.find_tracking(result.code)
    assert services.current_case(tracking) == other
    status = services.public_status(tracking)
    assert (status.state, status.merged) == ("registered", True)
    messages = [note.message for note in services.public_timeline(tracking)]
    assert messages[-1] == "Your request was joined with another one about the same matter."


def test_code_survives_attaching_to_a_case(submit, personas, org, category):
    result = submit()
    case = cases.register_case(
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=category,
        summary="已登记。",
        region=org.regions["pingshan_community"],
    )
    services.attach_submission(contact=Contact.objects.get(pk=result.contact.pk), case=case, by=personas["operator"])
    assert services.current_case(services.find_tracking(result.code)) == case


def test_rejection_shows_not_accepted(submit, personas):
    result = submit()
    services.reject_submission(contact=Contact.objects.get(pk=result.contact.pk), by=personas["dispatcher"], reason="不属于受理范围。")
    tracking = services.find_tracking(result.code)
    status = services.public_status(tracking)
    assert (status.state, status.label, status.finished) == ("not_accepted", "Not accepted", True)
    assert services.public_timeline(tracking)[-1].message == "Your request was not accepted: 不属于受理范围。"
    assert services.public_details(tracking).unit_name == org_unit_name(personas)


def org_unit_name(personas) -> str:
    return "Pingshan District Women's Federation"


def test_expected_date_comes_from_the_lead_resolution_clock(submit, personas, org, category):
    from rightscare.supervision.models import ClockKind, WorkOrderClock

    result = submit()
    case = _confirm(result, personas, org, category)
    [order] = cases.dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=org.units["pingshan_street"])
    tracking = services.find_tracking(result.code)
    status = services.public_status(tracking)
    clock = WorkOrderClock.objects.filter(work_order=order, kind=ClockKind.RESOLUTION).first()
    assert clock is not None
    assert (status.state, status.expected_at) == ("sent", clock.due_at)
    details = services.public_details(tracking)
    assert details.unit_name == org.units["pingshan_street"].display_name


def test_trusted_channel_registers_a_case_at_once(submit, personas, org, settings):
    from rightscare.org.models import Membership
    from tests.factories import UserFactory

    service = UserFactory(username="public-intake")
    Membership.objects.create(user=service, unit=org.units["pingshan"], role="intake_operator")
    settings.PUBLIC_INTAKE_USER = "public-intake"
    result = submit(trusted=True)
    assert result.case is not None and result.case.status == CaseStatus.REGISTERED
    assert Contact.objects.get(pk=result.contact.pk).review_state == ReviewState.CONFIRMED
    assert services.current_case(services.find_tracking(result.code)) == result.case


def test_trusted_without_a_service_account_waits_in_the_queue(submit):
    result = submit(trusted=True)
    assert result.case is None and Contact.objects.get(pk=result.contact.pk).review_state == ReviewState.PENDING


def test_fixed_codes_only_in_demo_and_tests(submit, settings):
    result = submit()
    settings.TESTING, settings.DEMO = False, False
    with pytest.raises(ValueError):
        services.issue_tracking_code(channel="web_form", contact=result.contact, code="DEM0-ZHA0-CASE-0001", pin="246810")
