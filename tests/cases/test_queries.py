"""The inbox and the case search: a constant number of queries, and plans that use the indexes.

The data comes from the bench-data generator. Query counts are compared between 10 and
100 cases, walking every relation a list page shows. The plans are checked on
PostgreSQL after ``ANALYZE`` with sequential scans and whole-table hash and merge joins
switched off: on a few thousand rows a full scan is the cheapest plan whatever the
indexes, so the question asked is whether the query *can* be answered from indexes,
narrowed to the user's scope — which is what decides how it behaves at a million cases.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rightscare.cases import selectors
from rightscare.cases.benchdata import Shape, generate
from rightscare.cases.models import Case, CaseEvent, CaseStatus, Category, DutyShift, WorkOrder, WorkOrderStatus
from rightscare.intake.models import Contact
from rightscare.org.models import Membership, Region, Unit
from rightscare.org.roles import Role
from rightscare.registry.models import Person
from tests.api_client import ApiClient

UNTIL = timezone.make_aware(datetime.datetime(2026, 3, 2))
#: One district, so every case lands in the same inbox and the same dispatcher's search.
ONE_DISTRICT = Shape(provinces=1, cities=1, districts=1, streets=2, communities=2)
ALL_ORDER_STATUSES = tuple(WorkOrderStatus.values)


def bench(cases: int, shape: Shape = ONE_DISTRICT) -> None:
    generate(cases=cases, seed=11, shape=shape, years=1, until=UNTIL, chunk=500, progress=False)


def member(role: str, kind: str) -> Any:
    return Membership.objects.filter(role=role, unit__kind__code=kind).select_related("user").order_by("pk").first().user


def show_inbox(user: Any) -> list[tuple[str, ...]]:
    """What the inbox page shows of each work order."""
    return [
        (o.case.number, o.case.category.display_name, o.case.region.display_name, o.unit.display_name, o.sent_by_unit.display_name, o.status)
        for o in selectors.unit_inbox(by=user, statuses=ALL_ORDER_STATUSES)
    ]


def show_search(user: Any, filters: selectors.CaseSearch) -> list[tuple[str, ...]]:
    """What the search results show of each case."""
    return [(c.number, c.category.display_name, c.region.display_name, c.status) for c in selectors.search_cases(by=user, filters=filters)]


@pytest.mark.parametrize("cases", [10, 100])
def test_the_inbox_takes_the_same_queries_for_10_or_100_cases(db, django_assert_num_queries, cases):
    bench(cases)
    handler = member(Role.HANDLER, "federation-district")
    expected = WorkOrder.objects.filter(unit__memberships__user=handler).count()
    assert expected >= cases // 4
    # One for her memberships (then cached on her), one for the list.
    with django_assert_num_queries(2):
        shown = show_inbox(handler)
    assert len(shown) == expected


@pytest.mark.parametrize("cases", [10, 100])
def test_the_search_takes_the_same_queries_for_10_or_100_cases(db, django_assert_num_queries, cases):
    bench(cases)
    dispatcher = member(Role.DISPATCHER, "federation-district")
    with django_assert_num_queries(2):
        shown = show_search(dispatcher, selectors.CaseSearch())
    assert len(shown) == cases
    with django_assert_num_queries(1):
        closed = show_search(dispatcher, selectors.CaseSearch(status=CaseStatus.CLOSED))
    assert 0 < len(closed) < cases


@pytest.mark.parametrize("limit", [5, 50])
def test_the_api_search_reads_her_scope_once_per_page(db, client, limit):
    """``/api/v1/cases``: ids and count in one statement over her scope, then the page's rows by id.

    ``LimitOffsetPagination`` counted and then read the page, computing her scope twice.
    """
    bench(60)
    dispatcher = member(Role.DISPATCHER, "federation-district")
    api = ApiClient(client, dispatcher)
    expected = [c.number for c in selectors.search_cases(by=dispatcher, filters=selectors.CaseSearch())]
    with CaptureQueriesContext(connection) as captured:
        answer = api.get("/cases", {"limit": limit, "offset": 3})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["count"] == len(expected) == 60
    assert [item["number"] for item in body["items"]] == expected[3 : 3 + limit]
    windowed = [q["sql"] for q in captured.captured_queries if "OVER ()" in q["sql"]]
    assert len(windowed) == 1
    assert not [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
    # Past the end: nothing, and the count all the same.
    beyond = api.get("/cases", {"limit": limit, "offset": 500}).json()
    assert beyond == {"items": [], "count": 60}


# --- plans on PostgreSQL -----------------------------------------------------------------------------


#: Planner switches turned off while explaining: what is left is what indexes can do (see the module docstring).
AVOIDED = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")


def plan(queryset: Any) -> str:
    """The plan PostgreSQL would use for ``queryset`` if it had to avoid sequential scans and whole-table joins."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        for setting in AVOIDED:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        text = "\n".join(row[0] for row in cursor.fetchall())
        for setting in AVOIDED:
            cursor.execute(f"SET LOCAL {setting} = on")
    return text


def unscoped_scans(text: str, table: str, keys: tuple[str, ...]) -> list[str]:
    """Scans of ``table`` in the plan that are not narrowed by one of ``keys`` (so read rows of everyone)."""
    lines = text.splitlines()
    found = []
    for number, line in enumerate(lines):
        # The table itself: not an index named after it (cases_case_pkey), nor a longer name (cases_caseparty).
        if not re.search(rf" on {table}\b", line) or "Scan" not in line:
            continue
        depth = len(line) - len(line.lstrip())
        details = []
        for following in lines[number + 1 :]:
            if len(following) - len(following.lstrip()) <= depth or following.lstrip().startswith("->"):
                break
            details.append(following)
        conditions = [d for d in details if "Cond:" in d]
        if not any(key in condition for condition in conditions for key in keys):
            found.append(line.strip())
    return found


@pytest.fixture(scope="module")
def _analysed_world(django_db_setup, django_db_blocker):
    """A few thousand cases over two cities with fresh statistics, made once per module (and xdist worker).

    The plan tests only read: the data is made inside one outer transaction, each test runs in
    a savepoint of it (pytest-django's ``db``), and the whole is rolled back when the module is
    done — as the access matrix does (tests/test_access_matrix.py). ANALYZE inside the
    transaction gives the plans their statistics and is rolled back with the rows.
    """
    hashing = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock():
        hashing.enable()
        outer = transaction.atomic()
        outer.__enter__()
        try:
            bench(3000, Shape(provinces=1, cities=2, districts=3, streets=3, communities=2))
            with connection.cursor() as cursor:
                for table in ("cases_case", "cases_workorder", "cases_caseevent", "org_region", "org_unit", "org_membership"):
                    cursor.execute(f"ANALYZE {table}")
            yield
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            hashing.disable()


@pytest.fixture
def analysed(_analysed_world, db):
    """The module's analysed data set (see ``_analysed_world``)."""


def district_search(user: Any, name: str) -> selectors.CaseSearch:
    """The search a district dispatcher makes, by key: everything, a status, a category, a street, months, all of them, a name."""
    street = Region.objects.filter(level="street", path__startswith=Unit.objects.get(memberships__user=user).region.path).order_by("path").first()
    employment = Category.objects.get(code="employment", valid_until__isnull=True)
    months = {"created_from": datetime.date(2025, 6, 1), "created_to": datetime.date(2025, 9, 30)}
    return {
        "all": selectors.CaseSearch(),
        "closed": selectors.CaseSearch(status=CaseStatus.CLOSED),
        "category": selectors.CaseSearch(category=employment),
        "street": selectors.CaseSearch(region_path=street.path),
        "months": selectors.CaseSearch(**months),
        "everything": selectors.CaseSearch(status=CaseStatus.CLOSED, category=employment, region_path=street.path, **months),
        "name": selectors.CaseSearch(name="王"),
    }[name]


@pytest.mark.postgres
@pytest.mark.parametrize("statuses", [None, ALL_ORDER_STATUSES], ids=["open", "every status"])
def test_the_inbox_is_read_from_the_inbox_index(analysed, statuses):
    handler = member(Role.HANDLER, "federation-district")
    inbox = selectors.unit_inbox(by=handler) if statuses is None else selectors.unit_inbox(by=handler, statuses=statuses)
    text = plan(inbox[:50])
    # By the unit first: the inbox index (unit, status, created_at), or — every status wanted, the
    # page in created order — the assessment's (unit, created_at), which needs no sort.
    indexes = ["work_order_inbox"] if statuses is None else ["work_order_inbox", "work_order_unit_period"]
    assert any(index in text for index in indexes), text
    assert re.search(r"Index Cond: \(+unit_id = ", text), text
    assert "Seq Scan on cases_workorder" not in text, text


#: Every read of the case table narrowed to her scope: by region, registering unit or case id.
SCOPE_KEYS = ("region_id", "registering_unit_id", "(id =", ".id =")


@pytest.mark.postgres
@pytest.mark.parametrize("search", ["all", "closed", "category", "street", "months", "everything", "name"])
def test_the_scoped_search_is_read_by_region(analysed, search):
    dispatcher = member(Role.DISPATCHER, "federation-district")
    results = selectors.search_cases(by=dispatcher, filters=district_search(dispatcher, search))
    for page in (results[:50], results[5000:5050], results.order_by()):
        text = plan(page)
        assert unscoped_scans(text, "cases_case", SCOPE_KEYS) == [], text
    # A case's row is fetched by its id, never by a walk through everyone's cases (see CaseQuerySet.listed_for).
    assert "= ANY (" in plan(results[:50])


@pytest.mark.postgres
def test_the_dispatch_queue_reads_only_the_cases_waiting(analysed):
    # Few cases wait in the whole installation: read from the status index, each checked against her scope.
    dispatcher = member(Role.DISPATCHER, "federation-district")
    text = plan(selectors.dispatch_queue(by=dispatcher).order_by("created_at", "id")[:50])
    assert unscoped_scans(text, "cases_case", (*SCOPE_KEYS, "status")) == [], text


@pytest.mark.postgres
@pytest.mark.parametrize("by", ["number", "phone"])
def test_a_search_by_number_or_phone_reads_only_the_cases_they_name(analysed, by):
    dispatcher = member(Role.DISPATCHER, "federation-district")
    case = Case.objects.visible_to(dispatcher).filter(petitioner__phones__isnull=False).order_by("pk").first()
    filters = selectors.CaseSearch(number=case.number) if by == "number" else selectors.CaseSearch(phone=case.petitioner.phones.first().phone)
    results = selectors.search_cases(by=dispatcher, filters=filters)
    assert results.filter(pk=case.pk).exists()
    text = plan(results[:50])
    assert unscoped_scans(text, "cases_case", ("number", "petitioner_id", "(id =", ".id =")) == [], text


@pytest.mark.postgres
@pytest.mark.parametrize("lookup", ["name__startswith", "name"])
def test_the_name_search_is_read_from_an_index(analysed, lookup):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registry_person")
    text = plan(Person.objects.filter(**{lookup: "王秀"}).values("pk"))
    assert "person_name_prefix" in text, text
    assert "Seq Scan on registry_person" not in text, text


# --- the indexes in the database -------------------------------------------------------------------------


@pytest.mark.parametrize("model", [Case, WorkOrder, CaseEvent, DutyShift, Contact, Person], ids=lambda model: model.__name__)
def test_the_database_has_the_declared_indexes_and_no_redundant_ones(db, model):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    declared = {index.name for index in model._meta.indexes} | {constraint.name for constraint in model._meta.constraints}
    assert declared <= set(found)
    declared_columns = [found[name]["columns"] for name in declared]
    for field in model._meta.concrete_fields:
        if field.primary_key or field.db_index or field.unique:
            continue
        # No index of its own: a field that needs one leads a declared index instead (below).
        own = [name for name, info in found.items() if info["columns"] == [field.column] and info["index"] and name not in declared]
        assert own == [], (field.name, own)
    if model is Case:
        # Declared in Meta rather than by db_index, which on PostgreSQL also builds a LIKE copy.
        assert [name for name, info in found.items() if info["columns"] == ["status"] and info["index"]] == ["case_status"]
    # The foreign keys without an index of their own lead a declared one.
    for field in model._meta.concrete_fields:
        if field.is_relation and not field.db_index:
            assert any((columns or [])[:1] == [field.column] for columns in declared_columns), field.name
