"""Shared fixtures: the organisation tree, one persona per role and a twin in a sibling unit."""

from __future__ import annotations


import pytest

from tests.factories import PASSWORD, OrgTree, build_org_tree, build_personas



@pytest.fixture
def org(db) -> OrgTree:
    return build_org_tree()


@pytest.fixture
def personas(org):
    return build_personas(org)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def login(client):
    """Log the test client in as a user, passing the second factor where she has one."""

    def _login(user):
        client.force_login(user)
        return client

    return _login
