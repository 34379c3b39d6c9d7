"""Channel keys: issued once (only a digest kept), revoked at once, audited, the administrators' alone."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from rightscare.audit.models import AuditEntry
from rightscare.open311 import services
from rightscare.open311.models import ChannelKey
from rightscare.org.services import create_api_token


def _bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_token(by=user, name='t')[1]}"}


def test_api_shows_the_key_once_and_stores_only_its_digest(client, personas):
    headers = {**_bearer(personas["system_admin"]), "Idempotency-Key": "k-1"}
    body = {"name": "小程序后台", "channel": "mini_program", "trusted": True, "rate_limit": 120}
    first = client.post("/api/v1/channel-keys", body, content_type="application/json", headers=headers)
    assert first.status_code == 201
    created = first.json()
    plain = created["key"]
    assert plain.startswith("o311_") and created["prefix"] == plain[:12] and (created["trusted"], created["rate_limit"]) == (True, 120)
    key = ChannelKey.objects.get()
    assert plain not in (key.digest, key.prefix) and services.authenticate_channel_key(plain) == key
    again = client.post("/api/v1/channel-keys", body, content_type="application/json", headers=headers)
    assert again.status_code == 200 and "key" not in again.json() and ChannelKey.objects.count() == 1
    entry = AuditEntry.objects.get(event="open311.create_channel_key")
    assert plain not in str(entry.changes) and key.digest not in str(entry.changes)


def test_revoke_is_audited_and_refuses_the_key(client, personas):
    key, plain = services.create_channel_key(by=personas["system_admin"], name="App", channel="app")
    response = client.post(f"/api/v1/channel-keys/{key.pk}/revoke", headers=_bearer(personas["system_admin"]))
    assert response.status_code == 200 and response.json()["revoked_at"] is not None
    assert services.authenticate_channel_key(plain) is None
    assert AuditEntry.objects.filter(event="open311.revoke_channel_key", object_id=str(key.pk)).count() == 1


def test_only_system_administrators_manage_keys(personas):
    with pytest.raises(PermissionDenied):
        services.create_channel_key(by=personas["unit_admin"], name="x", channel="app")
    assert ChannelKey.objects.count() == 0


def test_invalid_channel_is_refused(client, personas):
    response = client.post(
        "/api/v1/channel-keys", {"name": "x", "channel": "hotline"}, content_type="application/json", headers=_bearer(personas["system_admin"])
    )
    assert response.status_code == 422 and ChannelKey.objects.count() == 0


def test_page_creates_a_key_shown_once_and_revokes_it(client, login, personas):
    login(personas["system_admin"])
    response = client.post("/integrations/channel-keys/", {"name": "App backend", "channel": "app", "rate_limit": "600", "idempotency_key": "p-1"})
    assert response.status_code == 200
    key = ChannelKey.objects.get()
    shown = response.context["shown"]
    assert shown.startswith("o311_") and shown in response.content.decode() and services.authenticate_channel_key(shown) == key
    assert shown not in client.get("/integrations/channel-keys/").content.decode()
    assert client.post(f"/integrations/channel-keys/{key.pk}/revoke/").status_code == 302
    assert ChannelKey.objects.get().revoked_at is not None
