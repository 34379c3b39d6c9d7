"""Fixtures of the petitioner's loop: a clean rate-limit cache, storage in a temporary folder,
and helpers that submit a request the way the web form does."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from rightscare.cases.models import Category
from rightscare.petitioners import services


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
def submit(org, personas, category):
    """Submit a request located in the Pingshan community (the Pingshan federation's queue)."""

    def _submit(**overrides):
        data = {
            "description": "公司在我怀孕后把我辞退了。",
            "category": category,
            "region": org.regions["pingshan_community"],
            "anonymous": True,
            "phone": "138 0013 8000",
            "may_call": True,
            "may_text": False,
        }
        channel = overrides.pop("channel", "web_form")
        trusted = overrides.pop("trusted", False)
        key = overrides.pop("idempotency_key", None)
        data.update(overrides)
        return services.submit_request(channel=channel, submission=services.SubmissionData(**data), trusted=trusted, idempotency_key=key)

    return _submit


def form_data(org, category, **overrides) -> dict[str, str]:
    """What the public form posts for an anonymous but contactable request."""
    data = {
        "anonymous": "on",
        "phone": "138 0013 8000",
        "request_type": "help",
        "category": str(category.pk),
        "description": "公司在我怀孕后把我辞退了。",
        "region": str(org.regions["pingshan_community"].pk),
        "address": "",
        "may_call": "on",
        "safe_from": "09:00",
        "safe_until": "17:00",
        "website": "",
        "idempotency_key": "key-1",
    }
    data.update(overrides)
    return data
