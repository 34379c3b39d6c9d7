"""Browser tests: Playwright driving Debian's Chromium against a live server.

The live server reads the database from another thread, so these tests commit
their data (``transactional_db``) instead of running inside a rolled-back
transaction.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.factories import build_org_tree, build_personas
from tests.requirements_plugin import chromium_path

# Playwright's sync API runs an event loop in this thread; Django's ORM calls
# made by the fixtures in the same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "locale": "zh-CN", "timezone_id": "Asia/Shanghai", "viewport": {"width": 1280, "height": 860}}


@pytest.fixture
def org(transactional_db):
    """The organisation tree, committed; the category taxonomy is put back first, since a
    transactional test before this one flushed the rows its migration had seeded."""
    from rightscare.cases.models import Category
    from rightscare.cases.taxonomy import seed_categories

    seed_categories(Category)
    return build_org_tree()


@pytest.fixture
def personas(org):
    return build_personas(org)


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
