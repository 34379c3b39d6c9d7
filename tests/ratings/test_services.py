"""Rating rounds, ratings, return visits and rework, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from rightscare.audit.models import AuditEntry
from rightscare.cases import services as case_services
from rightscare.cases.models import CaseEvent, CaseStatus, EventKind, WorkOrderStatus
from rightscare.core.errors import AuthorisationError, Conflict
from rightscare.org import access
from rightscare.org.models import Membership
from rightscare.org.roles import Role
from rightscare.ratings import services
from rightscare.ratings.models import Rating, RatingRound, ReturnVisitAttempt, ReturnVisitReason, RoundStatus
from rightscare.ratings.public import submit_public_rating
from rightscare.supervision.models import ClockKind
from tests.ratings.helpers import resolved_case, unsatisfied_case

pytestmark = pytest.mark.django_db

GOOD = services.RatingInput(solved="yes", speed=5, quality=4, comment="谢谢。")


def _kinds(case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))


def test_resolution_opens_round_one_due_after_the_wait(org, personas, settings) -> None:
    settings.RATING_WAIT_DAYS = 7
    case, _order = resolved_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    assert (round_.number, round_.status) == (1, RoundStatus.OPEN)
    assert round_.opened_at == case.resolved_at
    assert round_.rating_due_at == case.resolved_at + timedelta(days=7)
    assert round_.next_check_at == round_.rating_due_at


def test_public_rating_closes_the_round_once(org, personas) -> None:
    case, _order = resolved_case(org, personas)
    rating = submit_public_rating(case=case, solved="partly", speed=4, quality=3, comment="还行。", idempotency_key="k1")
    again = submit_public_rating(case=case, solved="no", speed=1, quality=1, idempotency_key="k1")
    assert again.pk == rating.pk  # the same key answers with the first rating
    with pytest.raises(Conflict):
        submit_public_rating(case=case, solved="no", speed=1, quality=1, idempotency_key="k2")
    round_ = RatingRound.objects.get(case=case)
    assert round_.status == RoundStatus.RATED
    assert round_.return_visit_since is None  # partly solved, 4 and 3: satisfied
    assert Rating.objects.filter(case=case).count() == 1
    assert _kinds(case).count(EventKind.RATED) == 1


def test_the_database_allows_one_rating_per_round(org, personas) -> None:
    case, _order = resolved_case(org, personas)
    first = submit_public_rating(case=case, solved="yes", speed=5, quality=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(round=first.round, case=case, round_number=1, solved="no", speed=1, quality=1, channel="public", created_at=timezone.now())


@pytest.mark.parametrize(("field", "value"), [("solved", "maybe"), ("speed", 0), ("quality", 6)])
def test_bad_values_are_refused_and_change_nothing(org, personas, field, value) -> None:
    case, _order = resolved_case(org, personas)
    answers = {"solved": "yes", "speed": 5, "quality": 5, field: value}
    with pytest.raises(ValidationError) as error:
        submit_public_rating(case=case, **answers)
    assert field in error.value.message_dict
    assert RatingRound.objects.get(case=case).status == RoundStatus.OPEN
    assert not Rating.objects.exists()


def test_unsatisfied_rating_goes_to_the_return_visit_queue(org, personas) -> None:
    case, _order = unsatisfied_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    assert round_.return_visit_reason == ReturnVisitReason.UNSATISFIED
    assert list(services.return_visit_queue(personas["return_visit"])) == [round_]
    assert list(services.return_visit_queue(personas["handler"])) == []


def test_sweep_queues_an_unrated_round_once(org, personas, settings) -> None:
    settings.RATING_WAIT_DAYS = 7
    case, _order = resolved_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    assert services.sweep(now=round_.rating_due_at - timedelta(seconds=1)).queued == 0
    later = round_.rating_due_at + timedelta(minutes=1)
    assert services.sweep(now=later).queued == 1
    assert services.sweep(now=later).queued == 0  # idempotent
    round_.refresh_from_db()
    assert (round_.return_visit_reason, round_.return_visit_since, round_.next_check_at) == (ReturnVisitReason.NO_RATING, later, None)
    assert _kinds(case).count(EventKind.RETURN_VISIT) == 1
    assert list(services.return_visit_queue(personas["return_visit"])) == [round_]


def test_phone_rating_by_an_officer_outside_the_handling_units(org, personas) -> None:
    case, _order = resolved_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    attempt = services.record_return_visit(round_=round_, by=personas["return_visit"], reached=True, note="已回访。", rating=GOOD)
    assert (attempt.number, attempt.reached, attempt.unit_id) == (1, True, org.units["city"].pk)
    rating = Rating.objects.get(round=round_)
    assert (rating.channel, rating.taken_by_id, rating.taken_by_unit_id, rating.solved) == ("phone", personas["return_visit"].pk, org.units["city"].pk, "yes")
    round_.refresh_from_db()
    assert round_.status == RoundStatus.RATED and round_.return_visit_done_at is not None
    assert AuditEntry.objects.filter(event="ratings.record_return_visit").count() == 1


def test_handling_unit_may_not_collect_its_own_rating(org, personas) -> None:
    case, _order = resolved_case(org, personas)
    officer = personas["handler"]
    Membership.objects.create(user=officer, unit=org.units["pingshan_street"], role=Role.RETURN_VISIT_OFFICER)
    access.forget_grants(officer)
    round_ = RatingRound.objects.get(case=case)
    with pytest.raises(AuthorisationError, match="Your unit is handling this case"):
        services.record_return_visit(round_=round_, by=officer, reached=True, rating=GOOD)
    assert not ReturnVisitAttempt.objects.exists() and not Rating.objects.exists()


def test_others_may_not_take_ratings(org, personas) -> None:
    case, _order = resolved_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    for name in ("dispatcher", "supervisor", "handler"):
        with pytest.raises(PermissionDenied):
            services.record_return_visit(round_=round_, by=personas[name], reached=False)
    assert not ReturnVisitAttempt.objects.exists()


def test_reached_on_an_unrated_round_needs_the_rating(org, personas) -> None:
    case, _order = resolved_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    with pytest.raises(ValidationError):
        services.record_return_visit(round_=round_, by=personas["return_visit"], reached=True)
    assert not ReturnVisitAttempt.objects.exists()


def test_three_calls_without_reaching_her_close_the_case_as_unreachable(org, personas, settings) -> None:
    settings.RETURN_VISIT_MAX_ATTEMPTS = 3
    case, _order = resolved_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    officer = personas["return_visit"]
    for _call in range(2):
        services.record_return_visit(round_=round_, by=officer, reached=False, note="无人接听。")
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    services.record_return_visit(round_=round_, by=officer, reached=False, note="关机。")
    round_.refresh_from_db()
    case.refresh_from_db()
    assert round_.status == RoundStatus.UNREACHABLE
    assert case.status == CaseStatus.CLOSED
    assert CaseEvent.objects.get(case=case, kind=EventKind.CLOSED).data == {"reason": "unreachable"}
    with pytest.raises(Conflict):
        services.record_return_visit(round_=round_, by=officer, reached=False)
    assert ReturnVisitAttempt.objects.filter(round=round_).count() == 3


def test_a_case_under_safety_follow_up_is_never_closed_automatically(org, personas, settings, monkeypatch) -> None:
    settings.RETURN_VISIT_MAX_ATTEMPTS = 1
    monkeypatch.setattr(services, "under_safety_follow_up", lambda case: True)
    case, _order = resolved_case(org, personas)
    round_ = RatingRound.objects.get(case=case)
    services.record_return_visit(round_=round_, by=personas["return_visit"], reached=False)
    case.refresh_from_db()
    round_.refresh_from_db()
    assert round_.status == RoundStatus.UNREACHABLE
    assert case.status == CaseStatus.RESOLVED
    assert not CaseEvent.objects.filter(case=case, kind=EventKind.CLOSED).exists()


def test_rework_reopens_the_lead_order_with_a_new_clock_and_a_new_round_follows(org, personas) -> None:
    case, _order = unsatisfied_case(org, personas)
    dispatcher, handler = personas["dispatcher"], personas["handler"]
    with time_machine.travel(timezone.now() + timedelta(days=3), tick=False):
        reworked = services.send_back_for_rework(case=case, by=dispatcher, reason="企业仍未支付。")
        now = timezone.now()
    assert reworked.status == WorkOrderStatus.IN_PROGRESS
    case.refresh_from_db()
    assert (case.status, case.resolved_at) == (CaseStatus.IN_PROGRESS, None)
    assert _kinds(case)[-2:] == [EventKind.REOPENED, EventKind.REWORK]
    resolution = reworked.clocks.get(kind=ClockKind.RESOLUTION)
    assert (resolution.started_at, resolution.stopped_at, resolution.breached) == (now, None, False)
    assert resolution.due_at > now
    assert AuditEntry.objects.filter(event="cases.rework_work_order").count() == 1
    # The next resolution opens round 2.
    case_services.complete_work_order(work_order=reworked, by=handler, result="已全额支付。")
    case_services.review_work_order(work_order=reworked, by=dispatcher, accept=True)
    assert list(RatingRound.objects.filter(case=case).values_list("number", "status")) == [(1, RoundStatus.RATED), (2, RoundStatus.OPEN)]
    # Until round 2 is rated, round 1's rating is the case's latest; then round 2's takes its place.
    assert list(Rating.objects.filter(case=case).values_list("round_number", "latest")) == [(1, True)]
    submit_public_rating(case=case, solved="yes", speed=5, quality=5)
    assert list(Rating.objects.filter(case=case).values_list("round_number", "latest")) == [(1, False), (2, True)]


def test_the_database_keeps_one_latest_rating_per_case(org, personas) -> None:
    case, _order = unsatisfied_case(org, personas)
    first = Rating.objects.get(case=case)
    second_round = RatingRound.objects.create(case=case, number=2, opened_at=timezone.now(), rating_due_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(
            round=second_round, case=case, round_number=2, solved="yes", speed=5, quality=5, channel="public", created_at=timezone.now(), latest=True
        )
    assert first.latest


def test_rework_of_a_closed_case_reopens_it(org, personas) -> None:
    case, _order = unsatisfied_case(org, personas)
    case_services.close_case(case=case, by=personas["dispatcher"])
    services.send_back_for_rework(case=case, by=personas["dispatcher"], reason="重新处理。")
    case.refresh_from_db()
    assert (case.status, case.closed_at) == (CaseStatus.IN_PROGRESS, None)


def test_rework_needs_an_unsatisfied_rating_and_the_dispatching_unit(org, personas) -> None:
    case, order = resolved_case(org, personas)
    with pytest.raises(Conflict):
        services.send_back_for_rework(case=case, by=personas["dispatcher"], reason="x")  # not rated yet
    submit_public_rating(case=case, solved="yes", speed=5, quality=5)
    with pytest.raises(Conflict):
        services.send_back_for_rework(case=case, by=personas["dispatcher"], reason="x")  # satisfied
    other, _o = unsatisfied_case(org, personas)
    for name in ("handler", "supervisor", "return_visit", "dispatcher_twin"):
        with pytest.raises(PermissionDenied):
            services.send_back_for_rework(case=other, by=personas[name], reason="x")
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.ACCEPTED
    assert not CaseEvent.objects.filter(kind=EventKind.REWORK).exists()
