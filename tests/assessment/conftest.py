"""Fixtures of the assessment tests: the hand-built data set of ``tests/assessment/dataset.py``."""

from __future__ import annotations

import pytest

from tests.assessment.dataset import build_dataset


@pytest.fixture
def dataset(org, personas):
    return build_dataset(org, personas)


@pytest.fixture
def rated_dataset(org, personas):
    from tests.assessment.dataset import add_ratings

    return add_ratings(org, personas, build_dataset(org, personas))
