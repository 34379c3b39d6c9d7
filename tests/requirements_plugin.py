"""Skips that must not pass silently in CI.

A test that needs PostgreSQL, Chromium, Redis or wrk is skipped with its reason on a
laptop without them; with ``RIGHTSCARE_REQUIRE_PG=1``, ``RIGHTSCARE_REQUIRE_BROWSER=1``,
``RIGHTSCARE_REQUIRE_REDIS=1`` or ``RIGHTSCARE_REQUIRE_WRK=1`` such a skip fails the run instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REQUIREMENTS = {
    "postgres": "RIGHTSCARE_REQUIRE_PG",
    "browser": "RIGHTSCARE_REQUIRE_BROWSER",
    "redis": "RIGHTSCARE_REQUIRE_REDIS",
    "wrk": "RIGHTSCARE_REQUIRE_WRK",
}


def chromium_path() -> str | None:
    """Debian's Chromium, or the one named by ``RIGHTSCARE_CHROMIUM``."""
    candidate = os.environ.get("RIGHTSCARE_CHROMIUM") or "/usr/bin/chromium"
    if Path(candidate).exists():
        return candidate
    return shutil.which("chromium")


def database_is_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


def _redis_database_per_worker() -> None:
    """Each xdist worker gets a Redis database of its own (``gw0`` → 1, ``gw1`` → 2, …).

    Run before Django reads its settings (this plugin loads first). The cache's ``clear()``
    and the RQ tests' ``flushdb()`` empty a whole database: shared by two workers, one
    worker's test wiped the other's rate-limit counters, cached tokens and RQ locks.
    Subprocesses started by the tests inherit the URL. Database 0 stays for what the workers
    share on purpose (the RQ tests' lock, tests/notifications/test_rq.py).
    """
    url, worker = redis_url(), os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return
    parts = urlsplit(url)
    os.environ["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{int(worker[2:]) + 1}"))


_redis_database_per_worker()


def wrk_path() -> str | None:
    """The wrk HTTP load generator (Debian package ``wrk``) of the intake benchmark's smoke test."""
    return shutil.which("wrk")


def _required(marker: str) -> bool:
    return os.environ.get(REQUIREMENTS[marker], "") in {"1", "true", "yes"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    checks = {
        "postgres": (database_is_postgres(), "DATABASE_URL does not point at PostgreSQL"),
        "browser": (chromium_path() is not None, "Chromium not found (/usr/bin/chromium or RIGHTSCARE_CHROMIUM)"),
        "redis": (bool(redis_url()), "REDIS_URL is not set"),
        "wrk": (wrk_path() is not None, "wrk not found (Debian package wrk)"),
    }
    for marker, (available, reason) in checks.items():
        if item.get_closest_marker(marker) and not available:
            if _required(marker):
                pytest.fail(f"{reason}, but {REQUIREMENTS[marker]}=1 requires it", pytrace=False)
            pytest.skip(reason)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped and any(_required(m) for m in REQUIREMENTS):
        terminalreporter.write_line(f"note: {len(skipped)} test(s) skipped; see the reasons above", yellow=True)
