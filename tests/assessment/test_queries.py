"""The assessment and the dashboard take a constant number of queries, however many units and cases."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rightscare.assessment import selectors
from rightscare.cases import services
from rightscare.cases.models import Case as CaseRecord
from rightscare.cases.models import Category
from rightscare.org.access import forget_grants
from tests.assessment.dataset import NOW, at, frozen
from tests.factories import make_unit

MARCH = selectors.Filters(period=selectors.Period.month(2026, 3))

#: Queries of the assessment table: her grants; the received side grouped by unit (the total is their
#: sum); the sent side; the percentile per unit and overall; the overdue days (grouped rows, the
#: calendars, the exceptions of the one calendar chain in use); the units; the weights; the exclusions.
#: On PostgreSQL the percentiles per unit and overall ride on the received side's query (ROLLUP): two fewer.
ASSESSMENT_QUERIES = 9 if connection.vendor == "postgresql" else 11
#: On PostgreSQL two more: her scope's cases and her units' ids, gathered once for all the others (``selectors.one_gathering``).
GATHERING = 2 if connection.vendor == "postgresql" else 0
#: The table of her whole scope alone gathers only the ids of her cases: the UNION of the ways she reaches
#: them and the cases accusing her units (``CaseQuerySet.listed_ids``), and her units' ids.
GATHERING_IDS = 3 if connection.vendor == "postgresql" else 0

#: The dashboard: the assessment's queries and its own (the counts by status, category, channel and
#: confidentiality; the categories' names; the top region, its children and the counts by region; two
#: trend queries; the overdue clocks' ids and due times, then the first of them with what the list
#: shows; the chases) — on PostgreSQL one more: the open work orders of her units, gathered once for
#: the overdue list and the chases.
DASHBOARD_QUERIES = ASSESSMENT_QUERIES + 10 + (1 if connection.vendor == "postgresql" else 0)


def test_the_dashboard_lists_the_work_the_supervision_board_chases() -> None:
    from rightscare.supervision.chasing import CHASEABLE_STATUSES

    assert set(selectors.OPEN_WORK) == set(CHASEABLE_STATUSES)


def _more_units_and_work(org, personas, count: int) -> None:
    """``count`` more street-level units in Pingshan, each sent a work order on Monday 2 March (left unsigned: overdue)."""
    street_kind = org.units["pingshan_street"].kind
    category = Category.objects.get(code="wage-arrears", valid_until__isnull=True)
    for index in range(count):
        unit = make_unit(f"坪山第{index}街道妇联", street_kind, org.regions["pingshan_street"], org.units["pingshan"])
        with frozen(at(2, 9)):
            case = services.register_case(
                by=personas["operator"],
                unit=org.units["pingshan"],
                request_type="help",
                category=category,
                summary="又一件。",
                region=org.regions["pingshan_street"],
            )
        with frozen(at(2, 10)):
            services.dispatch_case(case=case, by=personas["dispatcher"], dispatching_unit=org.units["pingshan"], lead=unit, time_class="standard")


def _statements(supervisor, action):
    """What ``action`` returns and the SQL of every statement it ran, her grants read afresh."""
    forget_grants(supervisor)
    with CaptureQueriesContext(connection) as captured:
        result = action()
    return result, [query["sql"] for query in captured.captured_queries]


def _queries(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured.captured_queries)


def test_assessment_queries_do_not_grow_with_units_and_cases(dataset, org, personas) -> None:
    supervisor = personas["supervisor"]

    def run():
        forget_grants(supervisor)
        return selectors.assessment(supervisor, MARCH, now=NOW)

    small = _queries(run)
    _more_units_and_work(org, personas, 6)
    large = _queries(run)
    assert len(run().rows) == 3 + 6
    assert small == large == ASSESSMENT_QUERIES + GATHERING_IDS


def test_dashboard_queries_do_not_grow_with_units_and_cases(dataset, org, personas) -> None:
    supervisor = personas["supervisor"]

    def run():
        forget_grants(supervisor)
        return selectors.dashboard(supervisor, MARCH, now=NOW)

    small = _queries(run)
    _more_units_and_work(org, personas, 6)
    large = _queries(run)
    assert run().total == 11 + 6
    assert small == large == DASHBOARD_QUERIES + GATHERING


def test_pages_take_a_constant_number_of_queries(dataset, org, personas, client) -> None:
    from tests.conftest import log_in

    log_in(client, personas["supervisor"])
    query = "?period=month&year=2026&month=3"
    counts = []
    for extra in (0, 4):
        _more_units_and_work(org, personas, extra)
        with CaptureQueriesContext(connection) as captured, frozen(NOW + datetime.timedelta(minutes=extra)):
            assert client.get("/assessment/" + query).status_code == 200
            assert client.get("/dashboard/" + query).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.postgres
def test_the_scope_is_gathered_once_per_page(dataset, org, personas) -> None:
    """On PostgreSQL the dashboard reads her scope once (the only UNION of ``listed_for``) and passes the ids to the rest."""
    supervisor = personas["supervisor"]
    board, sqls = _statements(supervisor, lambda: selectors.dashboard(supervisor, MARCH, now=NOW))
    assert sum(" UNION " in sql for sql in sqls) == 1
    # Every other statement over cases, work orders, clocks, chases or exclusions tests rows against
    # the gathered ids (the counts, the regions, the two trends, the open work, the overdue clocks,
    # the chases, the received and sent sides, the exclusions…), never her scope again.
    tables = ('FROM "cases_case"', 'FROM "cases_workorder"', 'FROM "supervision_', 'FROM "assessment_exclusion"')
    scoped = [sql for sql in sqls if any(table in sql for table in tables) and " UNION " not in sql]
    arrays = [sql for sql in scoped if "::bigint[]" in sql]
    assert len(arrays) >= 8
    # The others read rows by a short list of ids: her units' open work orders, the first overdue clocks.
    listed = [sql for sql in scoped if "::bigint[]" not in sql]
    assert len(listed) == 2
    assert all(re.search(r'"(id|unit_id)" IN \(\d', sql) for sql in listed)
    # The same figures as the queries that gather the scope each (outside the gathering).
    assert (
        board.total
        == CaseRecord.objects.filter(selectors.in_scope(supervisor, MARCH, "pk"))
        .filter(created_at__gte=MARCH.period.start, created_at__lt=MARCH.period.end)
        .count()
    )
    table = selectors.assessment(supervisor, MARCH, now=NOW)
    assert board.assessment.total.received == table.total.received


def test_the_gathered_scope_keeps_a_period_half_open() -> None:
    """A case registered at the period's first instant is in it; one at the instant after its end is not (times as epoch seconds)."""
    start, end = MARCH.period.start, MARCH.period.end
    rows = [
        (1, start.timestamp(), None),
        (2, end.timestamp(), start.timestamp()),
        (3, (start - datetime.timedelta(microseconds=1)).timestamp(), (end - datetime.timedelta(microseconds=1)).timestamp()),
    ]
    gathered = selectors._Gathered(rows)
    assert gathered.between("created_at", start, end).ids == [1]
    assert gathered.between("resolved_at", start, end).ids == [2, 3]
    assert gathered.between("created_at", start, end).literal == "{1}"
    assert gathered.ids.literal == "{1,2,3}"


def test_a_period_without_work_has_an_empty_table_and_a_zero_total(dataset, personas) -> None:
    table = selectors.assessment(personas["supervisor"], selectors.Filters(period=selectors.Period.month(2025, 3)), now=NOW)
    assert table.rows == []
    assert (table.total.received, table.total.overdue, table.total.handling_p90_seconds) == (0, 0, None)
    assert table.total.rates["sign_for"] == selectors.Rate(0, 0)


@pytest.mark.postgres
@pytest.mark.parametrize("street_holiday", [False, True])
def test_the_overdue_working_days_ride_on_the_counts(dataset, org, personas, street_holiday) -> None:
    """On PostgreSQL the overdue working days come with the received counts (a running count of working
    days per calendar chain, as an array): the same days as the grouped query counts, per unit and in
    total, with one calendar chain or several (a street's own holiday)."""
    from rightscare.org.calendar_models import CalendarException, DayKind, WorkingCalendar

    if street_holiday:
        calendar = WorkingCalendar.objects.create(region=org.regions["pingshan_street"])
        CalendarException.objects.create(calendar=calendar, date=datetime.date(2026, 3, 12), kind=DayKind.HOLIDAY, name="街道休息日")
    supervisor = personas["supervisor"]
    with CaptureQueriesContext(connection) as captured:
        table = selectors.assessment(supervisor, MARCH, now=NOW)
    assert not [query["sql"] for query in captured.captured_queries if '"due_day"' in query["sql"]]  # no grouped query
    timed = selectors.work_orders(supervisor, MARCH, now=NOW, ratings=False)
    expected = selectors.overdue_working_days(timed, now=NOW, region_paths={row.unit.pk: row.unit.region.path for row in table.rows})
    assert {row.unit.pk: row.overdue_days for row in table.rows if row.overdue_days} == expected
    street = next(row for row in table.rows if row.unit == org.units["pingshan_street"])
    # W2: Tue 10; W5: Tue 10 … Mon 16 — less Thu 12 where the street's own calendar rests.
    assert street.overdue_days == (5 if street_holiday else 6)
    assert table.total.overdue_days == sum(expected.values())


@pytest.mark.postgres
def test_the_whole_scope_table_reads_only_the_ids_of_her_scope(dataset, org, personas) -> None:
    """The assessment of her whole scope needs nothing of her cases but their ids: one UNION read as it is
    (``listed_ids``), no case fetched for its times; with a region filter the cases are gathered with them."""
    supervisor = personas["supervisor"]
    whole, sqls = _statements(supervisor, lambda: selectors.assessment(supervisor, MARCH, now=NOW))
    assert sum(" UNION " in sql for sql in sqls) == 1
    assert not [sql for sql in sqls if "EXTRACT(EPOCH" in sql]
    street = selectors.Filters(period=MARCH.period, region=org.regions["pingshan_street"])
    narrowed, sqls = _statements(supervisor, lambda: selectors.assessment(supervisor, street, now=NOW))
    assert sum("EXTRACT(EPOCH" in sql for sql in sqls) == 1
    # Every case of the data set lies in Pingshan Street: the same table either way.
    assert whole.total.received == narrowed.total.received > 0
    assert [(row.unit, row.received, row.overdue_days) for row in whole.rows] == [(row.unit, row.received, row.overdue_days) for row in narrowed.rows]
