"""Reads of the supervision and assessment pages on a bench database (issue 5: "interactive at a million cases").

Run against a database filled by ``rightscare bench-data`` (and nothing else), with the
project's settings and the same keys and data directory the generator used::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench1m RIGHTSCARE_DATA_DIR=/tmp/benchvar \\
        .venv/bin/python bench/supervision_reads.py --runs 7 --explain 200

For each persona (a city federation's supervisor, a district federation's supervisor — the
generator makes none, so one membership is added, once — and a district federation's
dispatcher) it requests each page through Django's test client, as a logged-in browser
would (middleware, the view's queries, template rendering), one warm-up and ``--runs``
measured runs, and prints the median and 95th percentile of the wall time, the number of
queries and the time of the slowest one. The five-year dashboard is read through
``assessment.selectors.dashboard`` (the form allows custom periods of at most three years).
With ``--explain MS`` every query slower than MS ms in the last run is shown with
``EXPLAIN (ANALYZE, BUFFERS)``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightscare.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

# Rendering without collectstatic: plain static URLs (what the page costs is the same).
settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from rightscare.assessment import selectors  # noqa: E402
from rightscare.org.models import Membership, Region, Unit, User  # noqa: E402
from rightscare.org.roles import Role  # noqa: E402
from rightscare.supervision import safety  # noqa: E402

UNTIL = datetime.date(2026, 11, 30)


def _membership(role: str, kind: str) -> Membership:
    return Membership.objects.filter(role=role, unit__kind__code=kind, revoked_at__isnull=True).select_related("user", "unit__region").order_by("pk").first()


def personas() -> dict[str, tuple[User, Region]]:
    """name → (user, the district whose units her assessment table shows)."""
    city = _membership(Role.SUPERVISOR, "federation-city")
    dispatcher = _membership(Role.DISPATCHER, "federation-district")
    district_federation = Unit.objects.filter(kind__code="federation-district", parent=city.unit).select_related("region").order_by("pk").first()
    user, _created = User.objects.get_or_create(username="bench-district-supervisor", defaults={"full_name": "区督查员", "password": "!bench"})
    Membership.objects.get_or_create(user=user, unit=district_federation, role=Role.SUPERVISOR, revoked_at=None)
    return {
        "city supervisor": (city.user, district_federation.region),
        "district supervisor": (user, district_federation.region),
        "district dispatcher": (dispatcher.user, dispatcher.unit.region),
    }


def _get(client: Client, url: str) -> Callable[[], Any]:
    def read() -> Any:
        response = client.get(url)
        if response.status_code == 403:
            raise PermissionError(url)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        return response

    return read


def reads(user: User, district: Region) -> list[tuple[str, Callable[[], Any]]]:
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    five_years = selectors.Filters(period=selectors.Period.custom(UNTIL - datetime.timedelta(days=5 * 365), UNTIL))

    def dashboard_five_years() -> Any:
        board = selectors.dashboard(user, five_years)
        return selectors.chart_data(board)

    def safety_list() -> Any:
        return list(safety.follow_ups_visible_to(user).filter(ended_at__isnull=True).select_related("case", "unit").order_by("next_review_at", "pk")[:50])

    year, quarter = UNTIL.year, (UNTIL.month - 1) // 3 + 1
    return [
        ("dashboard, year", _get(client, f"/dashboard/?period=year&year={year}")),
        ("dashboard, five years (selector)", dashboard_five_years),
        ("assessment, district units, quarter", _get(client, f"/assessment/?period=quarter&year={year}&quarter={quarter}&region={district.pk}")),
        ("assessment, district units, year", _get(client, f"/assessment/?period=year&year={year}&region={district.pk}")),
        ("supervision board", _get(client, "/supervision/board/")),
        ("overdue API, first page", _get(client, "/api/v1/supervision/overdue")),
        ("safety follow-ups page", _get(client, "/safety/")),
        ("safety follow-ups, open, first 50 (selector)", safety_list),
    ]


def measure(read: Callable[[], Any], runs: int) -> tuple[list[float], CaptureQueriesContext]:
    read()  # warm-up
    times = []
    captured = CaptureQueriesContext(connection)
    for run in range(runs):
        if run == runs - 1:
            with captured:
                started = time.perf_counter()
                read()
                times.append((time.perf_counter() - started) * 1000)
        else:
            started = time.perf_counter()
            read()
            times.append((time.perf_counter() - started) * 1000)
    return times, captured


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--explain", type=float, default=0, help="EXPLAIN ANALYZE the queries slower than this many ms")
    parser.add_argument("--only", default="", help="only the reads whose name contains this")
    args = parser.parse_args()
    print(f"{'persona':<20} {'read':<46} {'median':>8} {'p95':>8} {'queries':>7} {'SQL ms':>8} {'slowest':>8}")
    slow: list[tuple[str, float, str]] = []
    for name, (user, district) in personas().items():
        for label, read in reads(user, district):
            if args.only and args.only not in label:
                continue
            try:
                times, captured = measure(read, args.runs)
            except PermissionError:
                print(f"{name:<20} {label:<46} {'(not hers: 403)':>26}", flush=True)
                continue
            queries = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
            slowest = max(queries, default=(0.0, ""))
            p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
            print(
                f"{name:<20} {label:<46} {statistics.median(times):8.0f} {p95:8.0f} {len(queries):7d} {sum(ms for ms, _sql in queries):8.0f} {slowest[0]:8.0f}",
                flush=True,
            )
            slow += [(f"{name} / {label}", ms, sql) for ms, sql in queries if args.explain and ms >= args.explain]
    for where, ms, sql in slow:
        print(f"\n--- {where}: {ms:.0f} ms\n{sql}\n{explain(sql)}", file=sys.stderr)


if __name__ == "__main__":
    main()
