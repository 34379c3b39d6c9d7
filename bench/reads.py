"""Server time of the scoped case lists, the case page and the assessment table (issue 7, measurements 2–4).

Run alone (the database is made the first time, then reused; ``--smoke`` for a few runs)::

    .venv/bin/python -m bench.reads --cases 100000 --postgres postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.reads --cases 100000                    # SQLite under var/bench/
    DATABASE_URL=… RIGHTSCARE_DATA_DIR=… (and the keys) .venv/bin/python -m bench.reads --existing --cases 1000000

Everything is measured in a child process on the bench database (``--measure``), through
Django's test client: the whole request — middleware (sessions, authentication, CSP…), the
view, its queries and the template — as a logged-in browser would send it, after a warm-up;
each read ``--runs`` times (the assessment page ``--slow-runs`` times), then again a few times
(``--sql-runs``) inside ``CaptureQueriesContext`` for the number of SQL queries and their summed
time (capturing costs time of its own, so those runs are not timed).

The personas come from the generated data:

* the **handler** of the street-level women's federation with the most open work orders: her
  inbox (first page, and page 50 or the last one there is), her case list (the case search
  without filters: every case of her scope, newest first; first page and page 50 or the
  last), and the page of the case of her scope with the longest timeline (and the last page
  of that timeline, the "load more" link);
* the **dispatcher** of the district federation with the most cases located in its district:
  the case search filtered by the first-level category and status most frequent in her scope
  (first page and page 50 or the last);
* the **supervisor** of the city federation with the most cases located in its city: the
  assessment table of the whole city for the last complete year of the data (the page, and
  ``assessment.selectors.assessment`` alone), and one hand-written SQL aggregate over the
  same work orders (:func:`hand_sql`) to compare with.

The pages paginate by 50 with page numbers (no size parameter): that the number of queries
does not depend on the page size is shown on the API, which takes ``limit``: the same search
and the inbox at ``limit=10`` and ``limit=200`` (its maximum). The session is made directly in the
session store (no login: a login writes an audit entry), so the only writes are the session's
own row, updated by every request as in production; those rows are deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common, measure

NAME = "reads"
#: Issue 7: p95 server time of a list page and of the case page.
TARGET_PAGE_MS = 50.0
#: Issue 7: the assessment table of a city for a year, and its ratio to one hand-written aggregate.
TARGET_ASSESSMENT_MS = 1000.0
TARGET_ASSESSMENT_RATIO = 2.0
#: The "deep page" of a list: page 50, or the last one when there are fewer.
DEEP_PAGE = 50
#: Page sizes of the API requests that show the query count does not grow with the page.
API_LIMITS = (10, 200)
#: Runs of a full measurement and of a smoke run: (runs, slow runs, SQL runs, warm-up).
FULL = (50, 10, 5, 2)
SMOKE = (3, 2, 1, 1)


def run(
    database: common.BenchDatabase,
    *,
    smoke: bool,
    out: Path,
    env: dict[str, str] | None = None,
    runs: int | None = None,
    slow_runs: int | None = None,
    sql_runs: int | None = None,
    warmup: int | None = None,
    explain_ms: float = 5.0,
) -> dict[str, Any]:
    """Measure the reads on ``database`` in a subprocess; write the raw result under ``out`` and return it.

    ``env``: the environment of a database not made by ``database_for`` (see ``measure.existing_database``).
    """
    arguments = ["--explain-ms", str(explain_ms)]
    if smoke:
        arguments.append("--smoke")
    for option, value in (("--runs", runs), ("--slow-runs", slow_runs), ("--sql-runs", sql_runs), ("--warmup", warmup)):
        if value is not None:
            arguments += [option, str(value)]
    payload = measure.measure_in_subprocess("bench.reads", database, arguments, env=env)
    path = common.write_result(NAME, database, payload, directory=out)
    return {**json.loads(path.read_text()), "file": str(path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    measure.add_database_arguments(parser)
    parser.add_argument("--smoke", action="store_true", help="a few runs only")
    parser.add_argument("--runs", type=int, help=f"timed runs of each page (default {FULL[0]}; smoke {SMOKE[0]})")
    parser.add_argument("--slow-runs", type=int, help=f"timed runs of the assessment (default {FULL[1]}; smoke {SMOKE[1]})")
    parser.add_argument("--sql-runs", type=int, help=f"runs that count the queries (default {FULL[2]}; smoke {SMOKE[2]})")
    parser.add_argument("--warmup", type=int, help=f"warm-up runs of each read (default {FULL[3]}; smoke {SMOKE[3]})")
    parser.add_argument("--explain-ms", type=float, default=5.0, help="EXPLAIN the queries slower than this of a read that misses its target")
    args = parser.parse_args(argv)
    if args.measure is not None:
        defaults = SMOKE if args.smoke else FULL
        options = Options(
            runs=args.runs or defaults[0],
            slow_runs=args.slow_runs or defaults[1],
            sql_runs=args.sql_runs or defaults[2],
            warmup=defaults[3] if args.warmup is None else args.warmup,
            explain_ms=args.explain_ms,
        )
        measure.setup_django()
        measure.write_json(args.measure, measure_reads(options))
        return 0
    database, env = measure.database_of(args)
    result = run(
        database,
        smoke=args.smoke,
        out=args.out,
        env=env,
        runs=args.runs,
        slow_runs=args.slow_runs,
        sql_runs=args.sql_runs,
        warmup=args.warmup,
        explain_ms=args.explain_ms,
    )
    print_result(result)
    return 0


def print_result(result: dict[str, Any]) -> None:
    for item in result["figures"]:
        verdict = {True: "pass", False: "MISS", None: ""}[item["passed"]]
        target = f"≤ {item['target']:g}" if item["target"] is not None else ""
        print(f"{item['label']:<68} {item['value']:>10.2f} {item['unit']:<3} {target:>8} {verdict}")
    print(f"raw result: {result['file']}")


# --- in the child process: Django is set up from here on --------------------------------------------------


@dataclass(frozen=True)
class Options:
    runs: int
    slow_runs: int
    sql_runs: int
    warmup: int
    explain_ms: float


@dataclass
class Persona:
    role: str
    user: Any
    unit: Any

    def describe(self) -> dict[str, Any]:
        return {"role": self.role, "username": self.user.username, "unit": self.unit.name, "unit_id": self.unit.pk, "unit_kind": self.unit.kind.code}


def _membership(role: str, unit_id: int) -> Any:
    from rightscare.org.models import Membership

    membership = Membership.objects.filter(role=role, unit_id=unit_id, revoked_at__isnull=True).select_related("user", "unit__kind", "unit__region")
    found = membership.order_by("pk").first()
    if found is None:
        raise SystemExit(f"no {role} in unit {unit_id}: is this a database filled by `rightscare bench-data`?")
    return found


def busiest_street_handler() -> Persona:
    """The handler of the street-level federation with the most open work orders (then the most work orders)."""
    from django.db.models import Count, Q

    from rightscare.cases.models import WorkOrder, WorkOrderStatus
    from rightscare.org.roles import Role

    open_statuses = [WorkOrderStatus.SENT, WorkOrderStatus.SIGNED, WorkOrderStatus.IN_PROGRESS]
    units = (
        WorkOrder.objects.filter(unit__kind__code="federation-street")
        .values("unit_id")
        .annotate(open=Count("pk", filter=Q(status__in=open_statuses)), total=Count("pk"))
        .order_by("-open", "-total", "unit_id")
    )
    first = units.first()
    if first is None:
        raise SystemExit("no work order was sent to a street-level federation")
    membership = _membership(Role.HANDLER, first["unit_id"])
    return Persona("street handler", membership.user, membership.unit)


def busiest_federation(kind: str, role: str) -> Persona:
    """The member with ``role`` of the federation of ``kind`` whose region holds the most cases."""
    from django.db.models import Count

    from rightscare.cases.models import Case
    from rightscare.org.models import Membership

    per_region = dict(Case.objects.order_by().values_list("region__path").annotate(n=Count("pk")))
    candidates = Membership.objects.filter(role=role, unit__kind__code=kind, revoked_at__isnull=True).values_list("unit_id", "unit__region__path")

    def cases_in(path: str) -> int:
        return sum(n for region_path, n in per_region.items() if region_path.startswith(path))

    ranked = sorted({(unit_id, path) for unit_id, path in candidates}, key=lambda pair: (-cases_in(pair[1]), pair[0]))
    if not ranked:
        raise SystemExit(f"no {role} in a unit of kind {kind}")
    membership = Membership.objects.filter(role=role, unit_id=ranked[0][0], revoked_at__isnull=True).select_related("user", "unit__kind").order_by("pk").first()
    return Persona(f"{kind.removeprefix('federation-')} {role}", membership.user, membership.unit)  # type: ignore[union-attr]


#: The sessions the readers made (deleted at the end).
SESSIONS: list[str] = []


class Reader:
    """Requests of one persona through Django's test client, with a session made in the session store."""

    def __init__(self, persona: Persona) -> None:
        from importlib import import_module

        from django.conf import settings
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
        from django.test import Client

        self.persona = persona
        self.client = Client(HTTP_HOST="127.0.0.1")
        # What Client.force_login does, without login(): a login writes an audit entry and the last login.
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[SESSION_KEY] = persona.user._meta.pk.value_to_string(persona.user)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = persona.user.get_session_auth_hash()
        store.save()
        assert store.session_key is not None
        SESSIONS.append(store.session_key)
        self.client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key

    def get(self, url: str) -> Callable[[], Any]:
        def read() -> Any:
            response = self.client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{self.persona.role} GET {url}: HTTP {response.status_code}")
            return response

        return read

    @staticmethod
    def clean_up() -> int:
        from django.contrib.sessions.models import Session

        deleted, _rows = Session.objects.filter(session_key__in=SESSIONS).delete()
        SESSIONS.clear()
        return deleted


@dataclass
class Read:
    key: str
    label: str
    persona: str
    url: str
    call: Callable[[], Any]
    target_ms: float | None = None
    slow: bool = False


def time_read(read: Read, options: Options) -> dict[str, Any]:
    """Warm up, time ``runs`` calls, then count the queries of ``sql_runs`` more (not timed)."""
    for _warmup in range(options.warmup):
        read.call()
    elapsed, cpu = [], []
    for _run in range(options.slow_runs if read.slow else options.runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        read.call()
        elapsed.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    logs = []
    for _run in range(options.sql_runs):
        with measure.QueryLog().capture() as log:
            read.call()
        logs.append(log)
    result: dict[str, Any] = {
        "key": read.key,
        "label": read.label,
        "persona": read.persona,
        "url": read.url,
        **measure.timings(elapsed),
        # CPU time of this Python process (middleware, view, ORM, template); the rest is waiting for the database or a core.
        "python_cpu_median_ms": round(statistics.median(cpu), 2),
        "queries": logs[-1].count if logs else None,
        "query_counts": [log.count for log in logs],
        "sql_ms": round(statistics.median(log.total_ms for log in logs), 2) if logs else None,
        "slowest_query_ms": round(logs[-1].slowest()[0][0], 2) if logs and logs[-1].count else None,
        "target_ms": read.target_ms,
    }
    statistic = result["median_ms"] if read.slow else result["p95_ms"]
    result["passed"] = None if read.target_ms is None else statistic <= read.target_ms
    result["_slowest"] = logs[-1].slowest() if logs else []
    return result


def _pages(count: int, size: int) -> int:
    return max(1, math.ceil(count / size))


def list_reads(handler: Persona, dispatcher: Persona) -> tuple[list[Read], dict[str, Any]]:
    """(2) the handler's inbox and case list, the dispatcher's filtered search: first and deep pages; the API at two sizes."""
    from django.db.models import Count
    from django.db.models.functions import Coalesce

    from rightscare.cases import selectors
    from rightscare.cases.models import Case, Category, WorkOrderStatus
    from rightscare.cases.views import PAGE_SIZE

    handler_reader, dispatcher_reader = Reader(handler), Reader(dispatcher)
    inbox = selectors.unit_inbox(by=handler.user)
    to_sign = inbox.filter(status=WorkOrderStatus.SENT).count()
    in_progress = inbox.exclude(status=WorkOrderStatus.SENT).count()
    deep_sign, deep_progress = min(DEEP_PAGE, _pages(to_sign, PAGE_SIZE)), min(DEEP_PAGE, _pages(in_progress, PAGE_SIZE))
    scope = selectors.search_cases(by=handler.user, filters=selectors.CaseSearch()).count()
    deep_scope = min(DEEP_PAGE, _pages(scope, PAGE_SIZE))
    # The dispatcher's search: the first-level category and the status most frequent in her scope.
    top = (
        Case.objects.listed_for(dispatcher.user)
        .filter(category__valid_until__isnull=True)
        .annotate(top=Coalesce("category__parent_id", "category_id"))
        .order_by()
        .values("top", "status")
        .annotate(n=Count("pk"))
        .order_by("-n", "top", "status")
        .first()
    )
    if top is None:
        raise SystemExit(f"no case in the scope of {dispatcher.user.username}")
    category = Category.objects.get(pk=top["top"])
    filtered = selectors.search_cases(by=dispatcher.user, filters=selectors.CaseSearch(category=category, status=top["status"])).count()
    deep_filtered = min(DEEP_PAGE, _pages(filtered, PAGE_SIZE))
    search = f"/cases/?category={category.pk}&status={top['status']}"
    reads = [
        # The floor of any page on this machine: the middleware (session read and update, authentication…) and one SELECT.
        Read("floor.healthz", "floor: /healthz with her session (middleware, SELECT 1)", handler.role, "/healthz", handler_reader.get("/healthz")),
        Read("inbox.first", "handler's inbox, first page", handler.role, "/cases/inbox/", handler_reader.get("/cases/inbox/"), TARGET_PAGE_MS),
        Read(
            "inbox.deep",
            "handler's inbox, deep page (50 or the last)",
            handler.role,
            f"/cases/inbox/?page={deep_sign}&progress_page={deep_progress}",
            handler_reader.get(f"/cases/inbox/?page={deep_sign}&progress_page={deep_progress}"),
            TARGET_PAGE_MS,
        ),
        Read("scope.first", "handler's case list, first page", handler.role, "/cases/", handler_reader.get("/cases/"), TARGET_PAGE_MS),
        Read(
            "scope.deep",
            "handler's case list, deep page (50 or the last)",
            handler.role,
            f"/cases/?page={deep_scope}",
            handler_reader.get(f"/cases/?page={deep_scope}"),
            TARGET_PAGE_MS,
        ),
        Read("search.first", "dispatcher's filtered search, first page", dispatcher.role, search, dispatcher_reader.get(search), TARGET_PAGE_MS),
        Read(
            "search.deep",
            "dispatcher's filtered search, deep page (50 or the last)",
            dispatcher.role,
            f"{search}&page={deep_filtered}",
            dispatcher_reader.get(f"{search}&page={deep_filtered}"),
            TARGET_PAGE_MS,
        ),
    ]
    api_search = f"/api/v1/cases?category={category.code}&status={top['status']}"
    for limit in API_LIMITS:
        reads.append(
            Read(
                f"api.search.limit{limit}",
                f"API: dispatcher's filtered search, limit={limit}",
                dispatcher.role,
                f"{api_search}&limit={limit}",
                dispatcher_reader.get(f"{api_search}&limit={limit}"),
            )
        )
        reads.append(
            Read(
                f"api.inbox.limit{limit}",
                f"API: handler's inbox, limit={limit}",
                handler.role,
                f"/api/v1/work-orders?limit={limit}",
                handler_reader.get(f"/api/v1/work-orders?limit={limit}"),
            )
        )
    sizes = {
        "inbox_to_sign": to_sign,
        "inbox_in_progress": in_progress,
        "handler_scope_cases": scope,
        "search_filter": {"category": category.code, "status": top["status"]},
        "search_results": filtered,
        "deep_pages": {"inbox": [deep_sign, deep_progress], "scope": deep_scope, "search": deep_filtered},
    }
    return reads, sizes


def case_reads(handler: Persona) -> tuple[list[Read], dict[str, Any]]:
    """(3) the case of her scope with the longest timeline: its page, and the last page of its timeline."""
    from django.db.models import Count

    from rightscare.cases import selectors
    from rightscare.cases.models import CaseEvent, WorkOrder
    from rightscare.cases.views import TIMELINE_PAGE_SIZE

    hers = WorkOrder.objects.filter(unit=handler.unit).exclude(case__accused_unit=handler.unit).values("case_id")
    longest = CaseEvent.objects.filter(case_id__in=hers).order_by().values("case_id").annotate(n=Count("pk")).order_by("-n", "case_id").first()
    if longest is None:
        raise SystemExit(f"no case with events in the scope of {handler.user.username}")
    case_id = longest["case_id"]
    reader = Reader(handler)
    from rightscare.cases.models import Case

    visible = selectors.timeline(by=handler.user, case=Case.objects.get(pk=case_id)).count()
    last = _pages(visible, TIMELINE_PAGE_SIZE)
    reads = [
        Read(
            "case.page",
            "case page, longest timeline",
            handler.role,
            f"/cases/{case_id}/",
            reader.get(f"/cases/{case_id}/"),
            TARGET_PAGE_MS,
        ),
        Read(
            "case.timeline_last",
            "its timeline, last page",
            handler.role,
            f"/cases/{case_id}/timeline/?page={last}",
            reader.get(f"/cases/{case_id}/timeline/?page={last}"),
            TARGET_PAGE_MS,
        ),
    ]
    return reads, {"case_id": case_id, "events": longest["n"], "visible_events": visible}


# --- (4) the assessment table and the hand-written aggregate -------------------------------------------------


#: What the hand-written SQL counts per unit, and the assessment figure each count must equal.
HAND_COUNTS = {
    "received": "received",
    "sf_met": "sign_for.num",
    "sf_due": "sign_for.den",
    "fc_met": "response.num",
    "fc_due": "response.den",
    "rs_met": "on_time_resolution.num",
    "rs_due": "on_time_resolution.den",
    "rs_missed": "overdue",
}


def _clock_conditions(alias: str) -> tuple[str, str]:
    """SQL of "met" and "missed" for the clock joined as ``alias`` (``now`` as the named parameter ``%(now)s``)."""
    done = f"{alias}.stop_reason IN ('', 'done')"
    met = f"({alias}.stopped_at IS NOT NULL AND {done} AND {alias}.breached = %(false)s AND {alias}.stopped_at <= {alias}.due_at)"
    missed = (
        f"({alias}.breached = %(true)s"
        f" OR ({alias}.stopped_at IS NOT NULL AND {done} AND {alias}.stopped_at > {alias}.due_at)"
        f" OR ({alias}.stopped_at IS NULL AND {alias}.paused_at IS NULL AND {alias}.due_at <= %(now)s)"
        f" OR ({alias}.stopped_at IS NULL AND {alias}.paused_at IS NOT NULL AND {alias}.due_at <= {alias}.paused_at))"
    )
    return met, missed


def _any_prefix(column: str, paths: list[str], name: str, parameters: dict[str, Any]) -> list[str]:
    clauses = []
    for index, path in enumerate(sorted(paths)):
        parameters[f"{name}{index}"] = f"{path}%"
        clauses.append(f"{column} LIKE %({name}{index})s")
    return clauses


def hand_sql(user: Any, start: datetime.datetime, end: datetime.datetime, now: datetime.datetime) -> tuple[str, dict[str, Any]]:
    """One aggregate over the work orders the assessment table counts, written by hand; portable SQL.

    The rows: work orders created in [start, end) and sent to a unit she may see (a unit in a
    region subtree of her federations, in the subtree of one of her units, or one of her
    units: ``access.visible_units``), whose case she may open (located in her federations'
    region subtrees, with a work order to a unit in one of her unit subtrees, or registered
    by one of her units; never accusing one of her units: ``Case.objects.listed_for``), less
    the approved exclusions (of the work order, or of its whole case). Per unit: the number
    received and, for the sign-for, first-contact and resolution clocks (LEFT JOIN of
    each), how many met their deadline and how many missed it at ``now`` — the conditions of
    ``assessment.selectors._met`` and ``_missed`` — which are the assessment's
    ``received``, the numerators and denominators of the on-time sign-for, response and
    on-time resolution rates, and ``overdue``. No Python runs per row.
    """
    from django.db import connection

    from rightscare.org import access
    from rightscare.org.roles import Capability

    grants = [grant for grant in access.grants_of(user) if Capability.VIEW_ORGANISATION in grant.capabilities]
    scope = access.case_scope(user)
    parameters: dict[str, Any] = {
        "start": connection.ops.adapt_datetimefield_value(start),
        "end": connection.ops.adapt_datetimefield_value(end),
        "now": connection.ops.adapt_datetimefield_value(now),
        "true": True,
        "false": False,
        "sf": "sign_for",
        "fc": "first_contact",
        "rs": "resolution",
        "approved": "approved",
    }
    units = _any_prefix("ur.path", [g.region_path for g in grants if g.family in access.AREA_FAMILIES], "unit_region", parameters)
    units += _any_prefix("u.path", [g.unit_path for g in grants], "unit_path", parameters)
    own_ids = sorted({g.unit_id for g in access.grants_of(user)})
    units += [f"u.id IN ({', '.join(str(unit_id) for unit_id in own_ids)})"] if own_ids else []
    reach = _any_prefix("cr.path", list(scope.region_paths), "case_region", parameters)
    if scope.unit_ids:
        reach.append(f"c.registering_unit_id IN ({', '.join(str(unit_id) for unit_id in sorted(scope.unit_ids))})")
    if scope.unit_paths:
        subtree = " OR ".join(_any_prefix("u2.path", list(scope.unit_paths), "order_unit", parameters))
        exists = f"EXISTS (SELECT 1 FROM cases_workorder w2 JOIN org_unit u2 ON u2.id = w2.unit_id WHERE w2.case_id = c.id AND ({subtree}))"  # noqa: S608
        reach.append(exists)
    accused = (
        f"AND (c.accused_unit_id IS NULL OR c.accused_unit_id NOT IN ({', '.join(str(i) for i in sorted(scope.all_unit_ids))}))" if scope.all_unit_ids else ""
    )
    counts = []
    for alias in ("sf", "fc", "rs"):
        met, missed = _clock_conditions(alias)
        counts.append(f"SUM(CASE WHEN {met} THEN 1 ELSE 0 END) AS {alias}_met")
        counts.append(f"SUM(CASE WHEN {met} OR {missed} THEN 1 ELSE 0 END) AS {alias}_due")
    counts.append(f"SUM(CASE WHEN {_clock_conditions('rs')[1]} THEN 1 ELSE 0 END) AS rs_missed")
    joins = "\n".join(
        f"LEFT JOIN supervision_workorderclock {alias} ON {alias}.work_order_id = wo.id AND {alias}.kind = %({alias})s" for alias in ("sf", "fc", "rs")
    )
    columns = ",\n       ".join(counts)
    # Only integers (unit ids) and fixed column names are written into the text; every value is a parameter.
    sql = f"""SELECT wo.unit_id, COUNT(*) AS received,
       {columns}
FROM cases_workorder wo
JOIN org_unit u ON u.id = wo.unit_id
JOIN org_region ur ON ur.id = u.region_id
JOIN cases_case c ON c.id = wo.case_id
JOIN org_region cr ON cr.id = c.region_id
{joins}
WHERE wo.created_at >= %(start)s AND wo.created_at < %(end)s
  AND ({" OR ".join(units) or "1 = 0"})
  AND ({" OR ".join(reach) or "1 = 0"})
  {accused}
  AND NOT EXISTS (SELECT 1 FROM assessment_exclusion e WHERE e.status = %(approved)s
                  AND (e.work_order_id = wo.id OR (e.case_id = wo.case_id AND e.work_order_id IS NULL)))
GROUP BY wo.unit_id"""  # noqa: S608
    return sql, parameters


def run_hand_sql(sql: str, parameters: dict[str, Any]) -> dict[int, dict[str, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    return {row[0]: {name: int(value or 0) for name, value in zip(names[1:], row[1:], strict=True)} for row in rows}


def table_counts(table: Any) -> dict[int, dict[str, int]]:
    """The assessment table's counts that the hand-written SQL also computes, per unit that received work."""
    counts = {}
    for row in table.rows:
        if not row.received:
            continue
        rates = row.rates
        counts[row.unit.pk] = {
            "received": row.received,
            "sf_met": rates["sign_for"].numerator,
            "sf_due": rates["sign_for"].denominator,
            "fc_met": rates["response"].numerator,
            "fc_due": rates["response"].denominator,
            "rs_met": rates["on_time_resolution"].numerator,
            "rs_due": rates["on_time_resolution"].denominator,
            "rs_missed": row.overdue,
        }
    return counts


def assessment_reads(supervisor: Persona) -> tuple[list[Read], dict[str, Any]]:
    """(4) the city's assessment table for a year: the page, the selector alone, and the hand-written SQL."""
    from django.utils import timezone

    from rightscare.assessment import selectors
    from rightscare.org import access

    year = datetime.date.fromisoformat(common.UNTIL).year - 1  # the last complete year of the data
    filters = selectors.Filters(period=selectors.Period.year(year))
    now = timezone.now()
    reader = Reader(supervisor)

    def selector() -> Any:
        access.forget_grants(supervisor.user)  # as in a request: her memberships are read again
        return selectors.assessment(supervisor.user, filters, now=now)

    sql, parameters = hand_sql(supervisor.user, filters.period.start, filters.period.end, now)

    def hand() -> Any:
        return run_hand_sql(sql, parameters)

    table, by_hand = table_counts(selector()), hand()
    mismatches = [
        {"unit_id": unit_id, "table": table.get(unit_id), "hand_sql": by_hand.get(unit_id)}
        for unit_id in sorted(set(table) | set(by_hand))
        if table.get(unit_id) != by_hand.get(unit_id)
    ]
    url = f"/assessment/?period=year&year={year}"
    reads = [
        Read("assessment.page", "assessment table page, whole city, a year", supervisor.role, url, reader.get(url), TARGET_ASSESSMENT_MS, slow=True),
        Read("assessment.selector", "assessment.selectors.assessment, whole city, a year", supervisor.role, "(selector)", selector, slow=True),
        Read("assessment.hand_sql", "one hand-written SQL aggregate, same work orders", supervisor.role, "(SQL)", hand, slow=True),
    ]
    facts = {
        "year": year,
        "units": len(table),
        "work_orders": sum(counts["received"] for counts in table.values()),
        "hand_sql": sql,
        "hand_sql_counts": HAND_COUNTS,
        "hand_sql_matches": not mismatches,
        "mismatches": mismatches[:20],
    }
    return reads, facts


def measure_reads(options: Options) -> dict[str, Any]:
    """Every read of measurements 2–4 on the database of this process; the raw result."""
    load_at_start = os.getloadavg()
    from django.db import connection

    from rightscare.org.roles import Role

    handler = busiest_street_handler()
    dispatcher = busiest_federation("federation-district", Role.DISPATCHER)
    supervisor = busiest_federation("federation-city", Role.SUPERVISOR)
    try:
        lists, list_facts = list_reads(handler, dispatcher)
        cases, case_facts = case_reads(handler)
        assessments, assessment_facts = assessment_reads(supervisor)
        results = {read.key: time_read(read, options) for read in [*lists, *cases, *assessments]}
    finally:
        removed_sessions = Reader.clean_up()
    # The plans of the slow queries of every read that misses its target, and of the hand-written SQL.
    explained = []
    for result in results.values():
        slowest = result.pop("_slowest")
        if result["key"] == "assessment.hand_sql":
            chosen = slowest[:1]
        elif result["passed"] is False:
            chosen = [(ms, sql, params) for ms, sql, params in slowest if ms >= options.explain_ms]
        else:
            continue
        explained += [
            {
                "read": result["key"],
                "ms": round(ms, 2),
                "sql": sql,
                "params": measure.shortened(repr(params)),
                "plan": measure.shortened(measure.explain(sql, params)),
            }
            for ms, sql, params in chosen
            if sql.lstrip().upper().startswith(("SELECT", "WITH"))
        ]
    independence = {name: {f"limit_{limit}": results[f"api.{name}.limit{limit}"]["queries"] for limit in API_LIMITS} for name in ("search", "inbox")}
    for counts in independence.values():
        counts["equal"] = len(set(counts.values())) == 1
    page, selector, hand = (results[key]["median_ms"] for key in ("assessment.page", "assessment.selector", "assessment.hand_sql"))
    ratio, page_ratio = round(selector / hand, 2), round(page / hand, 2)
    figures = [
        measure.figure(f"{key}.p95", f"{result['label']} (p95)", result["p95_ms"], "ms", target=result["target_ms"])
        for key, result in results.items()
        if result["target_ms"] is not None and key != "assessment.page"
    ]
    figures += [
        measure.figure("assessment.page.median", results["assessment.page"]["label"] + " (median)", page, "ms", target=TARGET_ASSESSMENT_MS),
        measure.figure("assessment.selector.median", results["assessment.selector"]["label"] + " (median)", selector, "ms", target=TARGET_ASSESSMENT_MS),
        measure.figure("assessment.hand_sql.median", results["assessment.hand_sql"]["label"] + " (median)", hand, "ms"),
        measure.figure("assessment.ratio", "assessment selector ÷ hand-written SQL (medians)", ratio, "×", target=TARGET_ASSESSMENT_RATIO),
        measure.figure("assessment.page_ratio", "assessment page ÷ hand-written SQL (medians)", page_ratio, "×"),
    ]
    floor = results["floor.healthz"]
    figures.append(measure.figure("floor.healthz.p95", f"{floor['label']} (p95)", floor["p95_ms"], "ms"))
    figures += [
        measure.figure(f"queries.{key}", f"SQL queries: {result['label']}", result["queries"], "")
        for key, result in results.items()
        if not key.startswith("assessment.hand")
    ]
    return {
        "vendor": connection.vendor,
        "database_version": measure.database_version(),
        # Two cores shared with other work: the load during the measurement says how far to trust it.
        "load_average": {"start": load_at_start, "end": os.getloadavg()},
        "options": options.__dict__,
        "personas": {persona.role: persona.describe() for persona in (handler, dispatcher, supervisor)},
        "lists": list_facts,
        "case": case_facts,
        "assessment": {**assessment_facts, "ratio": ratio, "page_ratio": page_ratio},
        "page_size_independence": independence,
        "reads": list(results.values()),
        "figures": figures,
        "explain": explained,
        "sessions_removed": removed_sessions,
    }


if __name__ == "__main__":
    sys.exit(main())
