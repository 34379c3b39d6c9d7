"""Fixtures of the Open311 API: channel keys (plain and trusted), the public intake service
account, a clean rate-limit cache and storage in a temporary folder."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from rightscare.cases.models import Category
from rightscare.open311 import services
from rightscare.org.models import Membership
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}},
    }


@pytest.fixture
def category(db) -> Category:
    return Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True)


@pytest.fixture
def keys(personas) -> dict[str, Any]:
    """A mini-program key (queued) and a trusted app key, with their plain values."""
    admin = personas["system_admin"]
    mini, mini_plain = services.create_channel_key(by=admin, name="小程序后台", channel="mini_program")
    app, app_plain = services.create_channel_key(by=admin, name="App backend", channel="app", trusted=True)
    return {"mini": mini, "mini_plain": mini_plain, "app": app, "app_plain": app_plain}


@pytest.fixture
def service_account(org, settings):
    """The service account trusted channels register cases with (an intake operator of Pingshan)."""
    user = UserFactory(username="public-intake")
    Membership.objects.create(user=user, unit=org.units["pingshan"], role="intake_operator")
    settings.PUBLIC_INTAKE_USER = "public-intake"
    return user


def request_fields(api_key: str, **overrides: str) -> dict[str, str]:
    """A form-encoded Open311 request: anonymous but contactable, in Pingshan Street, not to be texted."""
    fields = {
        "api_key": api_key,
        "service_code": "unlawful-dismissal",
        "description": "公司在我怀孕后把我辞退了。",
        "address_id": "440310001000",
        "phone": "138 0013 8000",
        "attribute[may_call]": "true",
        "attribute[may_text]": "false",
        "attribute[safe_from]": "09:00",
        "attribute[safe_until]": "17:00",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


@pytest.fixture
def post_request(client):
    """POST /open311/v2/requests.json form-encoded, as the spec says."""

    def _post(api_key: str, headers: dict[str, str] | None = None, **overrides: str):
        return client.post("/open311/v2/requests.json", request_fields(api_key, **overrides), headers=headers or {})

    return _post
