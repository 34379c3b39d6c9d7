"""The senders: e-mail with the unique key as Message-ID, console, inbox, and the registry."""

from __future__ import annotations

import smtplib
import uuid

import pytest
from django.core import mail

from rightscare.notifications import senders
from rightscare.notifications.models import Message
from rightscare.notifications.senders import DeliveryError, PermanentDeliveryError
from rightscare.notifications.senders.console import mask_address
from rightscare.notifications.senders.smtp import SENDER as EMAIL


def _message(**fields) -> Message:
    values = {
        "key": uuid.UUID("6f1c2a8e-1d0b-4a53-9a55-2b1f0c9f7d11"),
        "event": "org.role_granted",
        "channel": "email",
        "language": "en",
        "subject": "Hi",
        "body": "Text",
    }
    values.update(fields)
    return Message(**values)


def test_an_email_carries_the_unique_key_as_its_message_id(settings):
    settings.DEFAULT_FROM_EMAIL = "RightsCare <noreply@rights.example.org>"
    EMAIL.deliver(_message(to_address="zhao@example.org"))

    [sent] = mail.outbox
    assert (sent.to, sent.subject, sent.body, sent.from_email) == (["zhao@example.org"], "Hi", "Text", "RightsCare <noreply@rights.example.org>")
    assert sent.extra_headers["Message-ID"] == "<6f1c2a8e-1d0b-4a53-9a55-2b1f0c9f7d11@rights.example.org>"
    assert sent.message()["Message-ID"] == "<6f1c2a8e-1d0b-4a53-9a55-2b1f0c9f7d11@rights.example.org>"


@pytest.mark.django_db
def test_an_email_to_a_staff_user_goes_to_her_address(personas):
    handler = personas["handler"]
    handler.email = "handler@example.org"
    EMAIL.deliver(_message(to_user=handler))
    assert mail.outbox[0].to == ["handler@example.org"]


@pytest.mark.parametrize("address", ["", "not-an-address"])
def test_an_email_without_a_valid_address_fails_permanently(address):
    with pytest.raises(PermanentDeliveryError, match="no valid e-mail address"):
        EMAIL.deliver(_message(to_address=address))
    assert mail.outbox == []


def _broken_backend(error: Exception):
    class Backend:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            return None

        def send_messages(self, messages):
            raise error

    return Backend


@pytest.mark.parametrize(
    ("error", "expected", "text"),
    [
        (
            smtplib.SMTPRecipientsRefused({"zhao@example.org": (550, b"no such user zhao@example.org")}),
            PermanentDeliveryError,
            "the mail server refused the recipient",
        ),
        (smtplib.SMTPServerDisconnected("zhao@example.org went away"), DeliveryError, "mail server error: SMTPServerDisconnected"),
        (ConnectionRefusedError(111, "refused"), DeliveryError, "mail server error: ConnectionRefusedError"),
    ],
)
def test_mail_server_errors_are_classified_without_quoting_the_address(monkeypatch, error, expected, text):
    from rightscare.notifications.senders import smtp

    monkeypatch.setattr(smtp, "get_connection", lambda **kwargs: _broken_backend(error)())
    with pytest.raises(expected) as raised:
        EMAIL.deliver(_message(to_address="zhao@example.org"))
    assert str(raised.value) == text
    assert type(raised.value) is expected


@pytest.mark.parametrize(
    ("address", "masked"),
    [("zhao@example.org", "z***@example.org"), ("13800138000", "*******8000"), ("110", "***110"), ("", "")],
)
def test_addresses_are_masked_for_logs_and_lists(address, masked):
    assert mask_address(address) == masked


def test_the_built_in_channels_are_registered_and_the_test_doubles_only_when_configured(settings):
    settings.NOTIFICATIONS_TEST_SENDER_FILE = ""
    assert sorted(senders.senders()) == ["console", "email", "inbox", "sms", "wechat"]
    assert [code for code, _label in senders.channel_choices()] == ["console", "email", "inbox", "sms", "wechat"]
    settings.NOTIFICATIONS_TEST_SENDER_FILE = "/tmp/x"
    assert sorted(senders.senders()) == ["console", "email", "inbox", "sms", "test_failing", "test_file", "wechat"]
    assert [code for code, _label in senders.channel_choices()] == ["console", "email", "inbox", "sms", "wechat"]


def test_a_new_channel_is_one_registration(settings):
    class Pigeon(senders.Sender):
        channel = "pigeon"
        label = "Pigeon"

        def deliver(self, message: Message) -> None:
            return None

    try:
        senders.register_sender(Pigeon())
        assert senders.get_sender("pigeon").label == "Pigeon"
    finally:
        senders._SENDERS.pop("pigeon")


def test_the_inbox_needs_a_user_and_delivers_on_queue():
    inbox = senders.get_sender("inbox")
    assert (inbox.delivers_on_queue, inbox.reaches_addresses, inbox.reaches_users) == (True, False, True)
    assert inbox.deliver(_message(channel="inbox")) is None


def test_the_file_double_appends_one_line_per_delivery(sender_file):
    message = _message(channel="test_file")
    senders.get_sender("test_file").deliver(message)
    senders.get_sender("test_file").deliver(message)
    with pytest.raises(DeliveryError):
        senders.get_sender("test_failing").deliver(message)
    assert sender_file.read_text() == f"{message.key}\n" * 3


def test_check_accepts_the_defaults(settings):
    from rightscare.notifications.checks import check_notifications

    settings.NOTIFICATIONS_DEFAULT_CHANNEL = "email"
    settings.OUTBOX_MAX_ATTEMPTS = 8
    settings.SMS_GATEWAY_URL = settings.WECHAT_APP_ID = ""
    assert [(f.level, f.message) for f in check_notifications()] == [
        ("ok", "messages: default channel email, 8 attempts"),
        ("ok", "petitioners: not notified (no RIGHTSCARE_SMS_GATEWAY_URL or RIGHTSCARE_WECHAT_APP_ID)"),
    ]


def test_check_reports_an_unknown_channel_and_a_short_lease(settings):
    from rightscare.notifications.checks import check_notifications

    settings.NOTIFICATIONS_TEST_SENDER_FILE = ""
    settings.NOTIFICATIONS_DEFAULT_CHANNEL = "pigeon"
    settings.OUTBOX_LEASE_SECONDS = 30
    settings.EMAIL_TIMEOUT = 30
    settings.OUTBOX_MAX_ATTEMPTS = 0
    settings.SMS_GATEWAY_URL = settings.WECHAT_APP_ID = ""
    assert [f.level for f in check_notifications()] == ["error", "warning", "error", "ok"]
    assert check_notifications()[0].message == "RIGHTSCARE_NOTIFICATIONS_CHANNEL='pigeon' is not a channel (console, email, inbox, sms, wechat)"


def test_the_default_channel_comes_from_the_settings(settings):
    from rightscare.notifications.services import default_channel

    settings.NOTIFICATIONS_DEFAULT_CHANNEL = "console"
    assert default_channel() == "console"
