"""What must hold for every case, whatever happened to it: checked row by row, independently of the services.

The rules are written out here again on purpose (not read from ``WORK_ORDER_TRANSITIONS``
and not computed by ``services.refresh_case_status``), so that a mistake in the code
cannot hide behind the same mistake in its check. Used after every step of the
state-machine test and over every case the bench-data generator writes.

* at most one active lead per case at the top level, and one per forwarded work order;
* the case's status is what its top-level work orders imply (answered, not accepted and merged:
  decided while no work order held the case, i.e. before dispatch or after every one was returned);
* the timeline is complete: replaying the events alone yields every work order's
  current status (so every status change has its event), and events never go back in time;
* nobody works on an accusation against their own unit;
* ratings (``rightscare.ratings``): a case has rounds 1, 2, … only as often as it was resolved
  (a RESOLVED event each), at most one of them open; a rated round has exactly one rating, of
  its own case and number, its ``closed_at`` the rating's time and nothing left for the sweep;
  an open round none and no ``closed_at``; an unreachable round none, after
  ``RETURN_VISIT_MAX_ATTEMPTS`` calls that did not reach her; a rating unsatisfied or "not
  solved" put its round into the return-visit queue; return-visit calls are numbered 1, 2, …,
  only a round in the queue has any, and one that reached her finished the return visit; every
  rating has its public RATED event with its scores; each case's latest rating is that of its
  highest round.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from django.conf import settings

from rightscare.cases.models import Case, CaseEvent, WorkOrder
from rightscare.ratings.models import SATISFIED_FROM, Rating, RatingRound, ReturnVisitAttempt

#: Work-order statuses in which a lead still holds its place (as the database constraint says).
HOLDING = frozenset({"sent", "signed", "in_progress", "completed", "accepted"})
#: Statuses in which a top-level work order no longer counts for the case's status.
LET_GO = frozenset({"returned", "transferred"})
#: Case statuses decided by a person, not by the work orders.
FINAL_WITHOUT_ORDERS = frozenset({"answered", "not_accepted", "merged"})

#: Event kind → (statuses the work order may be in, status it moves to).
MOVES: dict[str, tuple[frozenset[str], str]] = {
    "signed_for": (frozenset({"sent"}), "signed"),
    "returned": (frozenset({"sent", "signed"}), "returned"),
    "first_contact": (frozenset({"signed"}), "in_progress"),
    "completed": (frozenset({"in_progress"}), "completed"),
    "accepted": (frozenset({"completed"}), "accepted"),
    "sent_back": (frozenset({"completed"}), "in_progress"),
}
#: A transfer hands over the work orders still being worked on.
TRANSFERABLE = frozenset({"sent", "signed", "in_progress"})


def implied_status(top_level: Iterable[str]) -> str:
    """The case status its top-level work orders imply (before anyone closes it)."""
    live = [status for status in top_level if status not in LET_GO]
    if not live:
        return "registered"
    if all(status == "accepted" for status in live):
        return "resolved"
    if all(status == "sent" for status in live):
        return "dispatched"
    return "in_progress"


@dataclass(frozen=True)
class _Order:
    pk: int
    case_id: int
    unit_id: int
    sent_by_unit_id: int
    parent_id: int | None
    role: str
    status: str
    return_ruling: str


@dataclass(frozen=True)
class _Event:
    pk: int
    case_id: int
    at: Any
    kind: str
    work_order_id: int | None
    data: Any


def problems(case_ids: Iterable[int] | None = None) -> list[str]:
    """Everything wrong with the given cases (all cases by default); empty when all invariants hold."""
    cases = Case.objects.all()
    if case_ids is not None:
        cases = cases.filter(pk__in=list(case_ids))
    case_rows = {row[0]: row for row in cases.values_list("pk", "status", "resolved_at", "accused_unit_id")}
    orders: dict[int, list[_Order]] = defaultdict(list)
    order_fields = ("pk", "case_id", "unit_id", "sent_by_unit_id", "parent_id", "role", "status", "return_ruling")
    for row in WorkOrder.objects.filter(case_id__in=list(case_rows)).order_by("pk").values_list(*order_fields):
        orders[row[1]].append(_Order(*row))
    events: dict[int, list[_Event]] = defaultdict(list)
    for row in CaseEvent.objects.filter(case_id__in=list(case_rows)).order_by("pk").values_list("pk", "case_id", "at", "kind", "work_order_id", "data"):
        events[row[1]].append(_Event(*row))
    found: list[str] = []
    for case_id, (_pk, status, resolved_at, accused_unit_id) in case_rows.items():
        found.extend(_case_problems(case_id, status, resolved_at, accused_unit_id, orders[case_id], events[case_id]))
    found.extend(_rating_problems(list(case_rows), events))
    return found


def _case_problems(case_id: int, status: str, resolved_at: Any, accused_unit_id: int | None, orders: list[_Order], events: list[_Event]) -> list[str]:
    found: list[str] = []
    by_pk = {order.pk: order for order in orders}
    top_leads = [o.pk for o in orders if o.parent_id is None and o.role == "lead" and o.status in HOLDING]
    if len(top_leads) > 1:
        found.append(f"case {case_id}: {len(top_leads)} active top-level leads {top_leads}")
    leads_by_parent: dict[int, list[int]] = defaultdict(list)
    for order in orders:
        if order.parent_id is not None and order.role == "lead" and order.status in HOLDING:
            leads_by_parent[order.parent_id].append(order.pk)
        if order.parent_id is not None:
            parent = by_pk.get(order.parent_id)
            if parent is None or parent.case_id != case_id:
                found.append(f"case {case_id}: work order {order.pk} forwarded from a work order of another case")
            elif order.sent_by_unit_id != parent.unit_id:
                found.append(f"case {case_id}: work order {order.pk} not sent by the unit it was forwarded from")
        if accused_unit_id is not None and order.unit_id == accused_unit_id:
            found.append(f"case {case_id}: work order {order.pk} sent to the accused unit")
    found.extend(f"case {case_id}: work order {parent} has {len(leads)} active leads {leads}" for parent, leads in leads_by_parent.items() if len(leads) > 1)

    implied = implied_status(o.status for o in orders if o.parent_id is None)
    if status in FINAL_WITHOUT_ORDERS:
        # Decided at the registered stage, which a case whose every work order was returned is in again.
        if implied != "registered":
            found.append(f"case {case_id}: {status} but its work orders imply {implied}")
    elif status == "closed":
        if implied != "resolved":
            found.append(f"case {case_id}: closed but its work orders imply {implied}")
    elif status != implied:
        found.append(f"case {case_id}: status {status} but its work orders imply {implied}")
    if (status in {"resolved", "closed"}) != (resolved_at is not None) and status not in FINAL_WITHOUT_ORDERS:
        found.append(f"case {case_id}: status {status} with resolved_at {resolved_at}")

    found.extend(_timeline_problems(case_id, status, orders, events))
    return found


def _timeline_problems(case_id: int, status: str, orders: list[_Order], events: list[_Event]) -> list[str]:
    found: list[str] = []
    if not events or events[0].kind != "registered":
        found.append(f"case {case_id}: the timeline does not start with its registration")
    for earlier, later in pairwise(events):
        if later.at < earlier.at:
            found.append(f"case {case_id}: event {later.pk} ({later.kind}) is earlier than event {earlier.pk} ({earlier.kind})")
    replayed: dict[int, str] = {}
    ruled: set[int] = set()
    kinds = {event.kind for event in events}

    def arrive(pks: Iterable[int], as_status: str, event: _Event) -> None:
        for pk in pks:
            if pk in replayed:
                found.append(f"case {case_id}: event {event.pk} ({event.kind}) creates work order {pk} a second time")
            replayed[pk] = as_status

    for event in events:
        data = event.data or {}
        if event.kind in {"dispatched", "forwarded"}:
            arrive(data.get("work_orders", []), "sent", event)
        elif event.kind == "transfer_accepted":
            for pk in data.get("transferred", []):
                if replayed.get(pk) not in TRANSFERABLE:
                    found.append(f"case {case_id}: event {event.pk} transfers work order {pk} that is {replayed.get(pk)}")
                replayed[pk] = "transferred"
            left = [pk for pk, replayed_status in replayed.items() if replayed_status in TRANSFERABLE]
            if left:
                found.append(f"case {case_id}: work orders {left} still worked on after the transfer event {event.pk}")
            arrive(data.get("work_orders", []), "signed", event)
        elif event.kind == "return_ruled":
            if replayed.get(event.work_order_id or 0) != "returned" or event.work_order_id in ruled:
                found.append(f"case {case_id}: event {event.pk} rules on work order {event.work_order_id}, which is not an unruled return")
            ruled.add(event.work_order_id or 0)
        elif event.kind in MOVES:
            allowed, target = MOVES[event.kind]
            current = replayed.get(event.work_order_id or 0)
            if current not in allowed:
                found.append(f"case {case_id}: event {event.pk} ({event.kind}) on work order {event.work_order_id} that is {current}")
            replayed[event.work_order_id or 0] = target
    for order in orders:
        if replayed.get(order.pk) != order.status:
            found.append(f"case {case_id}: work order {order.pk} is {order.status} but its events say {replayed.get(order.pk)}")
        if bool(order.return_ruling) != (order.pk in ruled):
            found.append(f"case {case_id}: work order {order.pk} ruling {order.return_ruling!r} without its event (or the reverse)")
    unknown = set(replayed) - {order.pk for order in orders}
    if unknown:
        found.append(f"case {case_id}: events mention work orders {sorted(unknown)} of another case")
    needed = {"resolved": {"resolved"}, "closed": {"resolved", "closed"}, "answered": {"answered"}, "not_accepted": {"not_accepted"}, "merged": {"merged"}}
    missing = needed.get(status, set()) - kinds
    if missing:
        found.append(f"case {case_id}: {status} without the event(s) {sorted(missing)}")
    return found


@dataclass(frozen=True)
class _Round:
    pk: int
    case_id: int
    number: int
    status: str
    closed_at: Any
    next_check_at: Any
    return_visit_reason: str
    return_visit_since: Any
    return_visit_done_at: Any


@dataclass(frozen=True)
class _Rating:
    pk: int
    round_id: int
    case_id: int
    round_number: int
    solved: str
    speed: int
    quality: int
    channel: str
    created_at: Any
    latest: bool

    @property
    def needs_return_visit(self) -> bool:
        return self.speed < SATISFIED_FROM or self.quality < SATISFIED_FROM or self.solved == "no"


def _rating_problems(case_ids: list[int], events: dict[int, list[_Event]]) -> list[str]:
    found: list[str] = []
    round_fields = ("pk", "case_id", "number", "status", "closed_at", "next_check_at", "return_visit_reason", "return_visit_since", "return_visit_done_at")
    rounds: dict[int, list[_Round]] = defaultdict(list)
    for row in RatingRound.objects.filter(case_id__in=case_ids).order_by("case_id", "number").values_list(*round_fields):
        rounds[row[1]].append(_Round(*row))
    rating_fields = ("pk", "round_id", "case_id", "round_number", "solved", "speed", "quality", "channel", "created_at", "latest")
    ratings_of: dict[int, list[_Rating]] = defaultdict(list)
    by_case: dict[int, list[_Rating]] = defaultdict(list)
    for row in Rating.objects.filter(case_id__in=case_ids).values_list(*rating_fields):
        rating = _Rating(*row)
        ratings_of[rating.round_id].append(rating)
        by_case[rating.case_id].append(rating)
    attempts: dict[int, list[tuple[int, Any, bool]]] = defaultdict(list)
    for round_id, number, at, reached in (
        ReturnVisitAttempt.objects.filter(round__case_id__in=case_ids).order_by("round_id", "number").values_list("round_id", "number", "at", "reached")
    ):
        attempts[round_id].append((number, at, reached))
    round_ids = {r.pk for case_rounds in rounds.values() for r in case_rounds}
    stray = [rating.pk for case_ratings in by_case.values() for rating in case_ratings if rating.round_id not in round_ids]
    if stray:
        found.append(f"ratings {stray} belong to rounds of other cases")
    max_attempts = max(1, int(settings.RETURN_VISIT_MAX_ATTEMPTS))
    for case_id in set(rounds) | set(by_case):
        case_rounds = rounds[case_id]
        resolutions = sum(1 for event in events[case_id] if event.kind == "resolved")
        if [r.number for r in case_rounds] != list(range(1, len(case_rounds) + 1)):
            found.append(f"case {case_id}: rating rounds {[r.number for r in case_rounds]} are not numbered 1, 2, …")
        if len(case_rounds) > resolutions:
            found.append(f"case {case_id}: {len(case_rounds)} rating rounds but {resolutions} resolutions")
        if sum(1 for r in case_rounds if r.status == "open") > 1:
            found.append(f"case {case_id}: more than one open rating round")
        for round_ in case_rounds:
            found.extend(_round_problems(case_id, round_, ratings_of[round_.pk], attempts[round_.pk], max_attempts))
        rated_events = Counter(tuple(sorted((event.data or {}).items())) for event in events[case_id] if event.kind == "rated")
        expected = Counter(
            tuple(sorted({"round": r.round_number, "solved": r.solved, "speed": r.speed, "quality": r.quality, "channel": r.channel}.items()))
            for r in by_case[case_id]
        )
        if rated_events != expected:
            found.append(f"case {case_id}: RATED events {sorted(rated_events)} ≠ its ratings {sorted(expected)}")
        if by_case[case_id]:
            latest = [r.round_number for r in by_case[case_id] if r.latest]
            if latest != [max(r.round_number for r in by_case[case_id])]:
                found.append(f"case {case_id}: latest rating of rounds {latest}, not of its highest rated round")
    return found


def _round_problems(case_id: int, round_: _Round, ratings: list[_Rating], attempts: list[tuple[int, Any, bool]], max_attempts: int) -> list[str]:
    found: list[str] = []
    name = f"case {case_id}: round {round_.number}"
    if len(ratings) > 1:
        found.append(f"{name} has {len(ratings)} ratings")
    for rating in ratings:
        if rating.case_id != case_id or rating.round_number != round_.number:
            found.append(f"{name}: rating {rating.pk} names case {rating.case_id} round {rating.round_number}")
    if round_.status == "rated":
        if len(ratings) != 1:
            found.append(f"{name} is rated without a rating")
        elif round_.closed_at != ratings[0].created_at or round_.next_check_at is not None:
            found.append(f"{name} rated at {ratings[0].created_at} but closed at {round_.closed_at}, next check {round_.next_check_at}")
        elif ratings[0].needs_return_visit and round_.return_visit_since is None:
            found.append(f"{name}: rated unsatisfied or unsolved but never queued for a return visit")
    elif round_.status == "open":
        if ratings or round_.closed_at is not None:
            found.append(f"{name} is open with {len(ratings)} rating(s), closed at {round_.closed_at}")
    elif round_.status == "unreachable":
        unreached = [number for number, _at, reached in attempts if not reached]
        if ratings or round_.closed_at is None or round_.next_check_at is not None or len(unreached) < max_attempts or len(unreached) != len(attempts):
            found.append(f"{name} unreachable with {len(ratings)} rating(s), {len(attempts)} call(s) ({len(unreached)} not reaching her)")
        elif round_.return_visit_done_at != round_.closed_at:
            found.append(f"{name} unreachable at {round_.closed_at} but its return visit ended {round_.return_visit_done_at}")
    else:
        found.append(f"{name} has the unknown status {round_.status!r}")
    if bool(round_.return_visit_reason) != (round_.return_visit_since is not None):
        found.append(f"{name}: return visit because {round_.return_visit_reason!r} since {round_.return_visit_since}")
    if round_.return_visit_done_at is not None and round_.return_visit_since is None:
        found.append(f"{name}: a return visit finished that was never due")
    if [number for number, _at, _reached in attempts] != list(range(1, len(attempts) + 1)):
        found.append(f"{name}: calls {[number for number, _at, _reached in attempts]} are not numbered 1, 2, …")
    if attempts and round_.return_visit_since is None:
        found.append(f"{name}: {len(attempts)} return-visit call(s) but no return visit was due")
    for number, at, reached in attempts:
        if reached and (number != len(attempts) or round_.return_visit_done_at != at):
            found.append(f"{name}: call {number} reached her, yet the return visit went on or did not end then")
    return found
