"""The Django admin shows the audit log read-only, even to superusers."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from rightscare.audit.models import AuditEntry
from rightscare.audit.services import record
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def test_superusers_may_not_add_change_or_delete(superuser):
    model_admin = admin.site._registry[AuditEntry]
    request = RequestFactory().get("/")
    request.user = superuser
    entry = record(actor=None, action="other", event="test.write")
    assert model_admin.has_view_permission(request, entry) is True
    assert (model_admin.has_add_permission(request), model_admin.has_change_permission(request, entry), model_admin.has_delete_permission(request, entry)) == (
        False,
        False,
        False,
    )
    assert model_admin.get_actions(request) == {}


def test_admin_pages_show_entries_and_refuse_changes(client, superuser):
    client.force_login(superuser)
    entry = record(actor=None, action="other", event="test.write", reason="原因")
    base = "/django-admin/audit/auditentry/"

    assert client.get(base).status_code == 200
    detail = client.get(f"{base}{entry.pk}/change/")
    assert detail.status_code == 200 and "原因" in detail.content.decode()
    assert client.get(f"{base}add/").status_code == 403
    assert client.post(f"{base}{entry.pk}/change/", {"reason": "改了"}).status_code == 403
    assert client.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(base, {"action": "delete_selected", "_selected_action": [entry.pk]}).status_code in {200, 302}

    entry.refresh_from_db()
    assert entry.reason == "原因"
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
