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
* nobody works on an accusation against their own unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from rightscare.cases.models import Case, CaseEvent, WorkOrder

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
