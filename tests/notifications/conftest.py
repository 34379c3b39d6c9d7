"""Fixtures of the notification tests: the test senders' file and a fixed outbox configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.notifications.fake_gateway import fake_gateway  # noqa: F401  (a fixture of these tests)


@pytest.fixture
def sender_file(settings, tmp_path) -> Path:
    """The file the ``test_file`` and ``test_failing`` channels append message keys to."""
    path = tmp_path / "gateway.log"
    settings.NOTIFICATIONS_TEST_SENDER_FILE = str(path)
    return path


@pytest.fixture(autouse=True)
def outbox_settings(settings):
    """The documented defaults, whatever the environment says."""
    settings.OUTBOX_LEASE_SECONDS = 120
    settings.OUTBOX_BATCH_SIZE = 20
    settings.OUTBOX_MAX_ATTEMPTS = 8
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    settings.OUTBOX_RETRY_CAP_SECONDS = 3600


def delivered(path: Path) -> list[str]:
    """The keys the test gateway received, in order."""
    return path.read_text(encoding="utf-8").split() if path.exists() else []
