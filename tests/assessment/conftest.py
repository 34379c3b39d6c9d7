"""Fixtures of the assessment tests: the hand-built data set of ``tests/assessment/dataset.py``."""

from __future__ import annotations

import pytest

from tests.assessment.dataset import build_dataset


@pytest.fixture
def dataset(org, personas):
    return build_dataset(org, personas)
