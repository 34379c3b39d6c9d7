"""The bench-data generator at a tiny scale: deterministic, consistent, and scoped like real data.

On PostgreSQL the rows go in by COPY, elsewhere by bulk_create: running this module on
both databases tests both writers.
"""

from __future__ import annotations

import datetime
import io
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from rightscare.cases import deadlines, selectors, services
from rightscare.cases.benchclocks import check_against_services
from rightscare.cases.benchdata import FIRST_SYNTHETIC_PROVINCE, BenchDataError, Shape, _UnitWithoutCalendar, generate
from rightscare.cases.models import Case, CaseEvent, Category, RequestType, WorkOrder
from rightscare.core import identity
from rightscare.intake.models import Contact
from rightscare.org.models import Membership, Region, Unit, User
from rightscare.org.roles import Role
from rightscare.ratings import services as ratings
from rightscare.ratings.models import Rating, RatingChannel, RatingRound, ReturnVisitAttempt, RoundStatus
from rightscare.registry.models import Person, PersonPhone
from rightscare.supervision import chasing, clocks, sweep
from rightscare.supervision.models import CLOCK_ORDER, Chase, ClockPause, SafetyFollowUp, WorkOrderClock
from tests.cases import invariants

UNTIL = timezone.make_aware(datetime.datetime(2026, 3, 2))
TINY = Shape(provinces=1, cities=1, districts=2, streets=2, communities=2)
CASES = 200


def run(seed: int = 7, cases: int = CASES) -> Any:
    return generate(cases=cases, seed=seed, shape=TINY, years=2, until=UNTIL, chunk=64, progress=False)


def fingerprint() -> dict[str, Any]:
    """Everything generated, as plain values (ciphertexts differ from run to run: their plaintexts must not)."""
    return {
        "regions": list(Region.objects.order_by("pk").values_list("pk", "name", "code", "path", "level")),
        "units": list(Unit.objects.order_by("pk").values_list("pk", "name", "kind__code", "path")),
        "users": list(User.objects.order_by("pk").values_list("pk", "username", "full_name")),
        "people": [(p.pk, p.name, p.sex, p.date_of_birth, p.id_number, p.address) for p in Person.objects.order_by("pk")],
        "phones": [(p.person_id, p.phone, p.phone_index, p.respondent_flag) for p in PersonPhone.objects.order_by("pk")],
        "cases": [
            (c.pk, c.public_id, c.number, c.category_id, c.status, c.region_id, c.address, c.created_at, c.version, c.petitioner_id)
            for c in Case.objects.order_by("pk")
        ],
        "orders": list(WorkOrder.objects.order_by("pk").values_list("pk", "case_id", "unit_id", "role", "status", "version", "parent_id", "return_deadline")),
        "events": list(CaseEvent.objects.order_by("pk").values_list("pk", "case_id", "kind", "at", "work_order_id", "data")),
        "contacts": [(c.pk, c.case_id, c.channel, c.caller_phone, c.content) for c in Contact.objects.order_by("pk")],
        "clocks": list(WorkOrderClock.objects.order_by("pk").values_list("work_order_id", "kind", "due_at", "stopped_at", "breached", "next_check_at")),
        "chases": list(Chase.objects.order_by("pk").values_list("work_order_id", "level", "at", "by_unit_id", "escalate_at")),
        "follow_ups": list(SafetyFollowUp.objects.order_by("pk").values_list("case_id", "opened_at", "ended_at", "reminded_at")),
        "rounds": list(RatingRound.objects.order_by("pk").values_list("case_id", "number", "status", "closed_at", "return_visit_since", "version")),
        "ratings": list(Rating.objects.order_by("pk").values_list("round_id", "solved", "speed", "quality", "channel", "created_at", "taken_by_id")),
        "calls": list(ReturnVisitAttempt.objects.order_by("pk").values_list("round_id", "number", "at", "reached", "by_id")),
    }


@pytest.fixture
def bench(db):
    report = run()
    return report


def test_writes_the_cases_and_the_organisation(bench):
    assert bench.counts["cases"] == CASES == Case.objects.count()
    assert bench.method == ("COPY" if connection.vendor == "postgresql" else "bulk_create")
    # 1 province, 1 city, 2 districts, 4 streets, 8 communities.
    assert Counter(Region.objects.values_list("level", flat=True)) == {"province": 1, "city": 1, "district": 2, "street": 4, "community": 8}
    assert bench.counts["workorder"] == WorkOrder.objects.count() > CASES // 2
    assert bench.counts["caseevent"] == CaseEvent.objects.count()


def test_is_deterministic_for_a_seed(db):
    with transaction.atomic():
        run()
        first = fingerprint()
        transaction.set_rollback(True)
    with transaction.atomic():
        run()
        again = fingerprint()
        transaction.set_rollback(True)
    run(seed=8)
    other = fingerprint()
    assert first == again
    assert first["cases"] != other["cases"]


def test_every_invariant_the_services_keep_holds(bench):
    assert invariants.problems() == []


def test_clocks_and_chases_are_what_the_services_and_the_sweep_would_have_written(bench):
    """Four clocks per order, in step with its history, computed as supervision.clocks does; chases only on overdue orders.

    The sweep run at the end of the generated history finds nothing left to send.
    """
    spec = deadlines.calendar_for(_UnitWithoutCalendar())
    orders = {order.pk: order for order in WorkOrder.objects.select_related("case", "unit", "sent_by_unit")}
    own: dict[int, dict[str, WorkOrderClock]] = defaultdict(dict)
    for clock in WorkOrderClock.objects.select_related("policy", "alternative_policy"):
        own[clock.work_order_id][clock.kind] = clock
    pauses = defaultdict(list)
    for pause in ClockPause.objects.all():
        pauses[pause.work_order_id].append((pause.started_at, pause.ended_at))
    found: list[str] = []
    overdue_orders = set()
    for pk, order in orders.items():
        assert set(own[pk]) == set(CLOCK_ORDER), pk
        sign, contact, resolution = own[pk]["sign_for"], own[pk]["first_contact"], own[pk]["resolution"]
        left = order.status in {"returned", "transferred"}
        assert (sign.stopped_at is None) == (order.signed_at is None and not left), pk
        if order.signed_at is not None:
            assert sign.stopped_at == order.signed_at and sign.stop_reason == "done"
        if order.first_contact_at is not None:
            assert contact.stopped_at == order.first_contact_at
        assert (resolution.stopped_at is None) == (order.status in chasing.CHASEABLE_STATUSES), pk
        if order.status in {"completed", "accepted"}:
            assert resolution.stopped_at == order.completed_at and resolution.stop_reason == "done"
        if left:
            assert {c.stop_reason for c in own[pk].values() if c.stopped_at == order.returned_at} <= {"returned"}
        for clock in own[pk].values():
            if clock.stopped_at is not None:
                assert clock.next_check_at is None
                if clock.stopped_at > clock.due_at:
                    assert clock.breached, clock.pk
                elif clock.breached:  # a gap missed before a restart, or a deadline missed before a send-back
                    assert clock.restarts or pauses[pk], clock.pk
            else:
                assert order.status in chasing.CHASEABLE_STATUSES
                assert clock.breached == (clock.due_at <= UNTIL), clock.pk
                assert clock.next_check_at == clocks.next_check(clock) and (clock.next_check_at is None or clock.next_check_at > UNTIL)
                if clock.due_at <= UNTIL:
                    overdue_orders.add(pk)
            found += check_against_services(spec, clock, pauses[pk], order.time_class)
    assert found == [], "\n".join(found)
    chases = list(Chase.objects.select_related("clock"))
    assert {chase.work_order_id for chase in chases} == overdue_orders != set()
    for chase in chases:
        order = orders[chase.work_order_id]
        assert chase.automatic and (chase.escalate_at is None or chase.escalate_at > UNTIL)
        parent = chasing.parent_unit(order)
        assert chase.by_unit_id == (chasing.city_unit(parent).pk if chase.level == "listed" else parent.pk)
        if chase.level == "reminder":
            assert chase.at == chase.clock_due_at == chase.clock.due_at and chase.clock.due_notified_at == chase.clock.due_at
    levels = Counter(chase.level for chase in chases)
    assert levels["reminder"] >= len(overdue_orders) and levels["supervision"] > 0
    assert CaseEvent.objects.filter(kind="chased").count() == len(chases)
    before = (Chase.objects.count(), CaseEvent.objects.count())
    report = sweep.sweep(now=UNTIL)
    assert (report.warnings, report.reminders, report.supervisions, report.listings, report.safety_reminders, report.safety_escalations) == (0,) * 6
    assert (Chase.objects.count(), CaseEvent.objects.count()) == before


def test_resolved_sensitive_cases_are_followed_up_for_safety(bench):
    sensitive = Case.objects.filter(resolved_at__isnull=False, category__domestic_violence=True) | Case.objects.filter(
        resolved_at__isnull=False, category__child_protection=True
    )
    follow_ups = {f.case_id: f for f in SafetyFollowUp.objects.all()}
    assert set(follow_ups) == set(sensitive.values_list("pk", flat=True)) != set()
    assert any(f.ended_at is not None for f in follow_ups.values())
    for case in sensitive:
        follow_up = follow_ups[case.pk]
        assert follow_up.opened_at == case.resolved_at and follow_up.next_review_at == case.resolved_at + datetime.timedelta(days=14)
        if follow_up.ended_at is None:
            assert case.status == "resolved" and (follow_up.next_check_at is None or follow_up.next_check_at > UNTIL)
        else:
            assert follow_up.ended_by_id and follow_up.end_reason and follow_up.next_check_at is None
            assert case.closed_at is None or case.closed_at > follow_up.ended_at


def test_resolved_cases_are_rated_as_the_ratings_services_would_have_written(bench):
    """One round per resolved case, most rated (online first, then by phone), a few unreachable, recent ones open.

    The ratings invariants themselves are in ``invariants.problems`` (checked above); here: the
    proportions the generator documents, and the sweep at the end of the history finding nothing.
    """
    resolved = dict(Case.objects.filter(resolved_at__isnull=False).values_list("pk", "resolved_at"))
    rounds = list(RatingRound.objects.all())
    assert {r.case_id for r in rounds} == set(resolved) and len(rounds) == len(resolved) > 40
    wait = ratings.rating_wait()
    for round_ in rounds:
        assert round_.number == 1 and round_.opened_at == resolved[round_.case_id] and round_.rating_due_at == round_.opened_at + wait
        if round_.status == RoundStatus.OPEN and round_.return_visit_since is None:
            # Not yet due: only a round resolved within the wait is still untouched.
            assert round_.rating_due_at > UNTIL and round_.next_check_at == round_.rating_due_at
    # Of the rounds whose story is over (resolved more than a month before the end): the documented shares.
    settled = [r for r in rounds if r.opened_at < UNTIL - datetime.timedelta(days=30)]
    assert len(settled) > 30
    statuses = Counter(r.status for r in settled)
    assert statuses[RoundStatus.OPEN] == 0
    assert statuses[RoundStatus.RATED] / len(settled) > 0.85 and 0 < statuses[RoundStatus.UNREACHABLE] / len(settled) < 0.15
    channels = Counter(Rating.objects.filter(round__in=settled).values_list("channel", flat=True))
    assert 0.5 < channels[RatingChannel.PUBLIC] / len(settled) < 0.8 and 0.15 < channels[RatingChannel.PHONE] / len(settled) < 0.45
    all_ratings = list(Rating.objects.all())
    unsatisfied = [r for r in all_ratings if r.needs_return_visit]
    assert 0 < len(unsatisfied) / len(all_ratings) < 0.2
    assert sum(r.speed >= 4 and r.quality >= 4 for r in all_ratings) / len(all_ratings) > 0.7
    # Phone ratings are taken by a return-visit officer of the city federation, which handles none of the cases.
    officers = {m.user_id: m.unit_id for m in Membership.objects.filter(role=Role.RETURN_VISIT_OFFICER)}
    assert len(officers) == 1
    for rating in all_ratings:
        assert (rating.taken_by_id is None) == (rating.channel == RatingChannel.PUBLIC)
        if rating.taken_by_id is not None:
            assert officers[rating.taken_by_id] == rating.taken_by_unit_id
    assert not WorkOrder.objects.filter(unit_id__in=officers.values()).exists()
    assert ReturnVisitAttempt.objects.filter(reached=False).exists() and ReturnVisitAttempt.objects.filter(reached=True).exists()
    # An unreachable round closes its case at the last call, unless it was closed already or is held open for her safety.
    follow_ups = {f.case_id: f for f in SafetyFollowUp.objects.all()}
    for round_ in RatingRound.objects.filter(status=RoundStatus.UNREACHABLE).select_related("case"):
        case, at = round_.case, round_.closed_at
        closing = CaseEvent.objects.filter(case=case, kind="closed", data__reason="unreachable")
        held = CaseEvent.objects.filter(case=case, kind="return_visit", at=at, data={})
        follow_up = follow_ups.get(case.pk)
        if case.closed_at is not None and case.closed_at < at:
            assert not closing.exists() and not held.exists()
        elif follow_up is not None and (follow_up.ended_at is None or follow_up.ended_at > at):
            assert held.count() == 1 and not closing.exists()
        else:
            assert case.status == "closed" and case.closed_at == at and closing.get().at == at
    # The sweep run at the end of the generated history finds no round it has not already queued.
    before = (CaseEvent.objects.count(), list(RatingRound.objects.order_by("pk").values_list("version", "return_visit_since")))
    report = ratings.sweep(now=UNTIL)
    assert (report.rounds, report.queued, report.failed) == (0, 0, 0)
    assert (CaseEvent.objects.count(), list(RatingRound.objects.order_by("pk").values_list("version", "return_visit_since"))) == before


def test_the_rating_invariants_see_what_the_services_never_write(bench):
    """The checks the generated ratings pass would catch a rated round reopened, a gap in the rounds, a lost call, a rating unlike its event."""
    rated = RatingRound.objects.filter(status=RoundStatus.RATED).order_by("pk").first()
    unreachable = RatingRound.objects.filter(status=RoundStatus.UNREACHABLE).order_by("pk").first()
    assert rated is not None and unreachable is not None
    RatingRound.objects.filter(pk=rated.pk).update(status=RoundStatus.OPEN)
    CaseEvent.objects.filter(case_id=unreachable.case_id, kind="return_visit", data__attempt=1).delete()
    ReturnVisitAttempt.objects.filter(round=unreachable, number=1).delete()
    RatingRound.objects.create(case_id=unreachable.case_id, number=3, opened_at=UNTIL, rating_due_at=UNTIL, next_check_at=UNTIL)
    found = "\n".join(invariants.problems([rated.case_id, unreachable.case_id]))
    assert f"case {rated.case_id}: round {rated.number} is open with 1 rating(s)" in found
    assert f"case {unreachable.case_id}: rating rounds [1, 3] are not numbered" in found
    assert f"case {unreachable.case_id}: 2 rating rounds but 1 resolutions" in found
    assert f"case {unreachable.case_id}: round 1: calls [2, 3] are not numbered" in found
    Rating.objects.filter(case_id=rated.case_id).update(speed=1)
    assert "RATED events" in "\n".join(invariants.problems([rated.case_id]))


def test_the_ratings_services_go_on_from_the_generated_data(db):
    """Rounds left waiting are rated online, queued by the sweep when due and called by the generated officer.

    A year of cases, so that some were resolved within the rating wait before the end.
    """
    generate(cases=300, seed=7, shape=TINY, years=1, until=UNTIL, chunk=64, progress=False)
    officer = Membership.objects.select_related("user").get(role=Role.RETURN_VISIT_OFFICER).user
    waiting = list(RatingRound.objects.filter(status=RoundStatus.OPEN, return_visit_since__isnull=True).select_related("case").order_by("pk"))
    queued = set(RatingRound.objects.awaiting_return_visit().values_list("pk", flat=True))
    assert len(waiting) >= 2 and queued
    assert set(ratings.return_visit_queue(officer).values_list("pk", flat=True)) == queued
    ratings.submit_public_rating(case=waiting[0].case, solved="partly", speed=4, quality=4)
    report = ratings.sweep(now=UNTIL + ratings.rating_wait())
    assert (report.queued, report.failed) == (len(waiting) - 1, 0)
    in_queue = list(ratings.return_visit_queue(officer))
    assert {r.pk for r in in_queue} == queued | {r.pk for r in waiting[1:]}
    for round_ in in_queue[:3]:
        rating = ratings.RatingInput(solved="yes", speed=5, quality=4, comment="") if round_.status == RoundStatus.OPEN else None
        attempt = ratings.record_return_visit(round_=round_, by=officer, reached=True, rating=rating)
        assert attempt.number == round_.attempts.count()
        assert RatingRound.objects.get(pk=round_.pk).return_visit_done_at is not None
    assert invariants.problems() == []


def test_statuses_spread_over_the_life_cycle(bench):
    statuses = Counter(Case.objects.values_list("status", flat=True))
    assert {"closed", "answered", "in_progress"} <= set(statuses)
    assert statuses["closed"] > CASES / 3
    order_statuses = set(WorkOrder.objects.values_list("status", flat=True))
    assert {"accepted", "in_progress"} <= order_statuses
    years = {created.year for created in Case.objects.values_list("created_at", flat=True)}
    assert years == {2024, 2025, 2026}
    categories = Counter(Case.objects.values_list("category__parent__code", flat=True))
    assert categories.most_common(2)[0][0] in {"employment", "marriage-family"}


def test_regions_are_marked_synthetic(bench):
    for name, code, scheme in Region.objects.values_list("name", "code", "code_scheme"):
        assert scheme == "other"
        assert name.startswith("合成")
        assert len(code) == 12 and code.isdigit() and int(code[:2]) >= FIRST_SYNTHETIC_PROVINCE


def test_people_have_valid_identifiers_stored_encrypted(bench):
    people = list(Person.objects.exclude(id_number=""))
    assert people
    for person in people:
        assert identity.check_id_number(person.id_number).warnings == ()
        assert person.date_of_birth is not None and person.id_number[6:14] == f"{person.date_of_birth:%Y%m%d}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT phone FROM {PersonPhone._meta.db_table}")
        raw = [row[0] for row in cursor.fetchall()]
    assert raw and all(value.startswith("gcm1$") for value in raw)
    for phone in PersonPhone.objects.all()[:20]:
        assert identity.normalise_phone(phone.phone) == phone.phone


def test_every_case_is_visible_to_its_districts_dispatcher_only(bench):
    dispatchers = {
        membership.unit.region.path: membership.user
        for membership in Membership.objects.filter(role=Role.DISPATCHER, unit__kind__code="federation-district").select_related("unit__region", "user")
    }
    assert len(dispatchers) == 2
    seen = {path: set(Case.objects.visible_to(user).values_list("pk", flat=True)) for path, user in dispatchers.items()}
    for pk, region_path in Case.objects.values_list("pk", "region__path"):
        holders = [path for path in dispatchers if region_path.startswith(path)]
        assert len(holders) == 1
        assert {path for path, cases in seen.items() if pk in cases} == set(holders), pk


def test_a_petitioners_phone_finds_her_cases(bench):
    case = Case.objects.filter(petitioner__isnull=False).exclude(petitioner__phones=None).order_by("pk").first()
    assert case is not None
    phone = case.petitioner.phones.first().phone
    dispatcher = Membership.objects.get(role=Role.DISPATCHER, unit=case.registering_unit).user
    history = selectors.caller_history(by=dispatcher, phone=phone)
    assert case in history.cases


def test_the_services_go_on_from_the_generated_data(bench):
    """Case numbers continue the generated sequence, and a generated work order can be signed for."""
    membership = Membership.objects.select_related("unit__region", "user").get(role=Role.DISPATCHER, unit__kind__code="federation-city")
    case = services.register_case(
        by=membership.user,
        unit=membership.unit,
        request_type=RequestType.HELP,
        category=Category.objects.get(code="wage-arrears", valid_until__isnull=True),
        summary="拖欠工资。",
        region=membership.unit.region,
    )
    year = timezone.localtime().year
    generated = Case.objects.filter(number__startswith=f"SZ-{year}-").exclude(pk=case.pk).count()
    assert case.number == f"SZ-{year}-{generated + 1:06d}"
    order = WorkOrder.objects.filter(status="sent").select_related("unit").order_by("pk").first()
    if order is not None:
        handler = Membership.objects.filter(unit=order.unit, role__in=[Role.HANDLER, Role.DISPATCHER]).first()
        assert handler is not None
        signed = services.sign_for_work_order(work_order=order, by=handler.user)
        assert signed.status == "signed"
        assert invariants.problems([order.case_id]) == []


def test_refuses_a_database_that_already_has_bench_data(bench):
    with pytest.raises(BenchDataError):
        run()


def test_the_command_reports_what_it_wrote(db):
    out = io.StringIO()
    call_command("bench_data", cases=20, seed=3, shape="1,1,1,1,1", years=1, until=datetime.date(2026, 3, 2), no_progress=True, stdout=out)
    assert out.getvalue().startswith("Wrote 20 cases in ")
    assert Case.objects.count() == 20
