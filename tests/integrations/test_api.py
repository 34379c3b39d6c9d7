"""The webhook and delivery-log operations of the API (system administrators only)."""

from __future__ import annotations

import json

import pytest

from rightscare.integrations.models import Delivery, WebhookSubscription
from rightscare.org.services import create_api_token


@pytest.fixture
def headers(personas):
    def _headers(name: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_api_token(by=personas[name], name='t')[1]}", **extra}

    return _headers


def test_create_returns_the_secret_once_and_a_retry_the_same_subscription(client, headers):
    body = json.dumps({"name": "统计平台", "url": "https://stats.example.org/hook", "events": ["case.created"]})
    admin = headers("system_admin", **{"Idempotency-Key": "k-1"})
    first = client.post("/api/v1/webhooks", body, content_type="application/json", headers=admin)
    again = client.post("/api/v1/webhooks", body, content_type="application/json", headers=admin)
    subscription = WebhookSubscription.objects.get()
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["secret"] == subscription.secret
    assert "secret" not in again.json()
    assert again.json()["id"] == subscription.pk


def test_patch_switches_a_subscription_off_and_keeps_its_secret(client, headers, personas):
    admin = headers("system_admin")
    created = client.post(
        "/api/v1/webhooks",
        json.dumps({"name": "a", "url": "https://a.example.org/", "events": ["case.created"]}),
        content_type="application/json",
        headers=admin,
    ).json()
    response = client.patch(f"/api/v1/webhooks/{created['id']}", json.dumps({"active": False}), content_type="application/json", headers=admin)
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert WebhookSubscription.objects.get().secret == created["secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "url": "ftp://a.example.org/", "events": ["case.created"]}, "url"),
        ({"name": "a", "url": "https://a.example.org/", "events": ["case.deleted"]}, "events.0"),
        ({"name": "a", "url": "https://a.example.org/", "events": ["case.created"], "secret": "short"}, "secret"),
        ({"name": "a", "url": "https://a.example.org/", "events": ["case.created"], "region_id": 999999}, "region_id"),
    ],
)
def test_invalid_subscriptions_are_422_and_nothing_saved(client, headers, body, field):
    response = client.post("/api/v1/webhooks", json.dumps(body), content_type="application/json", headers=headers("system_admin"))
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert WebhookSubscription.objects.count() == 0


def test_others_may_not_manage_webhooks(client, headers):
    body = json.dumps({"name": "a", "url": "https://a.example.org/", "events": ["case.created"]})
    response = client.post("/api/v1/webhooks", body, content_type="application/json", headers=headers("dispatcher"))
    assert response.status_code == 403
    assert client.get("/api/v1/deliveries", headers=headers("auditor")).status_code == 403
    assert WebhookSubscription.objects.count() == 0


def test_the_delivery_log_lists_and_filters(client, headers, org, personas):
    from rightscare.integrations import services
    from tests.integrations.test_outbound import new_case

    subscription = services.save_subscription(by=personas["system_admin"], subscription=None, name="a", url="https://a.example.org/", events=["case.created"])
    case = new_case(org, personas)
    admin = headers("system_admin")
    items = client.get("/api/v1/deliveries?status=pending", headers=admin).json()["items"]
    assert [(item["webhook_id"], item["case_number"], item["event"], item["status"]) for item in items] == [
        (subscription.pk, case.number, "case.created", "pending")
    ]
    assert client.get("/api/v1/deliveries?status=failed", headers=admin).json()["items"] == []
    delivery = Delivery.objects.get()
    assert client.post(f"/api/v1/deliveries/{delivery.pk}/retry", headers=admin).status_code == 422
