"""The deadline sweep with 1,000 clocks due on a bench database (issue 7, measurement 5).

Run alone (the database is made the first time, then reused; ``--smoke`` for a tiny run)::

    .venv/bin/python -m bench.sweep --cases 100000 --postgres postgres://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.sweep --cases 100000                    # SQLite under var/bench/
    DATABASE_URL=… RIGHTSCARE_DATA_DIR=… (and the keys) .venv/bin/python -m bench.sweep --existing --cases 1000000

A bench database leaves nothing due at the end of its history (``rightscare bench-data`` stamps
every clock, chase and safety review as the sweep would have left them at ``--until``), so the
sweep is run at that instant (``NOW``: midnight at the start of ``bench.common.UNTIL``, local
time) after arranging exactly ``--due`` clocks (1,000) to be due: running clocks spread evenly
over the table (every n-th by id) have their whole timeline — start, 50 %, 80 %, due time and
next check — moved back so that a threshold passed one minute before ``NOW``. A database with
fewer running clocks (10,000 cases hold about 170) makes up the number with stopped clocks made
to run again (stop, pause and warnings cleared), so that every scale sweeps 1,000 rows. Two workloads:

* ``next``: the threshold each clock is waiting for (its ``next_check_at``): the mix of 50 %
  and 80 % warnings and missed deadlines that the running clocks of the data are next due for;
* ``deadline``: the due time: every clock has missed its deadline, so every row gets the
  heaviest step — an automatic reminder (催办) with its chase, timeline event, audit entry and
  inbox messages (and for an unsigned emergency, supervision by the parent unit at once).

After one warm-up run per workload (a worker sweeps every minute: its caches are warm), each
run arranges, calls :func:`rightscare.supervision.sweep.sweep` with ``now=NOW`` (the only thing
timed), and rolls everything back: the arrangement and the sweep run inside one transaction
that is never committed. The sweep commits a batch per transaction; here those
commits become savepoints, so a run saves one COMMIT (a WAL flush on PostgreSQL) per batch of
``SUPERVISION_SWEEP_BATCH`` rows — ten flushes for 1,000 rows, a few milliseconds on a local
disk. Before the first run and after the last, the rows of every table the sweep writes are
counted and the arranged clocks are read whole: both must be unchanged (``unchanged`` in the
result), and the sweep must have found exactly the clocks arranged and nothing else.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import common, measure

NAME = "sweep"
#: Issue 7: 1,000 due clocks swept in at most 2 s, flat from 100,000 to 1,000,000 cases.
TARGET_MS = 2000.0
DUE = 1000
SMOKE_DUE = 5
#: Timed runs per workload (each arranges, sweeps and rolls back), and of a smoke run.
RUNS, SMOKE_RUNS = 3, 1
WORKLOADS = ("next", "deadline")
#: What the sweep writes: counted before and after, they must not change.
WATCHED = (
    "supervision.WorkOrderClock",
    "supervision.Chase",
    "supervision.SafetyFollowUp",
    "cases.CaseEvent",
    "audit.AuditEntry",
    "notifications.Message",
    "notifications.PetitionerNotice",
    "django_tasks_database.DBTaskResult",
)
#: The instants of a clock moved back together.
SHIFTED = ("started_at", "due_at", "original_due_at", "half_at", "late_at", "next_check_at")
#: What making a stopped clock run again changes.
REVIVED_FIELDS = ("stopped_at", "stop_reason", "paused_at", "breached", "warned_half_at", "warned_late_at", "due_notified_at")


def run(
    database: common.BenchDatabase,
    *,
    smoke: bool,
    out: Path,
    env: dict[str, str] | None = None,
    due: int | None = None,
    runs: int | None = None,
) -> dict[str, Any]:
    """Measure the sweep on ``database`` in a subprocess; write the raw result under ``out`` and return it."""
    arguments = ["--smoke"] if smoke else []
    if due is not None:
        arguments += ["--due", str(due)]
    if runs is not None:
        arguments += ["--runs", str(runs)]
    payload = measure.measure_in_subprocess("bench.sweep", database, arguments, env=env)
    path = common.write_result(NAME, database, payload, directory=out)
    return {**json.loads(path.read_text()), "file": str(path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    measure.add_database_arguments(parser)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_DUE} clocks due, one run")
    parser.add_argument("--due", type=int, help=f"clocks made due (default {DUE})")
    parser.add_argument("--runs", type=int, help=f"timed runs per workload (default {RUNS})")
    args = parser.parse_args(argv)
    if args.measure is not None:
        measure.setup_django()
        due = args.due or (SMOKE_DUE if args.smoke else DUE)
        runs = args.runs or (SMOKE_RUNS if args.smoke else RUNS)
        measure.write_json(args.measure, measure_sweep(due=due, runs=runs))
        return 0
    database, env = measure.database_of(args)
    result = run(database, smoke=args.smoke, out=args.out, env=env, due=args.due, runs=args.runs)
    for item in result["figures"]:
        verdict = {True: "pass", False: "MISS", None: ""}[item["passed"]]
        print(f"{item['label']:<60} {item['value']:>10.2f} {item['unit']:<3} {verdict}")
    print(f"unchanged afterwards: {result['unchanged']}; raw result: {result['file']}")
    return 0


# --- in the child process: Django is set up from here on --------------------------------------------------


def sweep_now() -> datetime.datetime:
    """The end of the bench data's history: midnight at the start of ``UNTIL``, in the installation's time zone."""
    from django.utils import timezone

    return timezone.make_aware(datetime.datetime.combine(datetime.date.fromisoformat(common.UNTIL), datetime.time()))


def due_now(now: datetime.datetime) -> dict[str, int]:
    """What the sweep would find due at ``now``: clocks, chases, safety reviews."""
    from rightscare.supervision import sweep

    return {"clocks": sweep.due_clocks(now).count(), "chases": sweep.due_chases(now).count(), "safety_reviews": sweep.due_safety_reviews(now).count()}


def fingerprint(clock_ids: list[int], now: datetime.datetime) -> dict[str, Any]:
    """Row counts of every table the sweep writes, the arranged clocks whole, what is due: before and after."""
    from django.apps import apps

    from rightscare.supervision.models import WorkOrderClock

    counts = {label: apps.get_model(label).objects.count() for label in WATCHED if label != "audit.AuditEntry"}
    # The sweep's own audit entries only: a login elsewhere on the same database writes one too.
    counts["audit.AuditEntry (supervision.*)"] = apps.get_model("audit.AuditEntry").objects.filter(event__startswith="supervision.").count()
    clocks = [{key: str(value) for key, value in row.items()} for row in WorkOrderClock.objects.filter(pk__in=clock_ids).order_by("pk").values()]
    return {"counts": counts, "clocks": clocks, "due": due_now(now)}


def _spread(ids: list[int], count: int) -> list[int]:
    return [ids[index * len(ids) // count] for index in range(count)] if count else []


def choose_clocks(now: datetime.datetime, due: int) -> tuple[list[int], list[int]]:
    """``due`` clocks to make due, every n-th by id (spread over the data's units and years): (running, revived).

    Running clocks with a check still to come first. A small database has fewer than 1,000
    (10,000 cases hold about 170): stopped clocks, spread the same way, make up the number;
    :func:`arrange` makes them run again (stop, pause and warnings cleared), so that every
    scale sweeps the same 1,000 rows.
    """
    from rightscare.supervision.models import WorkOrderClock

    running = list(
        WorkOrderClock.objects.filter(stopped_at__isnull=True, paused_at__isnull=True, next_check_at__gt=now).order_by("pk").values_list("pk", flat=True)
    )
    if len(running) >= due:
        return _spread(running, due), []
    stopped = list(WorkOrderClock.objects.filter(stopped_at__isnull=False).order_by("pk").values_list("pk", flat=True))
    if len(running) + len(stopped) < due:
        raise SystemExit(f"only {len(running) + len(stopped)} clocks in the database; {due} are needed")
    return running, _spread(stopped, due - len(running))


def arrange(clock_ids: list[int], revived: set[int], now: datetime.datetime, workload: str) -> None:
    """Move each clock's timeline back so that its next threshold (``next``) or its due time (``deadline``) passed a minute ago.

    A clock of ``revived`` runs again first: as if its stop, pause and warnings had not happened.
    """
    from rightscare.supervision import clocks as clock_rules
    from rightscare.supervision.models import WorkOrderClock

    rows = list(WorkOrderClock.objects.filter(pk__in=clock_ids))
    for clock in rows:
        if clock.pk in revived:
            clock.stopped_at, clock.stop_reason, clock.paused_at, clock.breached = None, "", None, False
            clock.warned_half_at = clock.warned_late_at = clock.due_notified_at = None
            clock.next_check_at = clock_rules.next_check(clock)
        reference = clock.next_check_at if workload == "next" else clock.due_at
        assert reference is not None
        shift = reference - now + datetime.timedelta(minutes=1)
        for name in SHIFTED:
            instant = getattr(clock, name)
            if instant is not None:
                setattr(clock, name, instant - shift)
    fields = [*SHIFTED, *(REVIVED_FIELDS if revived else ())]
    WorkOrderClock.objects.bulk_update(rows, fields, batch_size=500)


def sweep_once(clock_ids: list[int], revived: set[int], now: datetime.datetime, workload: str, *, capture: bool = False) -> dict[str, Any]:
    """Arrange, sweep (timed) and roll back; what the sweep reported, its time and (``capture``) its queries."""
    from dataclasses import asdict

    from django.db import transaction

    from rightscare.supervision import sweep

    with transaction.atomic():
        started = time.perf_counter()
        arrange(clock_ids, revived, now, workload)
        arranged_ms = (time.perf_counter() - started) * 1000
        found = due_now(now)
        started, cpu_started = time.perf_counter(), time.process_time()
        if capture:
            with measure.QueryLog().capture() as log:
                report = sweep.sweep(now=now)
        else:
            report = sweep.sweep(now=now)
        elapsed_ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - cpu_started) * 1000
        left = due_now(now)
        transaction.set_rollback(True)
    outcome: dict[str, Any] = {
        "sweep_ms": round(elapsed_ms, 2),
        "python_cpu_ms": round(cpu_ms, 2),
        "arrange_ms": round(arranged_ms, 2),
        "due_before": found,
        "due_after": left,
        "report": asdict(report),
    }
    if capture:
        outcome.update(queries=log.count, sql_ms=round(log.total_ms, 2), top_statements=log.top_statements())
    return outcome


def measure_sweep(*, due: int, runs: int) -> dict[str, Any]:
    """Both workloads, ``runs`` timed runs each and one that counts the queries; the raw result."""
    load_at_start = os.getloadavg()
    from django.conf import settings
    from django.db import connection

    now = sweep_now()
    already_due = due_now(now)
    running, revived_ids = choose_clocks(now, due)
    clock_ids, revived = running + revived_ids, set(revived_ids)
    before = fingerprint(clock_ids, now)
    workloads: dict[str, Any] = {}
    for workload in WORKLOADS:
        sweep_once(clock_ids, revived, now, workload)  # warm-up: a worker sweeps every minute, its caches are warm
        timed = [sweep_once(clock_ids, revived, now, workload) for _run in range(runs)]
        counted = sweep_once(clock_ids, revived, now, workload, capture=True)
        times = [outcome["sweep_ms"] for outcome in timed]
        report = timed[-1]["report"]
        workloads[workload] = {
            **measure.timings(times),
            "arrange_ms": statistics.median(outcome["arrange_ms"] for outcome in timed),
            # CPU time of this Python process during the sweep (the rest is waiting for the database, or for a core).
            "python_cpu_ms": statistics.median(outcome["python_cpu_ms"] for outcome in timed),
            "due_before": timed[-1]["due_before"],
            "due_after": timed[-1]["due_after"],
            "report": report,
            "reports_agree": all(outcome["report"] == report for outcome in [*timed, counted]),
            "queries": counted["queries"],
            "sql_ms": counted["sql_ms"],
            "top_statements": counted["top_statements"],
            "swept_with_queries_counted_ms": counted["sweep_ms"],
            "found_exactly_the_arranged": report["clocks"] == len(clock_ids) + already_due["clocks"]
            and report["chases"] == already_due["chases"]
            and report["safety_reminders"] + report["safety_escalations"] == already_due["safety_reviews"]
            and report["failed"] == 0,
        }
    after = fingerprint(clock_ids, now)
    figures = []
    for workload, result in workloads.items():
        arranged = len(clock_ids)
        figures += [
            measure.figure(
                f"sweep.{workload}.median",
                f"sweep of the due clocks ({DUE} in full runs), {workload} step (median)",
                result["median_ms"],
                "ms",
                target=TARGET_MS,
            ),
            measure.figure(f"sweep.{workload}.per_clock", f"sweep, {workload} step, per clock (median)", round(result["median_ms"] / arranged, 3), "ms"),
            measure.figure(f"sweep.{workload}.python_cpu", f"sweep, {workload} step, CPU of the Python process (median)", result["python_cpu_ms"], "ms"),
            measure.figure(f"queries.sweep.{workload}", f"SQL queries: sweep, {workload} step", result["queries"], ""),
        ]
    return {
        "vendor": connection.vendor,
        "database_version": measure.database_version(),
        # Two cores shared with other work: the load during the measurement says how far to trust it.
        "load_average": {"start": load_at_start, "end": os.getloadavg()},
        "now": now.isoformat(),
        "arranged": len(clock_ids),
        "revived": len(revived),
        "asked": due,
        "runs": runs,
        "batch_size": int(settings.SUPERVISION_SWEEP_BATCH),
        "already_due": already_due,
        "clock_ids": clock_ids[:20],
        "workloads": workloads,
        "before": before["counts"],
        "after": after["counts"],
        "unchanged": before == after,
        "figures": figures,
    }


if __name__ == "__main__":
    sys.exit(main())
