"""The outbox: queueing in the caller's transaction, delivery with leases, retries, failure, templates."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

from rightscare.audit.models import AuditEntry
from rightscare.notifications import services
from rightscare.notifications.models import Message, MessageStatus, MessageTemplate
from rightscare.org import services as org_services
from rightscare.org.models import Membership
from tests.notifications.conftest import delivered

NOW = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
CONTEXT = {"name": "赵女士", "role": "处理人", "unit": "坪山区妇联", "granted_by": "管理员"}

pytestmark = pytest.mark.django_db


def _queue(channel: str = "console", **kwargs) -> Message:
    arguments = {"event": "org.role_granted", "to_address": "zhao@example.org", "channel": channel, "language": "en", "context": CONTEXT}
    arguments.update(kwargs)
    return services.queue_message(**arguments)


def _send_tasks() -> int:
    return DBTaskResult.objects.filter(task_path="rightscare.notifications.tasks.send_due_messages").count()


# --- queueing ----------------------------------------------------------------------------------


def test_a_message_is_rendered_when_queued_and_waits_for_the_sender(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        message = _queue()

    message.refresh_from_db()
    assert message.subject == "You have been given the role 处理人 in 坪山区妇联"
    assert message.body.startswith("赵女士, 管理员 has given you the role 处理人 in 坪山区妇联.\n\nSign in to RightsCare")
    assert (message.status, message.attempts, message.language, message.channel, message.event) == ("pending", 0, "en", "console", "org.role_granted")
    assert message.to_address == "zhao@example.org"
    assert len(callbacks) == 1
    assert _send_tasks() == 1


def test_the_sender_is_triggered_once_per_transaction(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        _queue()
        _queue()
        with pytest.raises(RuntimeError), transaction.atomic():
            _queue()
            raise RuntimeError("a savepoint rolled back")
        _queue()

    assert Message.objects.count() == 3
    assert len(callbacks) == 1
    assert _send_tasks() == 1


def test_nothing_is_queued_when_the_callers_transaction_rolls_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        _queue()
        raise RuntimeError("the change failed")

    assert Message.objects.count() == 0
    assert callbacks == []
    assert _send_tasks() == 0


def test_an_inbox_message_is_delivered_by_being_written(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = services.queue_message(event="org.role_granted", to_user=personas["handler"], channel="inbox", context=CONTEXT)

    assert (message.status, message.attempts, message.read_at) == ("sent", 1, None)
    assert message.sent_at is not None
    assert callbacks == []


def test_the_default_language_is_used_when_none_is_given(settings):
    settings.LANGUAGE_CODE = "zh-hans"
    MessageTemplate.objects.create(
        event="org.role_granted",
        channel="",
        language="zh-hans",
        subject="您获得了{{ unit }}的{{ role }}角色",
        body="{{ name }}：{{ granted_by }}授予您{{ role }}角色。",
    )

    message = _queue(language=None)

    assert (message.language, message.subject, message.body) == ("zh-hans", "您获得了坪山区妇联的处理人角色", "赵女士：管理员授予您处理人角色。")


def test_an_unknown_language_falls_back_to_the_default(settings):
    settings.LANGUAGE_CODE = "zh-hans"
    assert _queue(language="fr").language == "zh-hans"
    assert _queue(language="EN").language == "en"


def test_a_template_for_the_channel_wins_over_one_for_every_channel():
    MessageTemplate.objects.create(event="org.role_granted", channel="", language="en", subject="any {{ role }}", body="any")
    MessageTemplate.objects.create(event="org.role_granted", channel="email", language="en", subject="mail {{ role }}", body="mail")

    assert _queue(channel="console").subject == "any 处理人"
    assert _queue(channel="email").subject == "mail 处理人"


def test_values_reach_templates_only_as_text(personas):
    MessageTemplate.objects.create(
        event="org.role_granted", channel="", language="en", subject="{{ unit }}|{{ unit.pk }}|{{ unit.region }}", body="{{ name.upper }} {{ missing }}!"
    )

    message = _queue(context={**CONTEXT, "unit": personas["handler"].memberships.get().unit, "name": "zhao"})

    assert message.subject == "坪山街道妇联||"
    assert message.body == "ZHAO !"


def test_subjects_are_one_line():
    MessageTemplate.objects.create(event="org.role_granted", channel="", language="en", subject="a\n{{ name }}\n b", body="x")
    assert _queue().subject == "a 赵女士 b"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"event": "no.such"}, "unknown event"),
        ({"channel": "pigeon"}, "unknown channel"),
        ({"to_address": ""}, "a message needs a recipient"),
        ({"channel": "inbox"}, "cannot reach an address"),
    ],
)
def test_programming_errors_are_refused(arguments, error):
    with pytest.raises(ValueError, match=error):
        _queue(**arguments)
    assert Message.objects.count() == 0


def test_addresses_and_text_are_encrypted_at_rest():
    message = _queue(to_address="13800138000")

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_address, subject, body FROM notifications_message WHERE id = %s", [message.pk])
        stored = cursor.fetchone()
    assert "13800138000" not in "".join(stored)
    assert "赵女士" not in "".join(stored)
    assert str(message) == f"org.role_granted · console · {message.key}"


# --- a role grant sends a real notification ------------------------------------------------------


def test_granting_a_role_puts_a_message_in_the_users_inbox(org, personas, settings):
    settings.LANGUAGE_CODE = "en"
    admin, handler = personas["system_admin"], personas["handler"]

    org_services.grant_role(by=admin, user=handler, unit=org.units["pingshan"], role="supervisor")

    message = Message.objects.get(to_user=handler)
    assert (message.channel, message.event, message.status) == ("inbox", "org.role_granted", "sent")
    # In the recipient's language: the unit's English name in English.
    assert message.subject == "You have been given the role Supervisor in Pingshan District Women's Federation"
    assert message.body.startswith("handler, system_admin has given you the role Supervisor in Pingshan District Women's Federation.")


def test_granting_oneself_a_role_sends_nothing(org, personas):
    admin = personas["system_admin"]
    org_services.grant_role(by=admin, user=admin, unit=org.units["pingshan"], role="supervisor")
    assert Membership.objects.filter(user=admin).count() == 2
    assert Message.objects.count() == 0


def test_a_refused_grant_sends_nothing(org, personas):
    with pytest.raises(PermissionDenied):
        org_services.grant_role(by=personas["unit_admin_twin"], user=personas["handler"], unit=org.units["pingshan"], role="supervisor")
    assert Message.objects.count() == 0


# --- delivery ----------------------------------------------------------------------------------------


def test_due_messages_are_delivered_once_and_marked_sent(sender_file):
    messages = [_queue(channel="test_file", to_address=f"p{n}@example.org") for n in range(3)]

    report = services.deliver_due_messages(worker_id="w")
    again = services.deliver_due_messages(worker_id="w")

    assert (report.sent, report.retried, report.failed, again.sent) == (3, 0, 0, 0)
    assert delivered(sender_file) == [str(m.key) for m in messages]
    rows = Message.objects.order_by("id")
    assert [(m.status, m.attempts, m.claimed_by, m.lease_until, m.last_error) for m in rows] == [("sent", 1, "", None, "")] * 3
    assert all(m.sent_at is not None for m in rows)


def test_the_console_sender_logs_the_message_with_a_masked_address(caplog):
    message = _queue(channel="console", to_address="zhao@example.org")

    services.deliver_due_messages(worker_id="w")

    assert f"message {message.key} (org.role_granted) to z***@example.org: You have been given the role 处理人" in caplog.text
    assert "zhao@example.org" not in caplog.text
    assert Message.objects.get().status == "sent"


def test_a_message_not_yet_due_waits(sender_file):
    message = _queue(channel="test_file")
    Message.objects.filter(pk=message.pk).update(next_attempt_at=datetime.now(tz=UTC) + timedelta(minutes=1))

    assert services.deliver_due_messages(worker_id="w").sent == 0
    assert delivered(sender_file) == []


def test_a_message_leased_by_another_worker_is_left_to_it(sender_file):
    message = _queue(channel="test_file")
    Message.objects.filter(pk=message.pk).update(status="sending", attempts=1, claimed_by="other/1", lease_until=datetime.now(tz=UTC) + timedelta(minutes=1))

    assert services.deliver_due_messages(worker_id="w").sent == 0
    assert delivered(sender_file) == []


def test_a_message_whose_lease_lapsed_is_sent_again_and_the_attempt_counted(sender_file):
    """The documented duplicate: the dead worker's gateway had it, the row did not say so."""
    message = _queue(channel="test_file")
    Message.objects.filter(pk=message.pk).update(status="sending", attempts=1, claimed_by="dead/1", lease_until=datetime.now(tz=UTC) - timedelta(seconds=1))

    assert services.deliver_due_messages(worker_id="w").sent == 1

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    assert delivered(sender_file) == [str(message.key)]


def test_a_failed_attempt_is_retried_with_exponential_backoff_then_fails_for_good(sender_file, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 4
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    settings.OUTBOX_RETRY_CAP_SECONDS = 100
    message = _queue(channel="test_failing")
    Message.objects.filter(pk=message.pk).update(next_attempt_at=NOW)
    waits = []
    at = NOW
    for _attempt in range(3):
        with time_machine.travel(at, tick=False):
            report = services.deliver_due_messages(worker_id="w")
        assert (report.retried, report.failed) == (1, 0)
        message.refresh_from_db()
        assert (message.status, message.claimed_by, message.last_error) == ("pending", "", "DeliveryError: the test gateway refused the message")
        waits.append((message.next_attempt_at - at).total_seconds())
        with time_machine.travel(message.next_attempt_at - timedelta(seconds=1), tick=False):
            assert services.deliver_due_messages(worker_id="w").retried == 0  # not due yet
        at = message.next_attempt_at
    with time_machine.travel(at, tick=False):
        report = services.deliver_due_messages(worker_id="w")

    assert waits == [30, 60, 100]  # 30·2^0, 30·2^1, then the cap instead of 120
    assert (report.retried, report.failed) == (0, 1)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.sent_at) == ("failed", 4, None)
    assert delivered(sender_file) == [str(message.key)] * 4
    entry = AuditEntry.objects.get(event="notifications.message_failed")
    assert (entry.object_type, entry.object_id, entry.actor_id, entry.changes) == (
        "notifications.message",
        str(message.pk),
        None,
        {"channel": "test_failing", "attempts": 4},
    )
    with time_machine.travel(at + timedelta(days=1), tick=False):
        assert services.deliver_due_messages(worker_id="w").failed == 0  # failed stays failed
    assert len(delivered(sender_file)) == 4


def test_retry_delays_grow_exponentially_up_to_the_cap(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    settings.OUTBOX_RETRY_CAP_SECONDS = 3600
    assert [services.retry_delay(n).total_seconds() for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_permanent_refusal_fails_at_once(settings, monkeypatch):
    message = _queue(channel="email", to_address="not an address")

    report = services.deliver_due_messages(worker_id="w")

    message.refresh_from_db()
    assert (report.failed, message.status, message.attempts) == (1, "failed", 1)
    assert message.last_error == "PermanentDeliveryError: no valid e-mail address"


def test_a_channel_that_is_no_longer_available_fails_the_message(sender_file, settings):
    message = _queue(channel="test_file")
    settings.NOTIFICATIONS_TEST_SENDER_FILE = ""

    services.deliver_due_messages(worker_id="w")

    message.refresh_from_db()
    assert (message.status, message.last_error) == ("failed", "PermanentDeliveryError: no sender for the channel 'test_file'")


def test_a_message_whose_last_attempt_was_cut_short_is_failed(sender_file, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    message = _queue(channel="test_file")
    Message.objects.filter(pk=message.pk).update(status="sending", attempts=3, claimed_by="dead/1", lease_until=datetime.now(tz=UTC) - timedelta(seconds=1))

    report = services.deliver_due_messages(worker_id="w")

    message.refresh_from_db()
    assert (report.failed, message.status, message.claimed_by) == (1, "failed", "")
    assert message.last_error.startswith("The worker stopped during the last attempt")
    assert delivered(sender_file) == []
    assert AuditEntry.objects.filter(event="notifications.message_failed", object_id=str(message.pk)).count() == 1


def test_a_message_with_too_little_lease_left_is_put_back_untouched(sender_file, settings, monkeypatch):
    settings.OUTBOX_LEASE_SECONDS = 120
    message = _queue(channel="test_file")
    from rightscare.core import leasing

    monkeypatch.setattr(leasing, "still_held", lambda row, **kwargs: False)

    report = services.deliver_due_messages(worker_id="w", max_batches=1)

    message.refresh_from_db()
    assert (report.put_back, report.sent) == (1, 0)
    assert (message.status, message.attempts, message.claimed_by, message.lease_until) == ("pending", 0, "", None)
    assert delivered(sender_file) == []


def test_batches_continue_until_nothing_is_due(sender_file, settings):
    settings.OUTBOX_BATCH_SIZE = 2
    for n in range(5):
        _queue(channel="test_file", to_address=f"p{n}@example.org")

    assert services.deliver_due_messages(worker_id="w").sent == 5
    assert len(delivered(sender_file)) == 5


@pytest.mark.django_db(transaction=True)
def test_a_batch_worker_runs_the_sender_task_that_the_commit_enqueued(sender_file):
    # db_worker closes connections between tasks: only possible outside a test transaction.
    with transaction.atomic():
        message = _queue(channel="test_file")
    [result] = DBTaskResult.objects.filter(task_path="rightscare.notifications.tasks.send_due_messages")

    call_command("rightscare_worker", "--batch", stdout=io.StringIO())

    result.refresh_from_db()
    assert (result.status, result.return_value) == ("SUCCESSFUL", {"sent": 1, "retried": 0, "failed": 0, "put_back": 0, "held": 0, "withdrawn": 0})
    assert delivered(sender_file) == [str(message.key)]


# --- administrators ------------------------------------------------------------------------------------


def _failed() -> Message:
    # Written directly: queueing would already have registered the sender's trigger in this transaction.
    return Message.objects.create(
        event="org.role_granted",
        channel="console",
        language="en",
        to_address="zhao@example.org",
        subject="s",
        body="b",
        status="failed",
        attempts=8,
        last_error="DeliveryError: down",
        next_attempt_at=NOW,
    )


def test_an_administrator_retries_a_failed_message(personas, django_capture_on_commit_callbacks):
    message = _failed()

    with django_capture_on_commit_callbacks(execute=True):
        services.retry_message(by=personas["system_admin"], message=message)

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("pending", 0)
    assert _send_tasks() == 1
    entry = AuditEntry.objects.get(event="notifications.retry_message")
    assert (entry.actor_id, entry.object_id) == (personas["system_admin"].pk, str(message.pk))


@pytest.mark.parametrize("persona", ["unit_admin", "auditor", "handler"])
def test_only_a_system_administrator_may_retry(personas, persona):
    message = _failed()
    with pytest.raises(PermissionDenied):
        services.retry_message(by=personas[persona], message=message)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 8)
    assert not AuditEntry.objects.filter(event="notifications.retry_message").exists()


def test_a_message_that_has_not_failed_cannot_be_retried(personas):
    message = _queue()
    with pytest.raises(ValidationError, match="Only a failed message"):
        services.retry_message(by=personas["system_admin"], message=message)
    assert Message.objects.get().status == "pending"


def _save(personas, **changes):
    fields = {"template": None, "event": "org.role_granted", "channel": "", "language": "en", "subject": "Role {{ role }}", "body": "Hello {{ name }}"}
    fields.update(changes)
    return services.save_template(by=personas["system_admin"], **fields)


def test_an_administrator_saves_a_template_and_it_is_used_and_audited(personas):
    template = _save(personas)

    assert _queue().subject == "Role 处理人"
    entry = AuditEntry.objects.get(event="notifications.save_template")
    assert (entry.action, entry.object_id) == ("create", str(template.pk))

    _save(personas, template=template, subject="New {{ role }}")
    assert _queue().subject == "New 处理人"
    changed = AuditEntry.objects.filter(event="notifications.save_template", action="update").get()
    assert changed.changes == {"subject": ["Role {{ role }}", "New {{ role }}"]}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{% load static %}", "load"),
        ("{% include 'base.html' %}", "include"),
        ("{% debug %}", "debug"),
        ("{% url 'home' %}", "url"),
        ("{{ name|safe }}", "safe"),
        ("{% if %}", "if"),
        ("{{ name.__class__ }}", "underscores"),
    ],
)
def test_templates_using_more_than_the_sandbox_offers_are_refused(personas, body, reason):
    with pytest.raises(ValidationError) as error:
        _save(personas, body=body)
    assert list(error.value.message_dict) == ["body"]
    assert reason in error.value.message_dict["body"][0]
    assert MessageTemplate.objects.count() == 0


def test_a_second_template_for_the_same_event_channel_and_language_is_refused(personas):
    _save(personas)
    with pytest.raises(ValidationError) as error:
        _save(personas, subject="again")
    assert error.value.message_dict == {"language": ["This event already has a template for this channel and language."]}


@pytest.mark.parametrize(("field", "value"), [("event", "no.such"), ("channel", "pigeon"), ("language", "fr"), ("subject", " ")])
def test_unknown_events_channels_and_languages_are_refused(personas, field, value):
    with pytest.raises(ValidationError) as error:
        _save(personas, **{field: value})
    assert list(error.value.message_dict) == [field]


def test_only_a_system_administrator_edits_templates(personas):
    with pytest.raises(PermissionDenied):
        services.save_template(by=personas["unit_admin"], template=None, event="org.role_granted", channel="", language="en", subject="x", body="y")
    template = _save(personas)
    with pytest.raises(PermissionDenied):
        services.delete_template(by=personas["auditor"], template=template)
    assert MessageTemplate.objects.count() == 1


def test_deleting_a_template_brings_the_built_in_wording_back(personas):
    template = _save(personas)
    pk = template.pk
    services.delete_template(by=personas["system_admin"], template=template)

    assert _queue().subject == "You have been given the role 处理人 in 坪山区妇联"
    assert AuditEntry.objects.filter(event="notifications.delete_template", object_id=str(pk)).count() == 1


# --- the inbox --------------------------------------------------------------------------------------------


def _inbox(user, n: int = 1) -> list[Message]:
    return [services.queue_message(event="org.role_granted", to_user=user, channel="inbox", context=CONTEXT) for _ in range(n)]


def test_marking_read_is_idempotent_and_only_for_the_recipient(personas):
    [message] = _inbox(personas["handler"])

    with time_machine.travel(NOW, tick=False):
        services.mark_read(by=personas["handler"], message=message)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        services.mark_read(by=personas["handler"], message=message)
    with pytest.raises(PermissionDenied):
        services.mark_read(by=personas["handler_twin"], message=message)

    assert Message.objects.get().read_at == NOW


def test_marking_all_read_touches_only_my_unread_messages(personas):
    mine = _inbox(personas["handler"], 3)
    theirs = _inbox(personas["handler_twin"], 2)
    services.mark_read(by=personas["handler"], message=mine[0])

    assert services.mark_all_read(by=personas["handler"]) == 2
    assert Message.objects.filter(pk__in=[m.pk for m in mine], read_at__isnull=True).count() == 0
    assert Message.objects.filter(pk__in=[m.pk for m in theirs], read_at__isnull=True).count() == 2


def test_status_labels_are_translatable():
    assert MessageStatus.FAILED.label == "failed"
