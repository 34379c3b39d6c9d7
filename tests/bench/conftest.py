"""A tiny bench database for the smoke tests of ``bench/`` (the scripts must not rot).

Made once per test session (per xdist worker) the way ``make bench`` makes its databases
(``bench.common.database_for``: ``rightscare migrate`` and ``rightscare bench-data`` in
subprocesses), on the engine this run tests: a scratch database on the PostgreSQL server of
``DATABASE_URL`` in the PostgreSQL pass, a SQLite file otherwise. Dropped at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bench import common

#: Cases in the smoke database: enough for every page, clock and figure to have rows.
SMOKE_CASES = 300


@pytest.fixture(scope="session")
def bench_db(tmp_path_factory, worker_id) -> Iterator[common.BenchDatabase]:
    url = os.environ.get("DATABASE_URL", "")
    postgres_url = url if url.startswith(("postgres://", "postgresql://")) else None
    database = common.database_for(
        SMOKE_CASES, postgres_url=postgres_url, name=f"rightscare_bench_smoke_{worker_id}_{os.getpid()}", workdir=tmp_path_factory.mktemp("bench")
    )
    yield database
    common.drop(database)


def pytest_collection_modifyitems(config, items) -> None:
    """The smoke tests share one bench database per worker: keep them on one worker (``--dist loadgroup``)."""
    for item in items:
        if "tests/bench/" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("bench"))
