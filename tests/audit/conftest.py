"""Fixtures of the audit tests: the test's anchor file and audit key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest


@pytest.fixture
def anchor_file(settings) -> Path:
    return Path(settings.AUDIT_ANCHOR)


@pytest.fixture
def audit_key(settings) -> bytes:
    spec = settings.AUDIT_KEY_SPEC
    return base64.urlsafe_b64decode(spec + "=" * (-len(spec) % 4))
