"""Outbound deliveries: webhooks verified by a receiver, the 12345 report-back retried after a failure, the delivery log."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from rightscare.cases.models import Category
from rightscare.cases.services import decline_case, register_case
from rightscare.intake.services import record_contact
from rightscare.integrations import services
from rightscare.integrations.models import Delivery, DeliveryAttempt, DeliveryKind, DeliveryStatus

CASE_KEYS = {"number", "status", "previous_status", "request_type", "category", "region", "registered_at", "resolved_at", "closed_at"}


def new_case(org, personas, *, summary: str = "孕期被辞退，电话13800138021。", region: str = "pingshan_community", confidential: bool = False):
    return register_case(
        by=personas["operator"],
        unit=org.units["pingshan"],
        request_type="help",
        category=Category.objects.get(code="unlawful-dismissal", valid_until__isnull=True),
        summary=summary,
        region=org.regions[region],
        address="坪山街道某工业园3栋",
        location_confidential=confidential,
    )


def subscribe(personas, receiver, **overrides):
    arguments = {"name": "区信访系统", "url": receiver.url, "events": ["case.created", "case.status_changed"], "secret": receiver.secret}
    return services.save_subscription(by=personas["system_admin"], subscription=None, **{**arguments, **overrides})


def test_a_webhook_is_signed_and_the_receiver_verifies_it(org, personas, receiver):
    subscription = subscribe(personas, receiver)
    case = new_case(org, personas)
    delivery = Delivery.objects.get()
    assert (delivery.kind, delivery.event, delivery.subscription, delivery.status) == (
        DeliveryKind.WEBHOOK,
        "case.created",
        subscription,
        DeliveryStatus.PENDING,
    )

    report = services.deliver_due(worker_id="test")

    assert report.delivered == 1
    [request] = receiver.received
    assert request.signature_valid
    assert request.headers["X-RightsCare-Event"] == "case.created"
    assert request.headers["X-RightsCare-Delivery"] == str(delivery.key)
    body = request.json
    assert set(body) == {"id", "event", "occurred_at", "case"}
    assert set(body["case"]) == CASE_KEYS
    assert body["case"]["number"] == case.number
    assert (body["case"]["status"], body["case"]["previous_status"]) == ("registered", None)
    assert (body["case"]["category"], body["case"]["region"]) == ("unlawful-dismissal", "440310001000")  # the community has no code: its street's
    # Nothing personal: no summary, no phone, no address.
    for secret_text in ("孕期", "13800138021", "工业园", "8021"):
        assert secret_text not in request.body.decode()


def test_a_receiver_with_the_wrong_secret_rejects_the_signature(org, personas, receiver):
    subscribe(personas, receiver, secret="another-secret-0123456789")
    new_case(org, personas)
    services.deliver_due(worker_id="test")
    assert [request.signature_valid for request in receiver.received] == [False]


def test_status_changes_are_sent_and_region_scope_is_kept(org, personas, receiver):
    subscribe(personas, receiver, events=["case.status_changed"])
    services.save_subscription(
        by=personas["system_admin"],
        subscription=None,
        name="龙华",
        url=receiver.url,
        events=["case.status_changed", "case.created"],
        region=org.regions["longhua"],
    )
    case = new_case(org, personas)
    assert Delivery.objects.count() == 0  # one subscriber wants no creations, the other not Pingshan's cases
    decline_case(case=case, by=personas["dispatcher"], reason="不属于受理范围。")
    delivery = Delivery.objects.get()
    assert delivery.payload["case"]["status"] == "not_accepted"
    assert delivery.payload["case"]["previous_status"] == "registered"
    assert delivery.payload["case"]["closed_at"] is not None


def test_a_confidential_location_sends_no_region(org, personas, receiver):
    subscribe(personas, receiver)
    new_case(org, personas, confidential=True)
    assert Delivery.objects.get().payload["case"]["region"] is None


def test_an_inactive_subscription_gets_nothing(org, personas, receiver):
    subscribe(personas, receiver, active=False)
    new_case(org, personas)
    assert Delivery.objects.count() == 0


@pytest.fixture
def platform_12345(settings, receiver):
    settings.PLATFORM_12345_URL = receiver.url
    settings.PLATFORM_12345_SECRET = receiver.secret
    settings.INTEGRATIONS_RETRY_BASE_SECONDS = 30
    return receiver


def test_the_12345_report_back_is_retried_after_a_failure_and_is_one_logical_delivery(org, personas, platform_12345):
    case = new_case(org, personas)
    record_contact(
        by=personas["operator"],
        unit=org.units["pingshan"],
        channel="platform_12345",
        content="12345转来。",
        caller_phone="13800138021",
        case=case,
        external_ticket_number="SZ12345-0001",
    )
    platform_12345.answers = [503]
    decline_case(case=case, by=personas["dispatcher"], reason="不属于妇联受理范围，请向劳动监察反映。")
    delivery = Delivery.objects.get(kind=DeliveryKind.REPORT_12345)
    assert delivery.idempotency_key == "12345:SZ12345-0001:not_accepted"

    first = services.deliver_due(worker_id="test")
    delivery.refresh_from_db()
    assert (first.delivered, first.retried) == (0, 1)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.PENDING, 1, "HTTP 503")
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=25)
    assert services.deliver_due(worker_id="test").delivered == 0  # not due yet

    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        second = services.deliver_due(worker_id="test")
    delivery.refresh_from_db()
    assert (second.delivered, delivery.status, delivery.attempts) == (1, DeliveryStatus.DELIVERED, 2)
    assert [request.signature_valid for request in platform_12345.received] == [True, True]
    # The same request twice: the platform drops the repeat by its keys.
    assert {request.headers["Idempotency-Key"] for request in platform_12345.received} == {"12345:SZ12345-0001:not_accepted"}
    assert {request.headers["X-RightsCare-Delivery"] for request in platform_12345.received} == {str(delivery.key)}
    assert platform_12345.received[-1].json == {
        "ticket_number": "SZ12345-0001",
        "status": "not_accepted",
        "case_number": case.number,
        "result": "不属于妇联受理范围，请向劳动监察反映。",
        "occurred_at": delivery.payload["occurred_at"],
    }
    assert list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("at").values_list("status_code", "error")) == [(503, "HTTP 503"), (200, "")]
    # The same status again queues nothing new (ticket + status is the key).
    services.record_case_change(case_id=case.pk, previous="registered", status="not_accepted")
    assert Delivery.objects.filter(kind=DeliveryKind.REPORT_12345).count() == 1


def test_cases_not_from_12345_report_nothing(org, personas, platform_12345):
    case = new_case(org, personas)
    decline_case(case=case, by=personas["dispatcher"], reason="不予受理。")
    assert Delivery.objects.count() == 0


def test_a_worker_that_died_after_sending_sends_again_when_the_lease_lapses(org, personas, receiver, settings):
    from rightscare.core import leasing

    subscribe(personas, receiver)
    new_case(org, personas)
    # A worker claims it and dies before recording anything (after the receiver got it, or not).
    assert len(leasing.claim(Delivery.objects.due(timezone.now()), owner="dead-worker", lease=timedelta(seconds=120), limit=10)) == 1
    assert services.deliver_due(worker_id="test").delivered == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=121)):
        assert services.deliver_due(worker_id="test").delivered == 1
    assert len(receiver.received) == 1
    assert Delivery.objects.get().status == DeliveryStatus.DELIVERED


def test_a_final_client_error_fails_at_once_and_an_administrator_retries_it(org, personas, receiver):
    subscribe(personas, receiver)
    new_case(org, personas)
    receiver.answers = [410]
    report = services.deliver_due(worker_id="test")
    delivery = Delivery.objects.get()
    assert (report.failed, delivery.status, delivery.attempts, delivery.last_error) == (1, DeliveryStatus.FAILED, 1, "HTTP 410")
    services.retry_delivery(by=personas["system_admin"], delivery=delivery)
    assert services.deliver_due(worker_id="test").delivered == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_the_delivery_log_pages(as_user, org, personas, receiver):
    subscription = subscribe(personas, receiver)
    case = new_case(org, personas)
    receiver.answers = [500]
    services.deliver_due(worker_id="test")
    delivery = Delivery.objects.get()
    client = as_user(personas["system_admin"])
    listing = client.get(reverse("delivery_list"))
    assert listing.status_code == 200
    assert case.number in listing.content.decode()
    detail = client.get(reverse("delivery_detail", args=[delivery.pk])).content.decode()
    assert "HTTP 500" in detail
    assert str(delivery.key) in detail
    assert receiver.secret in client.get(reverse("webhook_edit", args=[subscription.pk])).content.decode()
    assert as_user(personas["dispatcher"]).get(reverse("delivery_list")).status_code == 403


def test_the_subscription_form_saves_and_audits_without_the_secret(as_user, personas):
    from rightscare.audit.models import AuditEntry
    from rightscare.integrations.models import WebhookSubscription

    client = as_user(personas["system_admin"])
    response = client.post(
        reverse("webhook_create"), {"name": "统计平台", "url": "https://stats.example.org/hook", "events": ["case.created"], "secret": "", "active": "on"}
    )
    subscription = WebhookSubscription.objects.get()
    assert response.status_code == 302
    assert (subscription.events, subscription.active, len(subscription.secret) >= 40) == (["case.created"], True, True)
    entry = AuditEntry.objects.get(event="integrations.save_subscription")
    assert subscription.secret not in str(entry.changes)
    refused = client.post(reverse("webhook_create"), {"name": "x", "url": "ftp://example.org/", "events": ["case.created"]})
    assert refused.status_code == 422
    assert WebhookSubscription.objects.count() == 1
