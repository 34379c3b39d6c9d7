"""What the in-process benchmarks share: a subprocess on the bench database, timing statistics, figures.

``bench/reads.py`` and ``bench/sweep.py`` measure inside a Django process of their own, started
by :func:`measure_in_subprocess` with the bench database's environment (its URL, data directory
and keys), so that the process that asks for a measurement never has Django set up on another
database (the smoke tests run inside pytest's). The child writes its raw numbers as JSON; the
parent adds the machine and the commit (:func:`bench.common.write_result`).

A *figure* is one number of a result with its unit and, where issue 7 sets one, its target
(:func:`figure`): ``bench/run.py`` builds the summary and the growth table from the figures of
every result, whatever benchmark wrote them.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import common


def measure_in_subprocess(module: str, database: common.BenchDatabase, arguments: list[str], *, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m <module> --measure FILE <arguments>`` on ``database`` and return what it wrote to FILE.

    ``env``: the child's environment when the database was not made by
    :func:`bench.common.database_for` (keys already in the environment); by default
    ``database.env()``.
    """
    child_env = dict(env) if env is not None else database.env()
    child_env.setdefault("RIGHTSCARE_TASKS_BACKEND", "db")
    child_env.pop("DJANGO_SETTINGS_MODULE", None)
    with tempfile.TemporaryDirectory(prefix="rightscare-bench-") as directory:
        output = Path(directory) / "result.json"
        command = [sys.executable, "-m", module, "--measure", str(output), *arguments]
        completed = subprocess.run(command, cwd=common.ROOT, env=child_env, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"{module} failed on {database.url} (exit status {completed.returncode}); its output is above")
        result: dict[str, Any] = json.loads(output.read_text())
    return result


def existing_database(cases: int) -> tuple[common.BenchDatabase, dict[str, str]]:
    """The bench database the current environment names (``DATABASE_URL``, ``RIGHTSCARE_DATA_DIR``, keys).

    For a database filled by ``rightscare bench-data`` by hand, whose keys are in the
    environment rather than in a ``keys.env`` beside it (``bench1m``, say).
    """
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        raise SystemExit("--existing needs DATABASE_URL (and RIGHTSCARE_DATA_DIR and the keys the data was written with)")
    vendor = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    data_dir = Path(os.environ.get("RIGHTSCARE_DATA_DIR", str(common.ROOT / "var")))
    return common.BenchDatabase(url=url, vendor=vendor, cases=cases, data_dir=data_dir), dict(os.environ)


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every read benchmark shares: which bench database, where the result goes."""
    parser.add_argument(
        "--cases", type=int, default=100_000, help="cases in the bench database (default 100,000; with --existing, the size it is labelled with)"
    )
    parser.add_argument("--postgres", default="", help="a URL of the PostgreSQL server to use (default: SQLite under var/bench)")
    parser.add_argument("--existing", action="store_true", help="use the database of DATABASE_URL (keys in the environment) instead")
    parser.add_argument("--out", type=Path, default=common.RAW, help="directory of the raw result (default bench/results/raw)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)


def database_of(args: argparse.Namespace) -> tuple[common.BenchDatabase, dict[str, str] | None]:
    """The bench database the options name (made when missing) and, for --existing, the environment to reach it."""
    if args.existing:
        return existing_database(args.cases)
    return common.database_for(args.cases, postgres_url=args.postgres or None), None


def setup_django() -> None:
    """Set Django up in this process on the database of the environment (the child's first step)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rightscare.settings")
    import django

    django.setup()
    from django.conf import settings

    # Pages render without collectstatic: plain static URLs (what a page costs is the same).
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def database_version() -> str:
    """The engine and version of the database of this process ("PostgreSQL 15.20", "SQLite 3.40.1")."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version}"


class QueryLog:
    """Every SQL statement run inside :meth:`capture`: how many, their summed time, the totals per
    statement text and the slowest few with their parameters (to EXPLAIN them).

    A database execute wrapper, so unlike ``CaptureQueriesContext`` it has no limit (that one
    keeps the last 9,000 queries) and keeps no SQL text per query.
    """

    def __init__(self, keep: int = 3) -> None:
        self.count = 0
        self.total_ms = 0.0
        self.statements: dict[str, list[float]] = {}
        self.keep = keep
        self._slowest: list[tuple[float, int, str, Any]] = []

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.count += 1
            self.total_ms += elapsed
            totals = self.statements.setdefault(sql, [0, 0.0])
            totals[0] += 1
            totals[1] += elapsed
            entry = (elapsed, self.count, sql, None if many else params)
            if len(self._slowest) < self.keep:
                heapq.heappush(self._slowest, entry)
            else:
                heapq.heappushpop(self._slowest, entry)

    @contextmanager
    def capture(self) -> Iterator[QueryLog]:
        from django.db import connection

        with connection.execute_wrapper(self):
            yield self

    def slowest(self) -> list[tuple[float, str, Any]]:
        """The slowest statements, slowest first: (ms, SQL with placeholders, parameters)."""
        return [(ms, sql, params) for ms, _order, sql, params in sorted(self._slowest, reverse=True)]

    def top_statements(self, limit: int = 10) -> list[dict[str, Any]]:
        """The statements that took the most time in all, with how often each ran."""
        ranked = sorted(self.statements.items(), key=lambda item: -item[1][1])[:limit]
        return [{"ms": round(total, 2), "count": int(count), "sql": sql[:600]} for sql, (count, total) in ranked]


def explain(sql: str, params: Any) -> str:
    """The plan of one statement: EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL (it runs it), EXPLAIN QUERY PLAN on SQLite."""
    from django.db import connection

    prefix = "EXPLAIN (ANALYZE, BUFFERS)" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    with connection.cursor() as cursor:
        cursor.execute(f"{prefix} {sql}", params)
        return "\n".join(" ".join(str(column) for column in row) for row in cursor.fetchall())


#: An id array literal of a gathered scope ('{1,2,…}', tens of thousands of ids) in a plan or its parameters.
_ID_ARRAY = re.compile(r"\{\d+(?:,\d+){20,}\}")


def shortened(text: str) -> str:
    """``text`` with each long id array written as its size ("{…65,000 ids}"): the raw results keep the plan, not 500 KB of ids."""
    return _ID_ARRAY.sub(lambda match: f"{{…{match.group(0).count(',') + 1:,} ids}}", text)


def timings(values_ms: list[float]) -> dict[str, Any]:
    """Median, 95th and 99th percentile, mean, min and max of ``values_ms`` (ms, rounded to 0.01)."""
    return {
        "runs": len(values_ms),
        "median_ms": round(statistics.median(values_ms), 2),
        "p95_ms": round(common.percentile(values_ms, 0.95), 2),
        "p99_ms": round(common.percentile(values_ms, 0.99), 2),
        "mean_ms": round(statistics.fmean(values_ms), 2),
        "min_ms": round(min(values_ms), 2),
        "max_ms": round(max(values_ms), 2),
    }


def figure(key: str, label: str, value: float | None, unit: str, *, target: float | None = None, higher_is_better: bool = False) -> dict[str, Any]:
    """One figure of a result: ``passed`` is None without a target, else whether ``value`` meets it."""
    passed = None
    if target is not None and value is not None:
        passed = value >= target if higher_is_better else value <= target
    return {"key": key, "label": label, "value": value, "unit": unit, "target": target, "higher_is_better": higher_is_better, "passed": passed}


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
