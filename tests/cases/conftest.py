"""Fixtures of the case tests: the demo organisation (Shenzhen and the seed's units) without demo cases."""

from __future__ import annotations

import io
from unittest import mock

import pytest

from rightscare.org.models import User


@pytest.fixture
def demo_org(db):
    """The demo organisation and responsibility list, without the demo's played cases."""
    from rightscare.cases import demo as cases_demo
    from rightscare.cases.models import Category
    from rightscare.cases.taxonomy import seed_categories
    from rightscare.org.demo import load_demo

    # A transactional test empties the database, migration-seeded rows included.
    seed_categories(Category)

    with mock.patch("rightscare.org.demo.DEMO_EXTENSIONS", ("tests.cases.conftest.load_rules_only",)):
        load_demo(stdout=io.StringIO())
    assert cases_demo.RULES
    return {user.username: user for user in User.objects.all()}


def load_rules_only(*, admin, units) -> None:
    from rightscare.cases.demo import load_rules

    load_rules()
