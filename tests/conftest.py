"""Shared fixtures: the organisation tree, one persona per role and a twin in a sibling unit."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

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


def log_in(client, user):
    """Log ``client`` in as ``user``, with the second factor passed where she has a device."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def login(client):
    """Log the test client in as a user, passing the second factor where she has one."""

    def _login(user):
        return log_in(client, user)

    return _login


@pytest.fixture(autouse=True)
def _audit_anchor_file(settings, tmp_path_factory):
    # Each test seals its own audit chain: its anchors must not mix with another test's.
    settings.AUDIT_ANCHOR = str(tmp_path_factory.mktemp("audit") / "audit-anchors.log")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is the production hasher (tested in tests/org/test_security.py); the
    # personas' passwords would cost seconds per test with it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _english_messages():
    """Messages raised in tests read in English (the msgids), whatever the default language.

    Pages fetched through ``client`` ask for English too (see below); tests of the
    Chinese interface ask for ``zh-hans`` explicitly, as a browser in China does.
    """
    with translation.override("en"):
        yield


@pytest.fixture
def client():
    """Django's test client asking for English pages (``Accept-Language: en``)."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture(autouse=True)
def _forget_case_number_sequences(request, django_db_blocker):
    """A transactional test commits; the case-number sequences it made outlive the flush that empties the tables.

    Dropped after such a test on PostgreSQL, so that numbering starts again from the table
    (``rightscare.cases.numbering``) as it does after every test rolled back.
    """
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = {"transactional_db", "live_server"} & set(request.fixturenames) or (marker is not None and marker.kwargs.get("transaction"))
    if not transactional:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE 'case\\_number\\_%%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP SEQUENCE IF EXISTS "{name}"')
