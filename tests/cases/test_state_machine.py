"""Random sequences of case actions, by people who may or may not be allowed to take them.

A hypothesis ``RuleBasedStateMachine`` registers a few cases in the demo organisation
and then dispatches, signs for, returns, rules, forwards, notes, completes, reviews,
closes and transfers them, each time as one of a handful of staff: dispatchers and
handlers of Pingshan, Longhua and Guangming, departments, the hotline operator. Each
step either succeeds, or raises one of the errors a user may meet (an illegal
transition or conflict, a validation error, a permission error) and then nothing at
all has changed. After every step the invariants of ``tests.cases.invariants`` hold
and no version went down.

Each example runs inside a savepoint that is rolled back in ``teardown``, so the
demo organisation is loaded once for the whole run (this works the same on SQLite
and PostgreSQL).

Budget: ``MAX_EXAMPLES`` (15) × ``STEPS`` (50) = 750 actions. An action costs 10–30 ms
of service work plus about 15 ms of checks (the snapshot is plain SQL because the
ORM's query compilation would cost more than the actions), so a run takes about
35 s on SQLite and 45 s on PostgreSQL on an idle 2-core machine (more when other
suites share it). Set ``RIGHTSCARE_STATE_MACHINE_EXAMPLES`` for a longer hunt.

Most steps pick the right person, unit and record for the action (``RIGHT``, and
``choose`` mostly picks a work order in a state that allows it), so that runs reach
completions, reviews, closings and transfers; the rest pick anyone and anything, so
that refusals are exercised too. Bugs found this way stay as plain tests at the end.
"""

from __future__ import annotations

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
from rightscare.cases.models import Case, CaseEvent, CaseNumberSequence, CaseParty, Category, Transfer, WorkOrder
from rightscare.core.errors import Conflict
from rightscare.org.models import Region, Unit
from rightscare.registry.models import PersonPhone
from tests.cases import invariants

#: Cases per run: few enough that actions meet each other's work orders again and again.
MAX_CASES = 5
MAX_EXAMPLES = int(os.environ.get("RIGHTSCARE_STATE_MACHINE_EXAMPLES", "15"))
STEPS = 50

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
    AuditEntry._meta.db_table,
)


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
        # One savepoint per example, rolled back in teardown: the next example starts from the demo organisation.
        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- running one action --------------------------------------------------------

    def attempt(self, name: str, action: Any) -> None:
        """Run ``action``; on an expected refusal, assert that nothing changed."""
        before = snapshot()
        try:
            action()
        except EXPECTED_ERRORS as error:
            assert snapshot() == before, f"{name} was refused ({type(error).__name__}: {error}) but changed something"
            self.outcomes[f"{name}: {type(error).__name__}"] = self.outcomes.get(f"{name}: {type(error).__name__}", 0) + 1
        else:
            self.outcomes[f"{name}: ok"] = self.outcomes.get(f"{name}: ok", 0) + 1
        self.counts = self.count_rows()

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
        counts["cases"] = sum(v for k, v in counts.items() if k.startswith("case:"))
        counts["orders"] = sum(v for k, v in counts.items() if k.startswith("order:"))
        counts["pending"] = counts.get("transfer:pending", 0)
        return counts

    def has(self, *keys: str) -> bool:
        return any(self.counts.get(key, 0) > 0 for key in keys)

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

    @precondition(lambda self: self.counts.get("cases", 0) < MAX_CASES)
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

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def cases_work_orders_and_timeline_hold(self) -> None:
        found = invariants.problems()
        assert not found, "\n".join(found)

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
