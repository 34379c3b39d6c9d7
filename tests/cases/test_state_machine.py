"""Random sequences of case actions, by people who may or may not be allowed to take them.

A hypothesis ``RuleBasedStateMachine`` registers a few cases in the demo organisation,
records calls on them, and then dispatches, signs for, returns, rules, forwards, notes,
completes, reviews, closes and transfers them, answers consultations on the spot,
declines requests, merges duplicates and undoes merges, each time as one of a handful
of staff: dispatchers and handlers of Pingshan, Longhua and Guangming, departments, the
hotline operator. Each step either succeeds and adds to the timeline, or raises one of
the errors a user may meet (an illegal transition or conflict, a validation error, a
permission error) and then nothing at all has changed. After every step the invariants
of ``tests.cases.invariants`` hold, no version went down, nothing was deleted, and the
decisions without work orders hold (see ``CaseActions.decisions_hold``): a merged case
points at its target and back only while merged, each merge and unmerge is on both
timelines, an answer or a decline keeps its text and closes the case, and every call
is on the case it was recorded on, or on the case that case is merged into.

Each example runs inside a savepoint that is rolled back in ``teardown``, so the
demo organisation is loaded once for the whole run (this works the same on SQLite
and PostgreSQL).

Budget: ``MAX_EXAMPLES`` (15) × ``STEPS`` (50) = 750 actions. An action costs 10–30 ms
of service work plus about 15 ms of checks (the snapshot is plain SQL because the
ORM's query compilation would cost more than the actions, and so are the checks of
``decisions_hold`` and ``nothing_is_deleted``), so a run takes about 35 s on SQLite
and 45 s on PostgreSQL on an idle 2-core machine (more when other suites share it).
The calls and the decisions without work orders get a few tries per example
(``TRIES``), so that they do not crowd out the life cycle. Set
``RIGHTSCARE_STATE_MACHINE_EXAMPLES`` for a longer hunt.

Most steps pick the right person, unit and record for the action (``RIGHT``, and
``choose`` mostly picks a work order in a state that allows it), so that runs reach
completions, reviews, closings and transfers; the rest pick anyone and anything, so
that refusals are exercised too. Bugs found this way stay as plain tests at the end.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from rightscare.audit.models import AuditEntry
from rightscare.cases import services
from rightscare.cases.models import FINAL_CASE_STATUSES, Case, CaseEvent, CaseNumberSequence, CaseParty, Category, Transfer, WorkOrder
from rightscare.core.errors import Conflict
from rightscare.intake.models import Contact
from rightscare.intake.services import record_contact
from rightscare.org.models import Region, Unit
from rightscare.registry.models import PersonPhone
from tests.cases import invariants

#: Cases per run: few enough that actions meet each other's work orders again and again.
MAX_CASES = 5
#: ... not counting those answered, declined or merged, up to this many in all.
MAX_ALL_CASES = MAX_CASES + 3
MAX_EXAMPLES = int(os.environ.get("RIGHTSCARE_STATE_MACHINE_EXAMPLES", "15"))
STEPS = 50

#: Attempts per example of the actions around the life cycle (calls and the decisions without work
#: orders): enough to meet every case of them, few enough to leave most steps to the life cycle.
TRIES = {"call_about": 4, "answer": 3, "decline": 4, "merge": 4, "unmerge": 3}

#: What a user may legitimately run into; anything else is a bug.
EXPECTED_ERRORS = (Conflict, ValidationError, PermissionDenied)

DISPATCHERS = ("city.dispatcher", "pingshan.dispatcher", "longhua.dispatcher", "guangming.dispatcher")
HANDLERS = (
    "pingshan.dispatcher",
    "pingshan.street",
    "pingshan.hr",
    "pingshan.labour",
    "longhua.police",
    "guangming.police",
    "guangming.civil",
    "guangming.dispatcher",
)
#: Everyone the machine acts as: allowed for some actions, not for others.
ACTORS = (*DISPATCHERS, *HANDLERS[1:], "hotline", "city.supervisor", "liuhe.worker")

UNITS = (
    "深圳市妇联",
    "坪山区妇联",
    "龙华区妇联",
    "光明区妇联",
    "坪山街道妇联",
    "深圳市坪山区人力资源局",
    "坪山街道劳动监察中队",
    "深圳市公安局龙华分局",
    "深圳市公安局光明分局",
    "深圳市光明区民政局",
)
REGIONS = ("坪山区", "坪山街道", "龙华区", "龙华街道", "光明区", "光明街道", "西陵区")
#: Second-level categories, and one first-level category (refused at registration).
CATEGORIES = ("wage-arrears", "pregnancy-discrimination", "dv-with-children", "domestic-violence", "divorce", "dv-physical")

#: Who registers where, rightly.
REGISTRATIONS = (("city.dispatcher", "坪山街道"), ("hotline", "龙华区"), ("pingshan.dispatcher", "坪山区"), ("longhua.dispatcher", "龙华街道"))
SECOND_LEVEL = CATEGORIES[:3]

#: Stands for "the person (unit, region) who would rightly do this": most steps then go deep into the life cycle.
RIGHT = "right"

units = st.sampled_from(UNITS)
actors = st.one_of(st.just(RIGHT), st.just(RIGHT), st.just(RIGHT), st.sampled_from(ACTORS))
picks = st.integers(min_value=0, max_value=1000)
texts = st.sampled_from(("已处理。", "已处理。", "已处理。", " "))


#: Every table an action may write to (``audit_auditentry``: a refused action leaves no audit entry either).
WATCHED_TABLES = (
    Case._meta.db_table,
    WorkOrder._meta.db_table,
    CaseEvent._meta.db_table,
    Transfer._meta.db_table,
    CaseParty._meta.db_table,
    CaseNumberSequence._meta.db_table,
    PersonPhone._meta.db_table,
    Contact._meta.db_table,
    AuditEntry._meta.db_table,
)
#: What is never deleted: a record once seen must still be there after every step.
KEPT = {"case": Case, "work order": WorkOrder, "event": CaseEvent, "contact": Contact, "transfer": Transfer}


def snapshot() -> list[list[tuple[Any, ...]]]:
    """Every row (as stored, ciphertexts included) of the tables an action may touch.

    Plain SQL: compiling ORM queries would cost more than the actions themselves.
    """
    with connection.cursor() as cursor:
        rows = []
        for table in WATCHED_TABLES:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")
            rows.append(cursor.fetchall())
    return rows


def rows(model: Any, columns: str, rest: str = "") -> list[tuple[Any, ...]]:
    """``SELECT columns FROM`` the model's table (plain SQL, see ``snapshot``)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {connection.ops.quote_name(model._meta.db_table)} {rest}")
        return cursor.fetchall()


class CaseActions(RuleBasedStateMachine):
    """Cases of the demo organisation under random actions by random staff."""

    def __init__(self, users: dict[str, Any]) -> None:
        super().__init__()
        self.users = users
        self.units = {unit.name: unit for unit in Unit.objects.filter(name__in=UNITS).select_related("region", "kind")}
        self.regions = {region.name: region for region in Region.objects.filter(name__in=REGIONS)}
        self.categories = {c.code: c for c in Category.objects.filter(code__in=CATEGORIES, valid_until__isnull=True)}
        self.home_unit = {name: Unit.objects.get(pk=user.memberships.get().unit_id) for name, user in users.items() if name in ACTORS}
        self.versions: dict[tuple[str, int], tuple[int, str]] = {}
        self.counts: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}
        self.tries: dict[str, int] = {}
        #: Each call recorded by the machine → the case it was recorded on.
        self.recorded_on: dict[int, int] = {}
        self.seen: dict[str, set[int]] = {name: set() for name in KEPT}
        # One savepoint per example, rolled back in teardown: the next example starts from the demo organisation.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- running one action --------------------------------------------------------

    def attempt(self, name: str, action: Any) -> Any:
        """Run ``action`` and return its result; on an expected refusal, assert that nothing changed (and return None).

        A successful action always adds to the timeline: every change of a case is on it.
        """
        self.tries[name] = self.tries.get(name, 0) + 1
        before = snapshot()
        result = None
        try:
            result = action()
        except EXPECTED_ERRORS as error:
            assert snapshot() == before, f"{name} was refused ({type(error).__name__}: {error}) but changed something"
            self.outcomes[f"{name}: {type(error).__name__}"] = self.outcomes.get(f"{name}: {type(error).__name__}", 0) + 1
        else:
            self.outcomes[f"{name}: ok"] = self.outcomes.get(f"{name}: ok", 0) + 1
            events_before = len(before[WATCHED_TABLES.index(CaseEvent._meta.db_table)])
            assert self.count_events() > events_before, f"{name} succeeded without an event on the timeline"
        self.counts = self.count_rows()
        return result

    @staticmethod
    def count_events() -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(CaseEvent._meta.db_table)}")
            return int(cursor.fetchone()[0])

    def count_rows(self) -> dict[str, int]:
        """What the preconditions look at: rows by status (plain SQL, see ``snapshot``)."""
        counts: dict[str, int] = {"cases": 0, "orders": 0, "unruled": 0, "pending": 0}
        with connection.cursor() as cursor:
            for model, prefix in ((Case, "case"), (WorkOrder, "order"), (Transfer, "transfer")):
                cursor.execute(f"SELECT status, COUNT(*) FROM {connection.ops.quote_name(model._meta.db_table)} GROUP BY status")
                for status, count in cursor.fetchall():
                    counts[f"{prefix}:{status}"] = count
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(WorkOrder._meta.db_table)} WHERE status = 'returned' AND return_ruling = ''")
            counts["unruled"] = cursor.fetchone()[0]
            cursor.execute(
                f"SELECT COUNT(*) FROM {connection.ops.quote_name(Case._meta.db_table)} WHERE status = 'registered' AND request_type = 'consultation'"
            )
            counts["open consultations"] = cursor.fetchone()[0]
        counts["cases"] = sum(v for k, v in counts.items() if k.startswith("case:"))
        counts["decided"] = sum(counts.get(f"case:{status}", 0) for status in ("answered", "not_accepted", "merged"))
        counts["orders"] = sum(v for k, v in counts.items() if k.startswith("order:"))
        counts["pending"] = counts.get("transfer:pending", 0)
        return counts

    def has(self, *keys: str) -> bool:
        return any(self.counts.get(key, 0) > 0 for key in keys)

    def may_try(self, name: str) -> bool:
        return self.tries.get(name, 0) < TRIES[name]

    @staticmethod
    def choose(index: int, everything: list[int], fitting: list[int]) -> int:
        """Mostly one that fits the action (so that runs go deep), sometimes any (so that refusals are tried)."""
        pool = fitting if fitting and index % 4 else everything
        return pool[(index // 4) % len(pool)]

    def pick_case(self, index: int, statuses: tuple[str, ...] = ()) -> Case:
        rows = list(Case.objects.order_by("pk").values_list("pk", "status"))
        pk = self.choose(index, [pk for pk, _ in rows], [pk for pk, status in rows if status in statuses])
        return Case.objects.select_related("region", "category", "accused_unit").get(pk=pk)

    def pick_order(self, index: int, statuses: tuple[str, ...] = ()) -> WorkOrder:
        rows = list(WorkOrder.objects.order_by("pk").values_list("pk", "status"))
        pk = self.choose(index, [pk for pk, _ in rows], [pk for pk, status in rows if status in statuses])
        return WorkOrder.objects.select_related("parent", "unit__region", "case__region", "case__category").get(pk=pk)

    def member_of(self, unit_id: int, fallback: str) -> str:
        """Someone of ``unit_id`` (the right person to act for it), or ``fallback`` when it has nobody here."""
        return next((name for name, unit in self.home_unit.items() if unit.pk == unit_id), fallback)

    def person(self, actor: str, unit_id: int, fallback: str = "hotline") -> str:
        return self.member_of(unit_id, fallback) if actor == RIGHT else actor

    def dispatcher_for(self, case: Case) -> str:
        """The dispatcher whose area holds the case (the most local one), else the registering unit's."""
        covering = [name for name in DISPATCHERS if case.region.path.startswith(self.home_unit[name].region.path)]
        return max(covering, key=lambda name: len(self.home_unit[name].region.path), default=self.member_of(case.registering_unit_id, "city.dispatcher"))

    # --- rules -------------------------------------------------------------------------

    @initialize(
        first=st.lists(
            st.tuples(st.sampled_from(REGISTRATIONS), st.sampled_from(SECOND_LEVEL), st.sampled_from(("help", "complaint", "accusation"))),
            min_size=1,
            max_size=3,
        )
    )
    def register_first_cases(self, first: list[tuple[tuple[str, str], str, str]]) -> None:
        """Start from a few rightly registered cases (an accusation names the other district's federation)."""
        for (actor, region), category, request_type in first:
            accused = self.units["光明区妇联" if region.startswith("坪山") else "坪山区妇联"] if request_type == "accusation" else None
            services.register_case(
                by=self.users[actor],
                unit=self.home_unit[actor],
                request_type=request_type,
                category=self.categories[category],
                summary="求助。",
                region=self.regions[region],
                accused_unit=accused,
            )
        self.counts = self.count_rows()

    @precondition(lambda self: self.counts.get("cases", 0) - self.counts.get("decided", 0) < MAX_CASES and self.counts.get("cases", 0) < MAX_ALL_CASES)
    @rule(
        actor=actors,
        own_unit=st.booleans() | st.just(True),
        request_type=st.sampled_from(("help", "help", "consultation", "accusation")),
        category=st.sampled_from(CATEGORIES),
        region=st.one_of(st.just(RIGHT), st.sampled_from(REGIONS)),
        pick=picks,
        accused=st.none() | units,
    )
    def register(self, actor: str, own_unit: bool, request_type: str, category: str, region: str, pick: int, accused: str | None) -> None:
        if actor == RIGHT:
            actor = (*DISPATCHERS, "hotline")[pick % (len(DISPATCHERS) + 1)]
        unit = self.home_unit[actor] if own_unit else self.units["坪山区妇联"]
        if region == RIGHT:
            inside = sorted(name for name, r in self.regions.items() if r.path.startswith(unit.region.path)) or list(REGIONS)
            region = inside[pick % len(inside)]
        self.attempt(
            "register",
            lambda: services.register_case(
                by=self.users[actor],
                unit=unit,
                request_type=request_type,
                category=self.categories[category],
                summary="求助。",
                region=self.regions[region],
                accused_unit=self.units[accused] if accused else None,
            ),
        )

    @precondition(lambda self: self.has("case:registered"))
    @rule(
        case=picks,
        actor=actors,
        lead=st.one_of(st.just(RIGHT), st.just(RIGHT), units),
        cohandlers=st.lists(units, max_size=2),
        legal_basis=st.sampled_from(("consent", "consent", "statutory", "emergency", "whim")),
    )
    def dispatch(self, case: int, actor: str, lead: str, cohandlers: list[str], legal_basis: str) -> None:
        chosen = self.pick_case(case, ("registered", "dispatched", "in_progress"))
        who = self.dispatcher_for(chosen) if actor == RIGHT else actor
        dispatching_unit = self.home_unit[who]
        if lead == RIGHT:
            suggestion = services.suggest_dispatch(
                dispatching_unit=dispatching_unit, category=chosen.category, region=chosen.region, accused_unit=chosen.accused_unit
            )
            lead_unit = suggestion.lead or dispatching_unit
            cohandler_units = suggestion.cohandlers
        else:
            lead_unit, cohandler_units = self.units[lead], [self.units[name] for name in cohandlers]
        self.attempt(
            "dispatch",
            lambda: services.dispatch_case(
                case=chosen, by=self.users[who], dispatching_unit=dispatching_unit, lead=lead_unit, cohandlers=cohandler_units, legal_basis=legal_basis
            ),
        )

    @precondition(lambda self: self.has("order:sent"))
    @rule(order=picks, actor=actors)
    def sign_for(self, order: int, actor: str) -> None:
        chosen = self.pick_order(order, ("sent",))
        self.attempt("sign_for", lambda: services.sign_for_work_order(work_order=chosen, by=self.users[self.person(actor, chosen.unit_id)]))

    @precondition(lambda self: self.has("order:sent", "order:signed"))
    @rule(order=picks, actor=actors, reason=texts)
    def return_order(self, order: int, actor: str, reason: str) -> None:
        chosen = self.pick_order(order, ("sent", "signed"))
        self.attempt("return", lambda: services.return_work_order(work_order=chosen, by=self.users[self.person(actor, chosen.unit_id)], reason=reason))

    @precondition(lambda self: self.has("unruled"))
    @rule(order=picks, actor=actors, ruling=st.sampled_from(("justified", "unjustified", "maybe")))
    def rule_on_return(self, order: int, actor: str, ruling: str) -> None:
        chosen = self.pick_order(order, ("returned",))
        who = self.person(actor, chosen.sent_by_unit_id)
        self.attempt("rule_on_return", lambda: services.rule_on_return(work_order=chosen, by=self.users[who], ruling=ruling))

    @precondition(lambda self: self.has("order:signed"))
    @rule(order=picks, actor=actors, note=texts)
    def first_contact(self, order: int, actor: str, note: str) -> None:
        chosen = self.pick_order(order, ("signed",))
        who = self.person(actor, chosen.unit_id)
        self.attempt("first_contact", lambda: services.record_first_contact(work_order=chosen, by=self.users[who], note=note))

    @precondition(lambda self: self.has("order:signed", "order:in_progress"))
    @rule(order=picks, actor=actors, text=texts, visibility=st.sampled_from(("unit", "handling", "public", "everyone")))
    def note(self, order: int, actor: str, text: str, visibility: str) -> None:
        chosen = self.pick_order(order, ("signed", "in_progress"))
        who = self.person(actor, chosen.unit_id)
        self.attempt("note", lambda: services.add_progress_note(work_order=chosen, by=self.users[who], text=text, visibility=visibility))

    @precondition(lambda self: self.has("order:in_progress"))
    @rule(order=picks, actor=actors, result=texts, amount=st.sampled_from((None, None, Decimal("130000"), Decimal("-1"))))
    def complete(self, order: int, actor: str, result: str, amount: Decimal | None) -> None:
        chosen = self.pick_order(order, ("in_progress",))
        who = self.person(actor, chosen.unit_id)
        self.attempt("complete", lambda: services.complete_work_order(work_order=chosen, by=self.users[who], result=result, amount_yuan=amount))

    @precondition(lambda self: self.has("order:completed"))
    @rule(order=picks, actor=actors, accept=st.sampled_from((True, True, False)), comment=texts)
    def review(self, order: int, actor: str, accept: bool, comment: str) -> None:
        chosen = self.pick_order(order, ("completed",))
        # A top-level order is reviewed by the unit that sent it, a forwarded one by the unit it was forwarded from.
        who = self.person(actor, chosen.parent.unit_id if chosen.parent else chosen.sent_by_unit_id)
        self.attempt("review", lambda: services.review_work_order(work_order=chosen, by=self.users[who], accept=accept, comment=comment))

    @precondition(lambda self: self.has("order:signed", "order:in_progress"))
    @rule(order=picks, actor=actors, lead=st.one_of(st.just(RIGHT), st.none(), units), cohandlers=st.lists(units, max_size=2))
    def forward(self, order: int, actor: str, lead: str | None, cohandlers: list[str]) -> None:
        chosen = self.pick_order(order, ("signed", "in_progress"))
        who = self.person(actor, chosen.unit_id)
        if lead == RIGHT:
            suggestion = services.suggest_dispatch(dispatching_unit=chosen.unit, category=chosen.case.category, region=chosen.case.region)
            lead_unit = suggestion.lead if suggestion.lead != chosen.unit else None
            cohandler_units = suggestion.cohandlers
            if lead_unit is None and not cohandler_units:
                # No rule for this level: hand it to a unit below, as a handler would.
                below = [u for u in self.units.values() if u.region.path.startswith(chosen.unit.region.path) and u.pk != chosen.unit.pk]
                lead_unit = below[order % len(below)] if below else None
        else:
            lead_unit, cohandler_units = (self.units[lead] if lead else None), [self.units[name] for name in cohandlers]
        self.attempt("forward", lambda: services.forward_work_order(work_order=chosen, by=self.users[who], lead=lead_unit, cohandlers=cohandler_units))

    @precondition(lambda self: self.has("case:resolved"))
    @rule(case=picks, actor=actors)
    def close(self, case: int, actor: str) -> None:
        chosen = self.pick_case(case, ("resolved",))
        who = self.dispatcher_for(chosen) if actor == RIGHT else actor
        self.attempt("close", lambda: services.close_case(case=chosen, by=self.users[who]))

    @precondition(lambda self: self.has("case:dispatched", "case:in_progress"))
    @rule(
        case=picks,
        actor=st.one_of(st.just(RIGHT), st.sampled_from(DISPATCHERS)),
        to=st.one_of(st.just(RIGHT), units),
        new_region=st.one_of(st.just(RIGHT), st.none(), st.sampled_from(REGIONS)),
        reason=texts,
    )
    def request_transfer(self, case: int, actor: str, to: str, new_region: str | None, reason: str) -> None:
        chosen = self.pick_case(case, ("dispatched", "in_progress"))
        who = self.dispatcher_for(chosen) if actor == RIGHT else actor
        from_unit = self.home_unit[who]
        peers = [u for u in self.units.values() if u.parent_id == from_unit.parent_id and u.kind_id == from_unit.kind_id and u.pk != from_unit.pk]
        to_unit = (peers[case % len(peers)] if peers else from_unit) if to == RIGHT else self.units[to]
        if new_region == RIGHT:
            inside = sorted(name for name, r in self.regions.items() if r.path.startswith(to_unit.region.path))
            new_region = inside[case % len(inside)] if inside else None
        self.attempt(
            "request_transfer",
            lambda: services.request_transfer(
                case=chosen,
                by=self.users[who],
                from_unit=from_unit,
                to_unit=to_unit,
                reason=reason,
                new_region=self.regions[new_region] if new_region else None,
                new_address="新住址（保密）" if new_region else "",
            ),
        )

    @precondition(lambda self: self.has("pending"))
    @rule(transfer=picks, actor=actors, accept=st.booleans() | st.just(True))
    def decide_transfer(self, transfer: int, actor: str, accept: bool) -> None:
        pending = list(Transfer.objects.filter(status="pending").order_by("pk"))
        chosen = pending[transfer % len(pending)]
        who = self.person(actor, chosen.to_unit_id)
        self.attempt("decide_transfer", lambda: services.decide_transfer(transfer=chosen, by=self.users[who], accept=accept))

    @precondition(lambda self: self.counts.get("cases", 0) > 0 and self.may_try("call_about"))
    @rule(case=picks, actor=actors, channel=st.sampled_from(("hotline", "hotline", "walk_in", "pigeon")))
    def call_about(self, case: int, actor: str, channel: str) -> None:
        """A call about a case (a contact on it), so that merges have calls to move and bring back.

        Never on a merged case: the calls that count are those recorded before it was merged.
        """
        rows = list(Case.objects.exclude(status="merged").order_by("pk").values_list("pk", "status"))
        if not rows:
            return
        pk = self.choose(case, [pk for pk, _status in rows], [pk for pk, status in rows if status in ("registered", "dispatched", "in_progress")])
        chosen = Case.objects.get(pk=pk)
        who = self.person(actor, chosen.registering_unit_id)
        unit = self.home_unit[who]
        contact = self.attempt(
            "call_about", lambda: record_contact(by=self.users[who], unit=unit, channel=channel, content="又来电。", caller_phone="13800138021", case=chosen)
        )
        if contact is not None:
            self.recorded_on[contact.pk] = chosen.pk

    @precondition(lambda self: self.has("open consultations") and self.may_try("answer"))
    @rule(case=picks, actor=actors, reply=texts)
    def answer(self, case: int, actor: str, reply: str) -> None:
        """Answer a consultation on the spot (only a registered consultation, only by its registering unit)."""
        rows = list(Case.objects.order_by("pk").values_list("pk", "status", "request_type"))
        pk = self.choose(case, [pk for pk, _s, _t in rows], [pk for pk, status, kind in rows if status == "registered" and kind == "consultation"])
        chosen = Case.objects.get(pk=pk)
        who = self.person(actor, chosen.registering_unit_id)
        answered = self.attempt("answer", lambda: services.answer_directly(case=chosen, by=self.users[who], reply=reply))
        if answered is not None:
            assert (answered.status, answered.reply, answered.request_type) == ("answered", reply.strip(), "consultation")
            assert answered.events.filter(kind="answered", text=reply.strip()).count() == 1

    @precondition(lambda self: self.has("case:registered") and self.may_try("decline"))
    @rule(case=picks, actor=actors, reason=texts)
    def decline(self, case: int, actor: str, reason: str) -> None:
        """Record that a request is not accepted (only before it is dispatched)."""
        chosen = self.pick_case(case, ("registered",))
        who = self.dispatcher_for(chosen) if actor == RIGHT else actor
        declined = self.attempt("decline", lambda: services.decline_case(case=chosen, by=self.users[who], reason=reason))
        if declined is not None:
            assert (declined.status, declined.not_accepted_reason) == ("not_accepted", reason.strip())
            assert declined.events.filter(kind="not_accepted", public_text=reason.strip()).count() == 1

    @precondition(lambda self: self.has("case:registered") and self.counts.get("cases", 0) > 1 and self.may_try("merge"))
    @rule(case=picks, into=picks, actor=actors, reason=texts)
    def merge(self, case: int, into: int, actor: str, reason: str) -> None:
        """Merge a duplicate into another case; its calls follow it there."""
        rows = list(Case.objects.order_by("pk").values_list("pk", "status", "merged_into_id", "region__path"))
        # A case others are merged into may be merged in turn (A → B → C): undoing A's merge brings
        # its calls back from C (test_undoing_a_merge_into_a_case_merged_since_brings_the_calls_back).
        candidates = [(pk, status) for pk, status, _target, _path in rows]
        if not candidates:
            return
        pk = self.choose(case, [pk for pk, _status in candidates], [pk for pk, status in candidates if status == "registered"])
        chosen = Case.objects.select_related("region").get(pk=pk)
        who = self.dispatcher_for(chosen) if actor == RIGHT else actor
        area = self.home_unit[who].region.path
        others = [pk for pk, _status, _target, _path in rows if pk != chosen.pk]
        fitting = [
            pk for pk, status, target, path in rows if pk != chosen.pk and target is None and status not in FINAL_CASE_STATUSES and path.startswith(area)
        ]
        target = Case.objects.get(pk=self.choose(into, others or [chosen.pk], fitting))
        moving = set(Contact.objects.filter(case=chosen).values_list("pk", flat=True))
        merged = self.attempt("merge", lambda: services.merge_case(case=chosen, into=target, by=self.users[who], reason=reason))
        if merged is not None:
            assert (merged.status, merged.merged_into_id) == ("merged", target.pk)
            assert set(Contact.objects.filter(pk__in=moving).values_list("case_id", flat=True)) <= {target.pk}
            assert merged.events.filter(kind="merged", data__into=target.pk).exists()
            assert target.events.filter(kind="merged", data__from=merged.pk).exists()

    @precondition(lambda self: self.has("case:merged") and self.may_try("unmerge"))
    @rule(case=picks, actor=actors)
    def unmerge(self, case: int, actor: str) -> None:
        """Undo a merge: the case is registered again, with the calls it brought."""
        chosen = self.pick_case(case, ("merged",))
        who = self.dispatcher_for(chosen) if actor == RIGHT else actor
        target = chosen.merged_into_id
        unmerged = self.attempt("unmerge", lambda: services.unmerge_case(case=chosen, by=self.users[who]))
        if unmerged is not None:
            assert (unmerged.status, unmerged.merged_into_id) == ("registered", None)
            assert unmerged.events.filter(kind="unmerged", data__from=target).exists()
            assert CaseEvent.objects.filter(case_id=target, kind="unmerged", data__case=unmerged.pk).exists()

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def cases_work_orders_and_timeline_hold(self) -> None:
        found = invariants.problems()
        assert not found, "\n".join(found)

    @invariant()
    def decisions_hold(self) -> None:
        """What answering, declining, merging and unmerging promise, checked on every case after every step."""
        cases = {row[0]: row for row in rows(Case, "id, status, request_type, reply, not_accepted_reason, closed_at, merged_into_id")}
        for pk, status, request_type, reply, reason, closed_at, merged_into in cases.values():
            assert (status == "merged") == (merged_into is not None), f"case {pk} is {status} with merged_into {merged_into}"
            assert merged_into != pk, f"case {pk} is merged into itself"
            assert (status in ("answered", "not_accepted", "closed")) == (closed_at is not None), f"case {pk} is {status} with closed_at {closed_at}"
            assert (status == "answered") == bool(reply), f"case {pk} is {status} with the reply {reply!r}"
            assert status != "answered" or request_type == "consultation", f"case {pk}: a {request_type} answered on the spot"
            assert (status == "not_accepted") == bool(reason), f"case {pk} is {status} with the reason {reason!r}"
        # Each merge and each unmerge is on both timelines: the case's own ("into", "from") and its target's ("from", "case").
        own: dict[int, list[tuple[str, int]]] = {pk: [] for pk in cases}
        on_target: list[tuple[str, int, int]] = []
        for case_id, kind, raw in rows(CaseEvent, "case_id, kind, data", "WHERE kind IN ('merged', 'unmerged') ORDER BY id"):
            data = json.loads(raw) if isinstance(raw, str) else raw  # SQLite answers text, PostgreSQL a dict
            if kind == "merged" and "into" in data:
                own[case_id].append((kind, data["into"]))
            elif kind == "unmerged" and "from" in data:
                own[case_id].append((kind, data["from"]))
            else:
                on_target.append((kind, data["from"] if kind == "merged" else data["case"], case_id))
        assert sorted(on_target) == sorted((kind, pk, target) for pk, events in own.items() for kind, target in events), f"merges not on both timelines: {own}"
        for pk, events in own.items():
            # Merged, unmerged, merged…: each unmerge undoes the merge before it, and a merged case's last merge is into its target.
            kinds = [kind for kind, _target in events]
            assert kinds == ["merged", "unmerged"] * (len(kinds) // 2) + (["merged"] if len(kinds) % 2 else []), f"case {pk}: merges {events}"
            assert all(events[i][1] == events[i + 1][1] for i in range(0, len(events) - 1, 2)), f"case {pk}: merges {events}"
            assert (cases[pk][1] == "merged") == (len(kinds) % 2 == 1), f"case {pk} is {cases[pk][1]} after merges {events}"
            assert cases[pk][6] is None or events[-1] == ("merged", cases[pk][6]), f"case {pk} is merged into {cases[pk][6]} after merges {events}"
        # Every call is on the case it was recorded on, or where that case is merged into.
        placed = dict(rows(Contact, "id, case_id"))
        for contact, recorded_on in self.recorded_on.items():
            expected = recorded_on
            while cases[expected][6] is not None:
                expected = cases[expected][6]
            assert placed.get(contact) == expected, f"call {contact} recorded on case {recorded_on} is on case {placed.get(contact)}, not {expected}"

    @invariant()
    def nothing_is_deleted(self) -> None:
        for name, model in KEPT.items():
            now = {pk for (pk,) in rows(model, "id")}
            assert self.seen[name] <= now, f"{name}s {sorted(self.seen[name] - now)} were deleted"
            self.seen[name] = now

    @invariant()
    def versions_only_increase(self) -> None:
        rows = [("case", pk, version, status) for pk, version, status in Case.objects.values_list("pk", "version", "status")]
        rows += [("order", pk, version, status) for pk, version, status in WorkOrder.objects.values_list("pk", "version", "status")]
        for kind, pk, version, status in rows:
            previous = self.versions.get((kind, pk))
            if previous is not None:
                assert version >= previous[0], f"{kind} {pk}: version went from {previous[0]} down to {version}"
                assert status == previous[1] or version > previous[0], f"{kind} {pk}: status {previous[1]} → {status} without a new version"
            self.versions[(kind, pk)] = (version, status)


def test_random_action_sequences_keep_the_invariants(demo_org):
    run_state_machine_as_test(
        lambda: CaseActions(demo_org),
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.fixture
def machine(demo_org):
    built = CaseActions(demo_org)
    yield built
    built.teardown()


def test_a_full_case_runs_through_the_machine(machine):
    """The machine's own wiring: a case played to its close by the rules succeeds at every step.

    An index that is a multiple of 4 picks from every row (see ``CaseActions.choose``): 4 × n is the n-th work order.
    """
    machine.register(actor="city.dispatcher", own_unit=True, request_type="help", category="wage-arrears", region="坪山区", pick=0, accused=None)
    machine.dispatch(case=0, actor="city.dispatcher", lead="坪山区妇联", cohandlers=[], legal_basis="consent")
    machine.sign_for(order=0, actor="pingshan.dispatcher")
    machine.forward(order=0, actor="pingshan.dispatcher", lead="深圳市坪山区人力资源局", cohandlers=["坪山街道劳动监察中队"])
    for index, handler in ((4, "pingshan.hr"), (8, "pingshan.labour")):
        machine.sign_for(order=index, actor=handler)
        machine.first_contact(order=index, actor=handler, note="已处理。")
        machine.complete(order=index, actor=handler, result="已处理。", amount=None)
        machine.review(order=index, actor="pingshan.dispatcher", accept=True, comment="")
    machine.first_contact(order=0, actor="pingshan.dispatcher", note="已处理。")
    machine.complete(order=0, actor="pingshan.dispatcher", result="已处理。", amount=Decimal("130000"))
    machine.review(order=0, actor="city.dispatcher", accept=True, comment="")
    machine.close(case=0, actor="city.dispatcher")
    machine.cases_work_orders_and_timeline_hold()
    assert Case.objects.get().status == "closed"
    assert machine.outcomes == {
        "register: ok": 1,
        "dispatch: ok": 1,
        "sign_for: ok": 3,
        "forward: ok": 1,
        "first_contact: ok": 3,
        "complete: ok": 3,
        "review: ok": 3,
        "close: ok": 1,
    }


def test_a_refused_transfer_to_the_accused_unit_changes_nothing(machine):
    """Found by the machine: a Longhua accusation against the Pingshan federation could be transferred to it."""
    machine.register_first_cases(first=[(("longhua.dispatcher", "龙华街道"), "wage-arrears", "accusation")])
    machine.dispatch(case=0, actor=RIGHT, lead=RIGHT, cohandlers=[], legal_basis="consent")
    machine.request_transfer(case=0, actor="longhua.dispatcher", to="坪山区妇联", new_region=None, reason="已处理。")
    assert machine.outcomes == {"dispatch: ok": 1, "request_transfer: ValidationError": 1}
    machine.cases_work_orders_and_timeline_hold()


def test_a_transfer_waits_for_the_review_of_a_completed_lead(machine):
    """Found by the machine: accepting a transfer while the lead's completed order awaited review made a second lead."""
    machine.register_first_cases(first=[(("longhua.dispatcher", "龙华街道"), "wage-arrears", "help")])
    machine.dispatch(case=0, actor="longhua.dispatcher", lead="龙华区妇联", cohandlers=[], legal_basis="consent")
    machine.sign_for(order=0, actor=RIGHT)
    machine.first_contact(order=0, actor=RIGHT, note="已处理。")
    machine.complete(order=0, actor=RIGHT, result="已处理。", amount=None)
    machine.request_transfer(case=0, actor="longhua.dispatcher", to="光明区妇联", new_region=None, reason="已处理。")
    machine.decide_transfer(transfer=0, actor="guangming.dispatcher", accept=True)
    assert machine.outcomes["decide_transfer: Conflict"] == 1
    machine.cases_work_orders_and_timeline_hold()
    machine.review(order=0, actor=RIGHT, accept=True, comment="")
    assert WorkOrder.objects.get().status == "accepted"


def test_the_decisions_without_work_orders_run_through_the_machine(machine):
    """The new rules' wiring: an answer, a call, a merge that takes the call along, its undoing, a decline.

    An index of 4 × n + 1 picks the n-th record that fits the action (see ``CaseActions.choose``).
    """
    machine.register(actor="hotline", own_unit=True, request_type="consultation", category="wage-arrears", region="龙华区", pick=0, accused=None)
    for _ in range(2):
        machine.register(actor="pingshan.dispatcher", own_unit=True, request_type="help", category="wage-arrears", region="坪山区", pick=0, accused=None)
    consultation, first, second = Case.objects.order_by("pk")
    machine.answer(case=1, actor=RIGHT, reply="产假为九十八天。")
    machine.call_about(case=1, actor=RIGHT, channel="hotline")
    [call] = machine.recorded_on
    assert machine.recorded_on == {call: first.pk}
    machine.merge(case=1, into=1, actor=RIGHT, reason="同一事项。")
    assert Contact.objects.get(pk=call).case_id == second.pk
    machine.decisions_hold()
    machine.unmerge(case=1, actor=RIGHT)
    assert Contact.objects.get(pk=call).case_id == first.pk
    machine.decline(case=1, actor=RIGHT, reason="不属于受理范围。")
    machine.cases_work_orders_and_timeline_hold()
    machine.decisions_hold()
    machine.nothing_is_deleted()
    assert dict(Case.objects.values_list("pk", "status")) == {consultation.pk: "answered", first.pk: "not_accepted", second.pk: "registered"}
    assert machine.outcomes == {"register: ok": 3, "answer: ok": 1, "call_about: ok": 1, "merge: ok": 1, "unmerge: ok": 1, "decline: ok": 1}
    # Each has had its turn now: the machine leaves the rest of an example to the life cycle.
    assert machine.tries == {"answer": 1, "call_about": 1, "merge": 1, "unmerge": 1, "decline": 1, "register": 3}


def test_refused_decisions_change_nothing(machine):
    machine.register_first_cases(first=[(("pingshan.dispatcher", "坪山区"), "wage-arrears", "help")])
    machine.answer(case=0, actor=RIGHT, reply="已处理。")  # a request for help is not answered on the spot
    machine.decline(case=1, actor="longhua.dispatcher", reason="已处理。")  # not her district's case
    machine.decline(case=1, actor=RIGHT, reason=" ")  # no reason
    machine.merge(case=1, into=1, actor=RIGHT, reason="")  # no other case: into itself
    assert machine.outcomes == {
        "answer: IllegalTransition": 1,
        "decline: PermissionDenied": 1,
        "decline: ValidationError": 1,
        "merge: ValidationError": 1,
    }
    assert Case.objects.get().status == "registered"


def test_a_case_every_unit_returned_may_be_declined_or_merged(machine):
    """Found by the machine: a returned case is registered again, and a dispatcher may then decline or merge it.

    Its returned work orders stay (with their ruling to come); no work order holds the case any more.
    """
    machine.register_first_cases(first=[(("pingshan.dispatcher", "坪山区"), "wage-arrears", "help")] * 3)
    for case in (1, 5):  # the first, then the second registered case
        machine.dispatch(case=case, actor="pingshan.dispatcher", lead="坪山街道妇联", cohandlers=[], legal_basis="consent")
        machine.return_order(order=1, actor=RIGHT, reason="不属于本街道。")
    first, second, third = Case.objects.order_by("pk")
    assert [case.status for case in (first, second)] == ["registered", "registered"]
    machine.decline(case=1, actor=RIGHT, reason="不属于受理范围。")
    machine.merge(case=1, into=1, actor=RIGHT, reason="同一事项。")
    assert dict(Case.objects.values_list("pk", "status")) == {first.pk: "not_accepted", second.pk: "merged", third.pk: "registered"}
    assert sorted(WorkOrder.objects.values_list("case_id", "status")) == [(first.pk, "returned"), (second.pk, "returned")]
    machine.cases_work_orders_and_timeline_hold()
    machine.decisions_hold()
    machine.rule_on_return(order=1, actor=RIGHT, ruling="justified")
    assert machine.outcomes["rule_on_return: ok"] == 1


def test_undoing_a_merge_into_a_case_merged_since_brings_the_calls_back(machine):
    """A merged into B, B merged into C (both allowed), then A's merge undone: A's calls must come back to A.

    The machine merges such chains too (see ``CaseActions.merge``).
    """
    dispatcher = machine.users["pingshan.dispatcher"]
    machine.register_first_cases(first=[(("pingshan.dispatcher", "坪山区"), "wage-arrears", "help")] * 3)
    a, b, c = Case.objects.order_by("pk")
    machine.call_about(case=1, actor=RIGHT, channel="hotline")
    services.merge_case(case=a, into=b, by=dispatcher)
    services.merge_case(case=b, into=c, by=dispatcher)
    services.unmerge_case(case=a, by=dispatcher)
    assert list(Contact.objects.values_list("case_id", flat=True)) == [a.pk]
