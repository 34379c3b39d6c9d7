"""Skips that must not pass silently in CI.

A test that needs PostgreSQL, Chromium or Redis is skipped with its reason on a
laptop without them; with ``RIGHTSCARE_REQUIRE_PG=1``, ``RIGHTSCARE_REQUIRE_BROWSER=1``
or ``RIGHTSCARE_REQUIRE_REDIS=1`` such a skip fails the run instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIREMENTS = {"postgres": "RIGHTSCARE_REQUIRE_PG", "browser": "RIGHTSCARE_REQUIRE_BROWSER", "redis": "RIGHTSCARE_REQUIRE_REDIS"}


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


def _required(marker: str) -> bool:
    return os.environ.get(REQUIREMENTS[marker], "") in {"1", "true", "yes"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    checks = {
        "postgres": (database_is_postgres(), "DATABASE_URL does not point at PostgreSQL"),
        "browser": (chromium_path() is not None, "Chromium not found (/usr/bin/chromium or RIGHTSCARE_CHROMIUM)"),
        "redis": (bool(redis_url()), "REDIS_URL is not set"),
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
