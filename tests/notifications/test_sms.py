"""The SMS gateway sender: the request it makes, how answers map to outcomes, and at-least-once delivery."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from rightscare.notifications import services
from rightscare.notifications.models import Message, MessageStatus
from rightscare.notifications.senders import DeliveryError, PermanentDeliveryError
from rightscare.notifications.senders.sms import SENDER as SMS

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
KEY = uuid.UUID("0b3c4a1e-7f2d-4c55-8e61-9d2a7c3b1f00")


@pytest.fixture
def gateway(fake_gateway, settings):
    settings.SMS_GATEWAY_URL = f"{fake_gateway.url}/send"
    settings.SMS_GATEWAY_TOKEN = "s3cret-token"
    settings.SMS_SENDER_NAME = "深圳妇联"
    settings.SMS_GATEWAY_TIMEOUT = 2
    return fake_gateway


def _message(**fields) -> Message:
    values = {"key": KEY, "event": "petitioner.registered", "channel": "sms", "language": "zh-hans", "to_address": "+8613800138021", "body": "您的诉求已登记。"}
    values.update(fields)
    return Message(**values)


def test_a_text_is_posted_with_its_unique_key_and_signature(gateway):
    gateway.answer("/send", (202, {"accepted": True}))
    SMS.deliver(_message())

    [request] = gateway.received
    assert (request.method, request.path) == ("POST", "/send")
    assert request.json() == {"key": str(KEY), "to": "+8613800138021", "sender": "深圳妇联", "text": "您的诉求已登记。"}
    assert request.headers["idempotency-key"] == str(KEY)
    assert request.headers["authorization"] == "Bearer s3cret-token"
    assert request.headers["content-type"] == "application/json"


def test_a_neutral_sender_name_replaces_the_signature(gateway):
    gateway.answer("/send", (200, {}))
    SMS.deliver(_message(sender_name="社区服务"))
    assert gateway.received[0].json()["sender"] == "社区服务"


def test_basic_credentials_when_no_token_is_set(gateway, settings):
    settings.SMS_GATEWAY_TOKEN = ""
    settings.SMS_GATEWAY_USER, settings.SMS_GATEWAY_PASSWORD = "rights", "pw"
    gateway.answer("/send", (200, {}))
    SMS.deliver(_message())
    assert gateway.received[0].headers["authorization"] == "Basic cmlnaHRzOnB3"


@pytest.mark.parametrize(("status", "error", "text"), [(503, DeliveryError, "HTTP 503"), (429, DeliveryError, "HTTP 429"), (302, DeliveryError, "HTTP 302")])
def test_any_answer_but_2xx_is_a_failure_to_retry(gateway, status, error, text):
    gateway.answer("/send", (status, {"error": "busy"}))
    with pytest.raises(error, match=text) as raised:
        SMS.deliver(_message())
    assert not isinstance(raised.value, PermanentDeliveryError)


@pytest.mark.parametrize("status", [400, 422])
def test_a_request_the_gateway_calls_invalid_is_not_retried(gateway, status):
    gateway.answer("/send", (status, {"error": "bad number"}))
    with pytest.raises(PermanentDeliveryError, match=f"HTTP {status}"):
        SMS.deliver(_message())


def test_an_unreachable_gateway_is_retried_without_quoting_the_url(settings):
    settings.SMS_GATEWAY_URL = "http://user:pw@127.0.0.1:9/send"  # nothing listens on the discard port
    with pytest.raises(DeliveryError) as raised:
        SMS.deliver(_message())
    assert str(raised.value) == "SMS gateway unreachable: ConnectionError"


def test_a_slow_gateway_times_out(gateway, settings, monkeypatch):
    import requests

    seen = {}

    def slow_post(url, **kwargs):
        seen.update(kwargs)
        raise requests.Timeout("read timed out")

    monkeypatch.setattr(requests, "post", slow_post)
    settings.SMS_GATEWAY_TIMEOUT = 7
    with pytest.raises(DeliveryError, match="SMS gateway unreachable: Timeout"):
        SMS.deliver(_message())
    assert seen["timeout"] == (7.0, 7.0)


def test_without_a_gateway_the_channel_is_not_configured(settings):
    settings.SMS_GATEWAY_URL = ""
    assert SMS.is_configured() is False
    with pytest.raises(DeliveryError, match="no SMS gateway"):
        SMS.deliver(_message())


@pytest.mark.django_db
def test_a_failing_gateway_gets_the_same_key_until_it_accepts_once(gateway, settings):
    """At least once: two refusals, then success; one accepted delivery, the same key every time, backoff between."""
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    gateway.answer("/send", (503, {}), (500, {}), (200, {"id": "gw-1"}))
    with time_machine.travel(NOW, tick=False):
        message = services.queue_message(
            event="petitioner.registered",
            channel="sms",
            to_address="+8613800138021",
            language="en",
            context={"sender": "RightsCare", "reference": "SZ-2026-000001", "tracking": ""},
        )
        first = services.deliver_due_messages(worker_id="w1")
    message.refresh_from_db()
    assert (first.retried, message.status, message.attempts, message.next_attempt_at) == (1, MessageStatus.PENDING, 1, NOW + timedelta(seconds=30))

    with time_machine.travel(NOW + timedelta(seconds=29), tick=False):
        assert services.deliver_due_messages(worker_id="w1").retried == 0  # not due yet
    with time_machine.travel(NOW + timedelta(seconds=30), tick=False):
        assert services.deliver_due_messages(worker_id="w1").retried == 1
    message.refresh_from_db()
    assert message.next_attempt_at == NOW + timedelta(seconds=30 + 60)

    with time_machine.travel(NOW + timedelta(seconds=90), tick=False):
        assert services.deliver_due_messages(worker_id="w1").sent == 1
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        assert services.deliver_due_messages(worker_id="w1").sent == 0  # nothing is sent twice

    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (MessageStatus.SENT, 3, "")
    keys = [request.json()["key"] for request in gateway.received]
    assert keys == [str(message.key)] * 3
    assert [request.headers["idempotency-key"] for request in gateway.received] == [str(message.key)] * 3
    assert gateway.received[0].json()["text"] == "RightsCare: your request SZ-2026-000001 has been received and registered."
