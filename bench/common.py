"""What every benchmark shares: the bench databases, the machine's description, where results go.

The benchmarks of ``bench/`` run against databases filled by ``rightscare bench-data`` and
nothing else. :func:`database_for` makes one per scale and engine the first time it is asked
for and reuses it afterwards (the generator is deterministic: the same seed and ``--until`` give
the same data), keeping the encryption keys it was written with beside it, so that a later run
reads what an earlier one wrote. Results are written by :func:`write_result` as JSON (the raw
numbers) under ``bench/results/raw/``; every result carries :func:`machine_info` and the commit.

Nothing here imports Django: the scripts call the ``rightscare`` command in subprocesses with the
environment :func:`bench_env` builds, and set Django up themselves where they read in-process.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
RAW = RESULTS / "raw"
#: Bench databases on SQLite, their keys and data directories live here (git-ignored with var/).
WORKDIR = ROOT / "var" / "bench"
#: The simulated history of every bench database ends on this day (results stay comparable).
UNTIL = "2026-11-30"
RIGHTSCARE = str(Path(sys.executable).with_name("rightscare"))


@dataclass(frozen=True)
class BenchDatabase:
    """A bench database: its URL, the engine, how many cases it holds, and the environment to reach it."""

    url: str
    vendor: str
    cases: int
    data_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        return bench_env(self.url, self.data_dir, **extra)


def bench_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``rightscare`` subprocess on ``database_url``, with the keys kept in ``data_dir``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RIGHTSCARE_", "DATABASE_URL", "DJANGO_SETTINGS"))}
    env.update(_keys(data_dir))
    env.update({"DATABASE_URL": database_url, "RIGHTSCARE_DATA_DIR": str(data_dir), "RIGHTSCARE_TASKS_BACKEND": "db"})
    env.update(extra)
    return env


def _keys(data_dir: Path) -> dict[str, str]:
    """The keys the database was (or will be) written with: generated once, kept in ``data_dir/keys.env``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    keyfile = data_dir / "keys.env"
    if not keyfile.exists():
        generated = subprocess.run([RIGHTSCARE, "generate-keys"], check=True, capture_output=True, text=True).stdout
        keyfile.write_text(generated)
        keyfile.chmod(0o600)
    keys: dict[str, str] = {}
    for line in keyfile.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            keys[name.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return keys


def server_url(database_url: str, name: str) -> str:
    """``database_url`` with its database name replaced by ``name`` (same PostgreSQL server)."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_for(cases: int, *, postgres_url: str | None = None, name: str | None = None, workdir: Path = WORKDIR, seed: int = 1) -> BenchDatabase:
    """The bench database with ``cases`` cases: made (migrated and generated) when missing, else reused (and migrated).

    ``postgres_url``: any URL of the PostgreSQL server to use (its database name is replaced
    by ``name``, default ``rightscare_bench_<cases>``); without it, a SQLite file under
    ``workdir``. A database is complete once the generator finished: a marker file beside its
    keys says so, and an incomplete one is dropped and made again.
    """
    label = name or f"rightscare_bench_{cases}"
    data_dir = workdir / (f"{label}-pg" if postgres_url else f"{label}-sqlite")
    marker = data_dir / "complete"
    if postgres_url:
        url = server_url(postgres_url, label)
        vendor = "postgresql"
    else:
        url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
        vendor = "sqlite"
    database = BenchDatabase(url=url, vendor=vendor, cases=cases, data_dir=data_dir)
    if marker.exists():
        # Made by an earlier commit: brought to this commit's schema (its indexes) before it is measured.
        subprocess.run([RIGHTSCARE, "migrate", "--no-input"], check=True, env=database.env(), capture_output=True)
        return database
    data_dir.mkdir(parents=True, exist_ok=True)
    # Two benchmarks asking for the same missing database at once: the second waits for the
    # first to finish it instead of dropping it half-made.
    with open(data_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            _generate(database, postgres_url, seed)
            marker.write_text(datetime.datetime.now(datetime.UTC).isoformat())
    return database


def _generate(database: BenchDatabase, postgres_url: str | None, seed: int) -> None:
    _recreate(database, postgres_url)
    env = database.env()
    subprocess.run([RIGHTSCARE, "migrate", "--no-input"], check=True, env=env, capture_output=True)
    subprocess.run(
        [RIGHTSCARE, "bench-data", "--cases", str(database.cases), "--until", UNTIL, "--seed", str(seed), "--no-progress"],
        check=True,
        env=env,
        capture_output=True,
    )
    if postgres_url is not None:
        # Bulk-loaded rows are not yet marked all-visible: until autovacuum passes, an index-only
        # scan still reads the heap. Measure the database as it is an hour after the load.
        _psql(database.url, "VACUUM ANALYZE")


def _recreate(database: BenchDatabase, postgres_url: str | None) -> None:
    if postgres_url is None:
        (database.data_dir / "bench.sqlite3").unlink(missing_ok=True)
        return
    name = urlsplit(database.url).path.lstrip("/")
    maintenance = server_url(postgres_url, "postgres")
    _psql(maintenance, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _psql(maintenance, f"CREATE DATABASE \"{name}\" WITH TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")


def drop(database: BenchDatabase) -> None:
    """Remove a bench database and its directory (the smoke tests' clean-up)."""
    if database.vendor == "postgresql":
        name = urlsplit(database.url).path.lstrip("/")
        _psql(server_url(database.url, "postgres"), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(database.data_dir, ignore_errors=True)


def _psql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]  # a statement built from checked names


def git_commit() -> str:
    """The commit measured, with ``+dirty`` when the working tree has changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+dirty" if dirty else commit


def _meminfo_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _disk(path: Path) -> dict[str, Any]:
    usage = shutil.disk_usage(path)
    rotational = None
    try:
        device = os.stat(path).st_dev
        block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
        for candidate in (block / "queue" / "rotational", block.resolve().parent / "queue" / "rotational"):
            if candidate.exists():
                rotational = candidate.read_text().strip() == "1"
                break
    except OSError:
        pass
    return {"total_gb": round(usage.total / 1e9, 1), "free_gb": round(usage.free / 1e9, 1), "rotational": rotational}


def machine_info() -> dict[str, Any]:
    """Cores, memory, disk, load and versions of the machine measured (every result carries it)."""
    mem = _meminfo_kib("MemTotal")
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(mem / 1024 / 1024, 1) if mem else None,
        "disk": _disk(ROOT),
        "load_average": list(os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def write_result(name: str, database: BenchDatabase | None, payload: dict[str, Any], *, directory: Path = RAW) -> Path:
    """Write one benchmark's raw numbers as JSON (with the machine and the commit); return the file (never one written before)."""
    directory.mkdir(parents=True, exist_ok=True)
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    suffix = f"-{database.vendor}-{database.cases}" if database else ""
    path = directory / f"{today}-{name}{suffix}.json"
    # A second run the same day keeps the first one's numbers (results are a record, not a cache).
    number = 1
    while path.exists():
        number += 1
        path = directory / f"{today}-{name}{suffix}-{number}.json"
    document = {"benchmark": name, "machine": machine_info(), "database": _describe(database), **payload}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def _describe(database: BenchDatabase | None) -> dict[str, Any] | None:
    if database is None:
        return None
    parts = urlsplit(database.url)
    return {"vendor": database.vendor, "cases": database.cases, "name": parts.path.lstrip("/") or parts.netloc}


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``values`` by linear interpolation (as numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)
