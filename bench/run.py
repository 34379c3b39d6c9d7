"""``make bench``: every benchmark of issue 7 at every scale, a Markdown summary and a plot of the growth.

::

    make bench                                         # everything (hours: the 1,000,000-case database is made once)
    make bench BENCH_ONLY="reads sweep" BENCH_SCALES="10000 100000" BENCH_SQLITE=0
    .venv/bin/python -m bench.run --only sweep --scales 100000 --sqlite 0

Runs each benchmark (``bench/intake.py``, ``bench/reads.py``, ``bench/sweep.py``: each has a
``run(database, *, smoke, out)``) on a PostgreSQL bench database of every scale of
``--scales`` (default 10,000, 100,000 and 1,000,000 cases: the growth run; the largest is the
headline), and the benchmarks that need no HTTP load (the reads and the sweep) also on SQLite at
``--sqlite`` cases (default 100,000; 0 skips it). The databases are made the first time and
reused (:func:`bench.common.database_for`). The raw results go to ``bench/results/raw/``; the
summary — machine, date, commit, each figure with its target and whether it passed, the growth
table — to ``bench/results/<date>-bench.md`` and the growth plot to
``bench/results/<date>-bench-growth.png``.

A benchmark that fails is reported in the summary and the others go on; the exit status is 1
then. A benchmark module that does not exist stops the run, unless ``--allow-missing`` says to
skip it (the smoke tests use that while a benchmark is being written).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_SCALES = (10_000, 100_000, 1_000_000)
DEFAULT_SQLITE = 100_000


@dataclass(frozen=True)
class Benchmark:
    """A benchmark of ``bench/``: its module (with ``run(database, *, smoke, out)``) and whether it also runs on SQLite."""

    name: str
    module: str
    sqlite: bool
    what: str


BENCHMARKS = {
    benchmark.name: benchmark
    for benchmark in (
        Benchmark("intake", "bench.intake", False, "1. intake throughput (HTTP load, floors)"),
        Benchmark("reads", "bench.reads", True, "2–4. scoped case lists, case page, assessment table"),
        Benchmark("sweep", "bench.sweep", True, "5. deadline sweep"),
    )
}


def runner(benchmark: Benchmark, *, allow_missing: bool) -> Callable[..., dict[str, Any]] | None:
    """The benchmark's ``run``, imported only now; None (with a message) when its module is missing and that is allowed."""
    try:
        module = importlib.import_module(benchmark.module)
    except ModuleNotFoundError as error:
        if error.name != benchmark.module or not allow_missing:
            raise
        print(f"bench: {benchmark.module} does not exist (yet): {benchmark.name} is skipped", file=sys.stderr)
        return None
    run: Callable[..., dict[str, Any]] = module.run
    return run


def run_benchmarks(
    names: Iterable[str],
    *,
    scales: Iterable[int],
    postgres: str,
    sqlite_scale: int,
    smoke: bool = False,
    out: Path = common.RAW,
    allow_missing: bool = False,
    databases: Callable[..., common.BenchDatabase] = common.database_for,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the benchmarks named; (their results, the failures). ``databases``: how a bench database is had."""
    selected = [BENCHMARKS[name] for name in names]
    runs = {benchmark.name: runner(benchmark, allow_missing=allow_missing) for benchmark in selected}
    plan: list[tuple[Benchmark, int, str | None]] = [(benchmark, scale, postgres) for scale in sorted(scales) for benchmark in selected]
    if sqlite_scale:
        plan += [(benchmark, sqlite_scale, None) for benchmark in selected if benchmark.sqlite]
    results, failures = [], []
    for benchmark, scale, postgres_url in plan:
        run = runs[benchmark.name]
        if run is None:
            continue
        engine = "PostgreSQL" if postgres_url else "SQLite"
        print(f"bench: {benchmark.name} on {engine} with {scale:,} cases", file=sys.stderr, flush=True)
        try:
            database = databases(scale, postgres_url=postgres_url)
            results.append(run(database, smoke=smoke, out=out))
        except Exception as error:
            traceback.print_exc()
            failures.append({"benchmark": benchmark.name, "vendor": "postgresql" if postgres_url else "sqlite", "cases": scale, "error": repr(error)})
    return results, failures


# --- the summary ------------------------------------------------------------------------------------------


def format_number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3f}" if abs(value) < 1 else f"{value:,.1f}"
    return f"{int(value):,}"


def _target(item: dict[str, Any]) -> str:
    if item.get("target") is None:
        return ""
    return f"{'≥' if item.get('higher_is_better') else '≤'} {format_number(item['target'])} {item['unit']}".rstrip()


def _verdict(item: dict[str, Any]) -> str:
    return {True: "pass", False: "**miss**", None: ""}[item.get("passed")]


def _engine(vendor: str) -> str:
    return {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(vendor, vendor)


def _groups(results: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for result in results:
        database = result["database"]
        groups.setdefault((database["vendor"], database["cases"]), []).append(result)
    return groups


def figures_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures of a result; for a result written without them, its top-level numbers (no target)."""
    if "figures" in result:
        figures: list[dict[str, Any]] = result["figures"]
        return figures
    return [
        {"key": key, "label": key.replace("_", " "), "value": value, "unit": "value", "target": None, "passed": None}
        for key, value in result.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def growth_vendor(results: list[dict[str, Any]]) -> str:
    """The engine whose growth is shown: the one measured at the most scales, PostgreSQL on a tie."""
    scales: dict[str, set[int]] = {}
    for result in results:
        scales.setdefault(result["database"]["vendor"], set()).add(result["database"]["cases"])
    return max(sorted(scales), key=lambda vendor: (len(scales[vendor]), vendor == "postgresql")) if scales else "postgresql"


def growth(results: list[dict[str, Any]], vendor: str = "postgresql") -> tuple[list[int], dict[str, dict[str, Any]]]:
    """(the scales, figure key → {"label", "unit", "target", "values": {cases: value}}) of ``vendor``'s results."""
    scales: set[int] = set()
    table: dict[str, dict[str, Any]] = {}
    for result in results:
        if result["database"]["vendor"] != vendor:
            continue
        cases = result["database"]["cases"]
        scales.add(cases)
        for item in figures_of(result):
            row = table.setdefault(item["key"], {"label": item["label"], "unit": item["unit"], "target": item.get("target"), "values": {}})
            row["values"][cases] = item["value"]
    return sorted(scales), table


def summary(results: list[dict[str, Any]], failures: list[dict[str, Any]], *, plot: Path | None, command: str) -> str:
    """The Markdown summary of a ``make bench`` run."""
    first = results[0] if results else {}
    machine = first.get("machine") or common.machine_info()
    disk = machine.get("disk") or {}
    lines = [
        f"# Benchmarks (issue 7), {machine['date'][:10]}",
        "",
        f"- **Machine**: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gb']} GB memory, disk {disk.get('total_gb')} GB"
        f" ({'rotational' if disk.get('rotational') else 'solid-state' if disk.get('rotational') is False else 'kind unknown'}),"
        f" kernel {machine['kernel']}, Python {machine['python']}",
        f"- **Load average** when the first result was written: {', '.join(f'{value:.2f}' for value in machine['load_average'])}",
        f"- **Date**: {machine['date']}; **commit**: `{machine['commit']}`",
        f"- **Command**: `{command}`",
        "",
        "Each figure with its target (issue 7) and whether it was met; the raw numbers (every run, the",
        "personas, the query counts, the plans of what missed) are in the JSON files listed at the end.",
        "",
    ]
    for (vendor, cases), group in sorted(_groups(results).items(), key=lambda pair: (pair[0][0] != "postgresql", -pair[0][1])):
        versions = sorted({str(result.get("database_version")) for result in group if result.get("database_version")})
        lines += [f"## {_engine(vendor)}, {cases:,} cases" + (f" ({', '.join(versions)})" if versions else ""), ""]
        lines += ["| benchmark | figure | value | target | result |", "|---|---|---:|---:|---|"]
        for result in group:
            for item in figures_of(result):
                if item["unit"]:
                    lines.append(
                        f"| {result['benchmark']} | {item['label']} | {format_number(item['value'])} {item['unit']} | {_target(item)} | {_verdict(item)} |"
                    )
        queries = [(result["benchmark"], item) for result in group for item in figures_of(result) if not item["unit"]]
        if queries:
            lines += [
                "",
                "SQL queries per request or run: "
                + "; ".join(f"{item['label'].removeprefix('SQL queries: ')} {format_number(item['value'])}" for _name, item in queries),
            ]
        for result in group:
            load = result.get("load_average")
            if load:
                lines.append(f"- {result['benchmark']}: load average (1 min) {load['start'][0]:.2f} at the start, {load['end'][0]:.2f} at the end")
            for check, passed in checks(result):
                lines.append(f"- {result['benchmark']}: {check}: {'yes' if passed else '**no**'}")
        lines.append("")
    vendor = growth_vendor(results)
    scales, table = growth(results, vendor)
    lines += [f"## Growth from 10,000 to 1,000,000 cases ({_engine(vendor)})", ""]
    if len(scales) > 1:
        # The factor over the whole range, and over the last step (issue 7: the sweep flat from 100k to 1M).
        steps = [(scales[0], scales[-1])] + ([(scales[-2], scales[-1])] if len(scales) > 2 else [])
        header = " | ".join(f"{scale:,}" for scale in scales) + "".join(f" | × ({high:,} ÷ {low:,})" for low, high in steps)
        lines += [f"| figure | unit | {header} |", "|---|---|" + "---:|" * (len(scales) + len(steps))]
        for row in table.values():
            values = row["values"]
            factors = [f"{values[high] / values[low]:.2f}" if values.get(low) and values.get(high) is not None else "—" for low, high in steps]
            lines.append(f"| {row['label']} | {row['unit']} | {' | '.join(format_number(values.get(scale)) for scale in scales)} | {' | '.join(factors)} |")
        if plot is not None:
            lines += ["", f"![Growth of each figure with the number of cases]({plot.name})"]
    else:
        lines.append("Only one scale was measured in this run: no growth to show.")
    lines.append("")
    if failures:
        lines += ["## Failures", ""] + [f"- {f['benchmark']} on {_engine(f['vendor'])} with {f['cases']:,} cases: `{f['error']}`" for f in failures] + [""]
    lines += ["## Raw results", ""] + [
        f"- `{Path(result['file']).relative_to(common.ROOT) if Path(result['file']).is_relative_to(common.ROOT) else result['file']}`"
        for result in results
        if result.get("file")
    ]
    return "\n".join(lines) + "\n"


def checks(result: dict[str, Any]) -> list[tuple[str, bool]]:
    """The yes/no facts a result carries besides its figures (query counts equal across page sizes, database unchanged…)."""
    found: list[tuple[str, bool]] = []
    for name, counts in (result.get("page_size_independence") or {}).items():
        sizes = ", ".join(f"{key.removeprefix('limit_')}: {value}" for key, value in counts.items() if key != "equal")
        found.append((f"SQL queries of the API {name} independent of the page size ({sizes})", bool(counts["equal"])))
    assessment = result.get("assessment") or {}
    if "hand_sql_matches" in assessment:
        found.append(("the hand-written SQL counts exactly what the assessment table counts", bool(assessment["hand_sql_matches"])))
    for workload, outcome in (result.get("workloads") or {}).items():
        found.append((f"the {workload} sweep found exactly the {result['arranged']} clocks made due", bool(outcome["found_exactly_the_arranged"])))
    if "unchanged" in result:
        found.append(("the bench database unchanged afterwards (row counts, the arranged clocks)", bool(result["unchanged"])))
    return found


def write_plot(results: list[dict[str, Any]], path: Path) -> Path | None:
    """A PNG of every figure with a unit against the number of cases (log scales), one panel per unit; None with fewer than two scales."""
    scales, table = growth(results, growth_vendor(results))
    rows = [row for row in table.values() if row["unit"] and len(row["values"]) > 1]
    if len(scales) < 2 or not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    units = sorted({row["unit"] for row in rows})
    figure, axes = plt.subplots(len(units), 1, figsize=(11, 4.5 * len(units)), squeeze=False)
    palette = plt.get_cmap("tab20").colors
    for axis, unit in zip(axes[:, 0], units, strict=True):
        for index, row in enumerate(row for row in rows if row["unit"] == unit):
            points = sorted((cases, value) for cases, value in row["values"].items() if value)
            if not points:
                continue
            # Twenty colours, then dashed: every line of a panel can be told apart.
            style = {"color": palette[index % 20], "linestyle": "-" if index < 20 else "--", "marker": "os^v"[index // 5 % 4]}
            line = axis.plot([p[0] for p in points], [p[1] for p in points], label=row["label"], **style)[0]
            if row["target"]:
                axis.axhline(row["target"], color=line.get_color(), linestyle=":", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("cases")
        axis.set_ylabel(unit)
        axis.set_title(f"Figures in {unit} (dotted: targets)")
        axis.grid(True, which="both", linewidth=0.3)
        axis.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write_summary(
    results: list[dict[str, Any]], failures: list[dict[str, Any]], *, directory: Path = common.RESULTS, command: str = "make bench", name: str = ""
) -> Path:
    """Write ``<name>.md`` and ``<name>-growth.png`` (when there is growth to plot) into ``directory``; ``name`` defaults to ``<date>-bench`` (``-2``, ``-3``… when taken)."""
    if not name:
        # A second run the same day keeps the first one's summary: <date>-bench-2, -3…
        today = datetime.datetime.now(datetime.UTC).astimezone().date().isoformat()
        name, number = f"{today}-bench", 1
        while (directory / f"{name}.md").exists():
            number += 1
            name = f"{today}-bench-{number}"
    directory.mkdir(parents=True, exist_ok=True)
    plot = write_plot(results, directory / f"{name}-growth.png")
    path = directory / f"{name}.md"
    path.write_text(summary(results, failures, plot=plot, command=command))
    return path


def _scales(text: str) -> list[int]:
    return [int(part.replace(",", "").replace("_", "")) for part in text.replace(",", " ").split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--scales", default=os.environ.get("BENCH_SCALES", " ".join(str(s) for s in DEFAULT_SCALES)), help="PostgreSQL scales (cases), e.g. '10000 100000'"
    )
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES", DEFAULT_POSTGRES), help="a URL of the PostgreSQL server (its database name is replaced)"
    )
    parser.add_argument("--sqlite", default=os.environ.get("BENCH_SQLITE", str(DEFAULT_SQLITE)), help="cases of the SQLite run (0: none)")
    parser.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""), help=f"benchmarks to run, of: {', '.join(BENCHMARKS)} (default all)")
    parser.add_argument("--smoke", action="store_true", help="a few runs of each (for trying the run out)")
    parser.add_argument("--allow-missing", action="store_true", help="skip a benchmark whose module does not exist")
    parser.add_argument("--results", type=Path, default=common.RESULTS, help="directory of the summary (default bench/results)")
    parser.add_argument("--summarise", type=Path, nargs="+", metavar="RAW", help="run nothing: write the summary of these raw result files")
    parser.add_argument("--name", default="", help="file name of the summary, without .md (default <date>-bench)")
    args = parser.parse_args(argv)
    if args.summarise:
        loaded = [{**json.loads(raw.read_text()), "file": str(raw.resolve())} for raw in args.summarise]
        command = "python -m bench.run --summarise " + " ".join(str(raw) for raw in args.summarise)
        path = write_summary(loaded, [], directory=args.results, command=command, name=args.name)
        print(f"bench: summary in {path}", file=sys.stderr)
        return 0
    names = args.only.replace(",", " ").split() or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    sqlite_scale = int(args.sqlite or 0)
    results, failures = run_benchmarks(
        names,
        scales=_scales(args.scales),
        postgres=args.postgres,
        sqlite_scale=sqlite_scale,
        smoke=args.smoke,
        out=args.results / "raw",
        allow_missing=args.allow_missing,
    )
    command = f"make bench BENCH_ONLY='{' '.join(names)}' BENCH_SCALES='{args.scales}' BENCH_SQLITE={sqlite_scale}" + (" (smoke)" if args.smoke else "")
    path = write_summary(results, failures, directory=args.results, command=command, name=args.name)
    print(f"bench: summary in {path}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
