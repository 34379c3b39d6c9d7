"""bench/reads.py and bench/sweep.py at smoke scale on the tiny bench database: the scripts must not rot.

Each runs as ``make bench`` runs it (a subprocess on the bench database); the assertions are on
what it measured and on the database, read from outside (it must be as it was).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bench import common, reads, sweep

#: Tables a run may touch (sessions for the reads; everything the sweep writes), counted around it.
TABLES = (
    "django_session",
    "supervision_workorderclock",
    "supervision_chase",
    "supervision_safetyfollowup",
    "cases_caseevent",
    "audit_auditentry",
    "notifications_message",
)


def _query(database: common.BenchDatabase, sql: str) -> list[tuple[Any, ...]]:
    if database.vendor == "sqlite":
        with sqlite3.connect(database.url.removeprefix("sqlite:///")) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(database.url) as conn:
        return conn.execute(sql).fetchall()


def _counts(database: common.BenchDatabase) -> dict[str, int]:
    return {table: _query(database, f"SELECT COUNT(*) FROM {table}")[0][0] for table in TABLES}


def _running_clocks(database: common.BenchDatabase) -> list[tuple[Any, ...]]:
    return _query(database, "SELECT * FROM supervision_workorderclock WHERE stopped_at IS NULL ORDER BY id")


@pytest.fixture(scope="module")
def reads_result(bench_db: common.BenchDatabase, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    before = _counts(bench_db)
    result = reads.run(bench_db, smoke=True, out=tmp_path_factory.mktemp("reads"))
    result["counts_around"] = (before, _counts(bench_db))
    return result


def test_reads_time_every_page_of_measurements_2_to_4(reads_result: dict[str, Any]) -> None:
    expected = {
        "floor.healthz",
        "inbox.first",
        "inbox.deep",
        "scope.first",
        "scope.deep",
        "search.first",
        "search.deep",
        "case.page",
        "case.timeline_last",
        "assessment.page",
        "assessment.selector",
        "assessment.hand_sql",
        *(f"api.{name}.limit{limit}" for name in ("search", "inbox") for limit in reads.API_LIMITS),
    }
    measured = {read["key"]: read for read in reads_result["reads"]}
    assert set(measured) == expected
    for read in measured.values():
        assert read["runs"] == (reads.SMOKE[1] if read["key"].startswith("assessment.") else reads.SMOKE[0])
        assert 0 < read["min_ms"] <= read["median_ms"] <= read["p95_ms"] <= read["max_ms"]
        assert read["queries"] > 0
        assert read["query_counts"] == [read["queries"]] * reads.SMOKE[2]
    # Pages, the case page and the assessment page carry the targets; the selector and the SQL do not.
    assert {key for key, read in measured.items() if read["target_ms"] == reads.TARGET_PAGE_MS} == expected - {
        "assessment.page",
        "assessment.selector",
        "assessment.hand_sql",
        "floor.healthz",
        *(key for key in expected if key.startswith("api.")),
    }
    assert measured["assessment.page"]["target_ms"] == reads.TARGET_ASSESSMENT_MS
    # The hand-written aggregate is one query.
    assert measured["assessment.hand_sql"]["queries"] == 1


def test_reads_personas_come_from_the_generated_data(reads_result: dict[str, Any]) -> None:
    personas = reads_result["personas"]
    assert {persona["unit_kind"] for persona in personas.values()} == {"federation-street", "federation-district", "federation-city"}
    assert all(persona["username"].startswith("bench-") for persona in personas.values())
    assert reads_result["case"]["events"] >= reads_result["case"]["visible_events"] > 0


def test_query_count_does_not_depend_on_the_page_size(reads_result: dict[str, Any]) -> None:
    independence = reads_result["page_size_independence"]
    assert set(independence) == {"search", "inbox"}
    for counts in independence.values():
        assert counts["limit_10"] == counts["limit_200"] > 0
        assert counts["equal"] is True
    measured = {read["key"]: read for read in reads_result["reads"]}
    # The deep page costs the same number of queries as the first.
    for name in ("inbox", "scope", "search"):
        assert measured[f"{name}.first"]["queries"] == measured[f"{name}.deep"]["queries"]


def test_hand_written_sql_counts_what_the_assessment_counts(reads_result: dict[str, Any]) -> None:
    assessment = reads_result["assessment"]
    assert assessment["hand_sql_matches"] is True
    assert assessment["mismatches"] == []
    assert assessment["work_orders"] > 0
    assert assessment["units"] > 0
    assert assessment["ratio"] > 0
    assert assessment["year"] == int(common.UNTIL[:4]) - 1
    assert "GROUP BY wo.unit_id" in assessment["hand_sql"]
    # Its plan is kept whatever the timings.
    assert [item["read"] for item in reads_result["explain"] if item["read"] == "assessment.hand_sql"] == ["assessment.hand_sql"]


def test_reads_figures_and_raw_file(reads_result: dict[str, Any]) -> None:
    figures = {item["key"]: item for item in reads_result["figures"]}
    for key in ("inbox.first.p95", "search.deep.p95", "case.page.p95", "assessment.page.median", "assessment.ratio"):
        assert figures[key]["value"] > 0
        assert figures[key]["passed"] in (True, False)
    assert figures["assessment.ratio"]["target"] == reads.TARGET_ASSESSMENT_RATIO
    raw = Path(reads_result["file"])
    document = json.loads(raw.read_text())
    assert document["benchmark"] == "reads"
    assert document["machine"]["cores"] >= 1
    assert document["figures"] == reads_result["figures"]


def test_reads_leave_the_database_as_it_was(reads_result: dict[str, Any]) -> None:
    before, after = reads_result["counts_around"]
    assert after == before
    assert reads_result["sessions_removed"] == 4


def test_sweep_finds_exactly_the_clocks_made_due_and_leaves_the_database_unchanged(bench_db: common.BenchDatabase, tmp_path: Path) -> None:
    counts, clocks = _counts(bench_db), _running_clocks(bench_db)
    result = sweep.run(bench_db, smoke=True, out=tmp_path)

    arranged = result["arranged"]
    assert arranged == sweep.SMOKE_DUE
    assert result["already_due"] == {"clocks": 0, "chases": 0, "safety_reviews": 0}
    for workload, outcome in result["workloads"].items():
        assert outcome["due_before"] == {"clocks": arranged, "chases": 0, "safety_reviews": 0}, workload
        assert outcome["due_after"]["clocks"] == 0
        report = outcome["report"]
        assert report["clocks"] == arranged
        assert report["failed"] == 0
        assert outcome["found_exactly_the_arranged"] is True
        assert outcome["reports_agree"] is True
        assert outcome["median_ms"] > 0
        assert outcome["queries"] > arranged
    assert result["workloads"]["deadline"]["report"]["reminders"] == arranged
    assert result["workloads"]["next"]["report"]["warnings"] + result["workloads"]["next"]["report"]["reminders"] == arranged
    assert result["unchanged"] is True
    assert result["before"] == result["after"]
    # Read from outside: every table as it was, every running clock exactly as it was.
    assert _counts(bench_db) == counts
    assert _running_clocks(bench_db) == clocks
    figures = {item["key"]: item for item in result["figures"]}
    assert figures["sweep.deadline.median"]["target"] == sweep.TARGET_MS
    assert figures["sweep.deadline.median"]["value"] > 0
    assert Path(result["file"]).parent == tmp_path
