"""bench/run.py on smoke results: the plan it runs, the summary, the growth table and the plot."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench import common, run


@pytest.fixture(scope="module")
def smoke_results(bench_db: common.BenchDatabase, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
    asked: list[Any] = []

    def databases(cases: int, *, postgres_url: str | None) -> common.BenchDatabase:
        asked.append((cases, postgres_url))
        return bench_db

    results, failures = run.run_benchmarks(
        ["reads", "sweep"],
        scales=[bench_db.cases],
        postgres="postgres://nowhere/postgres",
        sqlite_scale=0,
        smoke=True,
        out=tmp_path_factory.mktemp("raw"),
        databases=databases,
    )
    return results, failures, asked


def test_runs_each_benchmark_on_the_database_of_each_scale(smoke_results: Any) -> None:
    results, failures, asked = smoke_results
    assert failures == []
    assert [result["benchmark"] for result in results] == ["reads", "sweep"]
    assert asked == [(300, "postgres://nowhere/postgres")] * 2


def test_plan_adds_sqlite_for_the_benchmarks_without_http_load(tmp_path: Path) -> None:
    asked: list[Any] = []

    def databases(cases: int, *, postgres_url: str | None) -> common.BenchDatabase:
        asked.append((cases, postgres_url))
        raise RuntimeError("no database here")

    results, failures = run.run_benchmarks(
        ["reads", "sweep"], scales=[1000, 100], postgres="postgres://x/postgres", sqlite_scale=500, out=tmp_path, databases=databases
    )
    assert results == []
    assert asked == [(100, "postgres://x/postgres")] * 2 + [(1000, "postgres://x/postgres")] * 2 + [(500, None)] * 2
    assert [(f["benchmark"], f["vendor"], f["cases"]) for f in failures] == [
        ("reads", "postgresql", 100),
        ("sweep", "postgresql", 100),
        ("reads", "postgresql", 1000),
        ("sweep", "postgresql", 1000),
        ("reads", "sqlite", 500),
        ("sweep", "sqlite", 500),
    ]
    assert not run.BENCHMARKS["intake"].sqlite


def test_a_missing_benchmark_module_is_skipped_only_when_allowed() -> None:
    missing = run.Benchmark("later", "bench.not_written_yet", False, "")
    assert run.runner(missing, allow_missing=True) is None
    with pytest.raises(ModuleNotFoundError):
        run.runner(missing, allow_missing=False)
    assert run.runner(run.BENCHMARKS["sweep"], allow_missing=False) is not None


def _scaled(result: dict[str, Any], cases: int, factor: float) -> dict[str, Any]:
    """The same result as if measured at ``cases``, every figure ``factor`` times larger (a second point of growth)."""
    grown = copy.deepcopy(result)
    grown["database"]["cases"] = cases
    for item in grown["figures"]:
        if item["value"] is not None:
            item["value"] = item["value"] * factor
    return grown


def test_summary_growth_table_and_plot(smoke_results: Any, tmp_path: Path) -> None:
    results, _failures, _asked = smoke_results
    bigger = [_scaled(result, 3000, 2.0) for result in results]
    failure = {"benchmark": "intake", "vendor": "postgresql", "cases": 3000, "error": "RuntimeError('wrk not found')"}

    path = run.write_summary([*results, *bigger], [failure], directory=tmp_path, command="make bench (test)")

    text = path.read_text()
    assert path.name.endswith("-bench.md")
    machine = results[0]["machine"]
    assert f"{machine['cores']} cores" in text
    assert f"`{machine['commit']}`" in text
    engine = "PostgreSQL" if results[0]["database"]["vendor"] == "postgresql" else "SQLite"
    assert f"## {engine}, 300 cases" in text
    assert f"## {engine}, 3,000 cases" in text
    # Every figure with a unit has its row, its target and its verdict.
    reads_figures = {item["key"]: item for item in results[0]["figures"]}
    page = reads_figures["case.page.p95"]
    assert f"| reads | {page['label']} |" in text
    assert "| ≤ 50 ms |" in text
    assert "| ≤ 2 × |" in text
    assert "pass" in text or "**miss**" in text
    assert "SQL queries of the API search independent of the page size" in text
    assert "the hand-written SQL counts exactly what the assessment table counts: yes" in text
    assert "the bench database unchanged afterwards (row counts, the arranged clocks): yes" in text
    assert "- intake on PostgreSQL with 3,000 cases: `RuntimeError('wrk not found')`" in text
    assert f"## Growth from 10,000 to 1,000,000 cases ({engine})" in text
    assert "| figure | unit | 300 | 3,000 | × (3,000 ÷ 300) |" in text
    assert f"| {page['label']} | ms | {run.format_number(page['value'])} | {run.format_number(page['value'] * 2)} | 2.00 |" in text
    plot = tmp_path / path.name.replace("-bench.md", "-bench-growth.png")
    assert f"]({plot.name})" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 10_000
    for result in results:
        assert Path(result["file"]).name in text


def test_plot_from_two_scales(smoke_results: Any, tmp_path: Path) -> None:
    results, _failures, _asked = smoke_results
    # PostgreSQL's growth is plotted when it has as many scales as SQLite's.
    points = [_scaled(result, 100, 1.0) | {"database": {"vendor": "sqlite", "cases": 100}} for result in results]
    for cases, factor in ((300, 1.0), (3000, 3.0)):
        for result in results:
            point = _scaled(result, cases, factor)
            point["database"]["vendor"] = "postgresql"
            points.append(point)
    assert run.growth_vendor(points) == "postgresql"
    plot = run.write_plot(points, tmp_path / "growth.png")
    assert plot is not None
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scales, table = run.growth(points)
    assert scales == [300, 3000]
    assert table["sweep.deadline.median"]["values"][3000] == pytest.approx(3 * table["sweep.deadline.median"]["values"][300])
    # One scale only: nothing to plot.
    assert run.write_plot(points[len(results) : 2 * len(results)], tmp_path / "none.png") is None


def test_growth_table_gives_the_factor_over_the_range_and_over_the_last_step(smoke_results: Any) -> None:
    results, _failures, _asked = smoke_results
    sweep_result = next(result for result in results if result["benchmark"] == "sweep")
    points = [
        _scaled(sweep_result, cases, factor) | {"database": {"vendor": "postgresql", "cases": cases}} for cases, factor in ((10, 1.0), (100, 1.5), (1000, 1.5))
    ]

    text = run.summary(points, [], plot=None, command="test")

    assert "| figure | unit | 10 | 100 | 1,000 | × (1,000 ÷ 10) | × (1,000 ÷ 100) |" in text
    item = next(item for item in sweep_result["figures"] if item["key"] == "sweep.deadline.median")
    assert (
        f"| {item['label']} | ms | {run.format_number(item['value'])} | {run.format_number(item['value'] * 1.5)} | {run.format_number(item['value'] * 1.5)} | 1.50 | 1.00 |"
        in text
    )


def test_summary_of_raw_files_written_earlier(smoke_results: Any, tmp_path: Path) -> None:
    results, _failures, _asked = smoke_results
    raw = [Path(result["file"]) for result in results]

    assert run.main(["--summarise", *(str(path) for path in raw), "--results", str(tmp_path), "--name", "earlier"]) == 0

    text = (tmp_path / "earlier.md").read_text()
    assert "python -m bench.run --summarise" in text
    assert all(path.name in text for path in raw)
    assert "sweep: the bench database unchanged afterwards (row counts, the arranged clocks): yes" in text


def test_a_second_run_the_same_day_keeps_the_first_runs_numbers(tmp_path: Path) -> None:
    first = common.write_result("sweep", None, {"figure": 1}, directory=tmp_path)
    second = common.write_result("sweep", None, {"figure": 2}, directory=tmp_path)
    third = common.write_result("sweep", None, {"figure": 3}, directory=tmp_path)
    assert len({first, second, third}) == 3
    assert second.name == first.name.replace(".json", "-2.json")
    assert [json.loads(path.read_text())["figure"] for path in (first, second, third)] == [1, 2, 3]
