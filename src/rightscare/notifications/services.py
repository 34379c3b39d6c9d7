"""Use cases of the outbox: queue a message, deliver what is due, retry, read, edit templates.

Delivery is **at least once**. A message is claimed with a lease (see
:mod:`rightscare.core.leasing`), handed to its channel's sender outside any
transaction, then marked sent. A worker that dies after the gateway accepted the
message and before the row was marked sent leaves it leased: when the lease lapses
(``OUTBOX_LEASE_SECONDS``) another worker sends it again: one duplicate, which
gateways that honour the message's unique key drop. Failures are retried after
``OUTBOX_RETRY_BASE_SECONDS · 2^(attempt-1)`` seconds (at most
``OUTBOX_RETRY_CAP_SECONDS``) until ``OUTBOX_MAX_ATTEMPTS`` attempts, then the message
is ``failed``, in the audit log and on the administrators' page, where it can be retried.

A message may name a guard (:mod:`rightscare.notifications.guards`) that is asked before
every attempt: it may hold the message until a later moment (her safe hours) without
using up an attempt, or withdraw it for good (``cancelled``, audited) when sending it is
no longer safe.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.core import leasing, memo
from rightscare.core.barriers import barrier
from rightscare.notifications import guards, rendering
from rightscare.notifications.events import EVENTS, Event
from rightscare.notifications.models import Message, MessageStatus, MessageTemplate
from rightscare.notifications.senders import PermanentDeliveryError, get_sender, senders
from rightscare.org import access
from rightscare.org.roles import Role

logger = logging.getLogger(__name__)

#: The longest error text kept on a message.
MAX_ERROR = 1000


# --- who may manage the outbox ---------------------------------------------------------


def may_manage_notifications(user: Any) -> bool:
    """System administrators see failed messages, retry them and edit message templates."""
    return access.has_global_role(user, Role.SYSTEM_ADMIN)


# --- queueing ----------------------------------------------------------------------------


def default_channel() -> str:
    """The channel for messages to an address when the caller has no preference (``RIGHTSCARE_NOTIFICATIONS_CHANNEL``)."""
    return str(settings.NOTIFICATIONS_DEFAULT_CHANNEL)


def language_or_default(language: str | None) -> str:
    """``language`` when the installation offers it, otherwise the default language."""
    offered = {code for code, _name in settings.LANGUAGES}
    if language and language.lower() in offered:
        return language.lower()
    return str(settings.LANGUAGE_CODE)


def wording(*, event: Event, channel: str, language: str) -> tuple[str, str]:
    """The subject and text templates of ``event``: an administrator's for the channel, for every channel, or the built-in one."""
    custom = memo.remembered(
        ("wording", event.code, channel, language),
        lambda: MessageTemplate.objects.filter(event=event.code, language=language, channel__in=[channel, ""]).order_by("-channel").first(),
    )
    if custom is not None:
        return custom.subject, custom.body
    with translation.override(language):
        return str(event.subject), str(event.body)


class RevealingText(ValueError):
    """Even the built-in wording of a message would contain a word it must not."""


def _reveals(texts: tuple[str, str], forbidden_words: Collection[str]) -> bool:
    joined = "\n".join(texts).casefold()
    return any(word.strip() and word.strip().casefold() in joined for word in forbidden_words)


def render_message(*, event: Event, channel: str, language: str, context: Mapping[str, Any], forbidden_words: Collection[str] = ()) -> tuple[str, str]:
    """The subject and text of a message, rendered in ``language`` in the sandbox.

    An administrator's wording that contains one of ``forbidden_words`` (any case) is set
    aside for the built-in wording; should that contain one too, :class:`RevealingText`.
    """
    subject_template, body_template = wording(event=event, channel=channel, language=language)
    with translation.override(language):
        values = rendering.plain_context(context)
        builtin_subject, builtin_body = str(event.subject), str(event.body)
        try:
            rendered = rendering.render_subject(subject_template, values), rendering.render_body(body_template, values)
        except rendering.TemplateError:
            # A stored template is checked when saved; should one still fail, the built-in wording is sent.
            logger.exception("message template of %s (%s, %s) does not compile", event.code, channel, language)
            rendered = rendering.render_subject(builtin_subject, values), rendering.render_body(builtin_body, values)
        if forbidden_words and _reveals(rendered, forbidden_words):
            logger.warning("the wording of %s (%s, %s) names what the recipient keeps hidden: the built-in wording is used", event.code, channel, language)
            rendered = rendering.render_subject(builtin_subject, values), rendering.render_body(builtin_body, values)
            if _reveals(rendered, forbidden_words):
                raise RevealingText(event.code)
        return rendered


def _trigger_sending() -> None:
    from rightscare.notifications.tasks import send_due_messages

    send_due_messages.enqueue()


def queue_message(
    *,
    event: str,
    to_user: Any = None,
    to_address: str = "",
    channel: str,
    language: str | None = None,
    context: Mapping[str, Any],
    sender_name: str = "",
    not_before: datetime | None = None,
    guard: str = "",
    guard_data: Mapping[str, Any] | None = None,
    forbidden_words: Collection[str] = (),
) -> Message:
    """Put a message for ``to_user`` (staff) or ``to_address`` (anyone) in the outbox.

    Call it inside the transaction of the change that causes the message, so that the
    message exists exactly when the change does. The text is rendered now, in
    ``language`` (the default language when None), from the event's template; the
    sender task is triggered once the transaction commits. An in-app inbox message is
    delivered by being written. Unknown events or channels, and recipients the channel
    cannot reach, are programming errors (``ValueError``).

    ``sender_name`` replaces the configured sender where the channel names one (an SMS
    signature); ``not_before`` holds the message until then; ``guard`` names the check
    asked before every attempt (:mod:`rightscare.notifications.guards`) with its
    ``guard_data``; ``forbidden_words`` may not appear in the text
    (:func:`render_message`; :class:`RevealingText` when they cannot be avoided).
    """
    to_address = to_address.strip()
    sender = _checked_sender(event=event, channel=channel, to_user=to_user, to_address=to_address, guard=guard)
    language = language_or_default(language)
    subject, body = render_message(event=EVENTS[event], channel=channel, language=language, context=context, forbidden_words=forbidden_words)
    message = _message(
        sender,
        event=event,
        channel=channel,
        language=language,
        to_user=to_user,
        to_address=to_address,
        subject=subject,
        body=body,
        not_before=not_before,
        sender_name=sender_name,
        guard=guard,
        guard_data=guard_data,
    )
    message.save()
    if not sender.delivers_on_queue:
        _trigger_sending_on_commit()
    return message


def _checked_sender(*, event: str, channel: str, to_user: Any, to_address: str, guard: str) -> Any:
    """The sender of ``channel``, once the message is known to be one it can send (else ``ValueError``)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    available = senders()
    if channel not in available:
        raise ValueError(f"unknown channel {channel!r}")
    sender = available[channel]
    if to_user is None and not to_address:
        raise ValueError("a message needs a recipient")
    if to_address and not sender.reaches_addresses:
        raise ValueError(f"the {channel} channel cannot reach an address")
    if to_user is not None and not to_address and not sender.reaches_users:
        raise ValueError(f"the {channel} channel cannot reach a user")
    if guard and sender.delivers_on_queue:
        raise ValueError(f"the {channel} channel delivers when queued: nothing could check before sending")
    return sender


def _message(
    sender: Any,
    *,
    event: str,
    channel: str,
    language: str,
    to_user: Any,
    to_address: str,
    subject: str,
    body: str,
    not_before: datetime | None = None,
    sender_name: str = "",
    guard: str = "",
    guard_data: Mapping[str, Any] | None = None,
) -> Message:
    now = timezone.now()
    message = Message(
        event=event,
        channel=channel,
        language=language,
        to_user=to_user,
        to_address=to_address,
        subject=subject,
        body=body,
        next_attempt_at=max(now, not_before) if not_before is not None else now,
        sender_name=sender_name[:60],
        guard=guard,
        guard_data=dict(guard_data or {}),
    )
    if sender.delivers_on_queue:
        message.status, message.attempts, message.sent_at = MessageStatus.SENT, 1, now
    return message


def messages_to_users(*, event: str, to_users: Collection[Any], channel: str, context: Mapping[str, Any]) -> list[Message]:
    """Unsaved messages of ``event`` to each of ``to_users`` in the installation's language, for :func:`queue_messages`.

    What :func:`queue_message` would write for each of them (the same checks, the same text),
    with the text rendered once: every one of them reads the installation's language. For a
    step that tells many people at once (the deadline sweep writes a batch's messages with
    one ``INSERT``).
    """
    if not to_users:
        return []
    if any(user is None for user in to_users):
        raise ValueError("a message needs a recipient")
    sender = _checked_sender(event=event, channel=channel, to_user=next(iter(to_users)), to_address="", guard="")
    language = language_or_default(None)
    subject, body = render_message(event=EVENTS[event], channel=channel, language=language, context=context)
    return [_message(sender, event=event, channel=channel, language=language, to_user=user, to_address="", subject=subject, body=body) for user in to_users]


def queue_messages(messages: list[Message]) -> list[Message]:
    """Write messages made by :func:`messages_to_users` with one ``INSERT`` (inside the caller's transaction), as :func:`queue_message` writes one.

    The sender task is triggered once the transaction commits, when any of them waits for it.
    """
    if not messages:
        return messages
    Message.objects.bulk_create(messages)
    if any(message.status == MessageStatus.PENDING for message in messages):
        _trigger_sending_on_commit()
    return messages


def _trigger_sending_on_commit() -> None:
    """Enqueue the sender task once the transaction commits: once per transaction, not per message."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(entry[1] is _trigger_sending for entry in connection.run_on_commit):
        return
    # robust: a queue that is down must not undo the committed change; the periodic job sends it.
    transaction.on_commit(_trigger_sending, robust=True)


# --- delivery ------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one run of the sender did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    put_back: int = 0
    held: int = 0
    withdrawn: int = 0


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed attempt: exponential, capped."""
    base = float(settings.OUTBOX_RETRY_BASE_SECONDS)
    cap = float(settings.OUTBOX_RETRY_CAP_SECONDS)
    return timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def _error_text(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}"[:MAX_ERROR]


def _record_failed(message: Message, *, now: datetime, error_text: str) -> bool:
    """Mark a message failed (if this claim still holds it) and audit it; inside one transaction."""
    with transaction.atomic():
        if not leasing.finish(message, status=MessageStatus.FAILED, last_error=error_text, next_attempt_at=now):
            return False
        audit.record(
            actor=None,
            action=AuditAction.OTHER,
            event="notifications.message_failed",
            obj=message,
            changes={"channel": message.channel, "attempts": message.attempts},
            reason=_("The message could not be delivered and will not be tried again without an administrator."),
        )
    logger.warning("message %s (%s via %s) failed after %d attempt(s)", message.key, message.event, message.channel, message.attempts)
    return True


def _fail_abandoned(*, now: datetime, max_attempts: int) -> int:
    """Fail messages whose last allowed attempt was cut short (the worker died): no attempt is left."""
    count = 0
    abandoned = Message.objects.filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING], attempts__gte=max_attempts).filter(leasing.free_at(now))
    for message in leasing.claim(abandoned, owner="outbox", lease=timedelta(minutes=1), limit=100, now=now):
        count += _record_failed(message, now=now, error_text=_("The worker stopped during the last attempt; the message may or may not have been delivered."))
    return count


def _withdraw(message: Message, *, reason: str, guard: guards.Guard) -> bool:
    """Withdraw a message its guard says must not be sent (if this claim still holds it); audited."""
    with transaction.atomic():
        if not leasing.finish(message, status=MessageStatus.CANCELLED, last_error=reason[:MAX_ERROR], attempts=F("attempts") - 1):
            return False
        audit.record(
            actor=None,
            action=AuditAction.OTHER,
            event="notifications.message_withdrawn",
            obj=message,
            changes={"channel": message.channel, "guard": message.guard},
            reason=reason,
        )
        guard.withdrawn(message, reason)
    return True


def _guard_verdict(message: Message, report: DeliveryReport) -> bool:
    """Ask the message's guard; True when it may be sent now (holding and withdrawing are done here)."""
    if not message.guard:
        return True
    now = timezone.now()
    try:
        guard = guards.get_guard(message.guard)
        verdict = guard.check(message, now)
    except Exception as failure:
        # Never send what could not be checked: a failed attempt, retried with backoff.
        logger.exception("message %s: the check %r before sending failed", message.key, message.guard)
        if message.attempts >= int(settings.OUTBOX_MAX_ATTEMPTS):
            report.failed += _record_failed(message, now=now, error_text=_error_text(failure))
        elif leasing.finish(message, status=MessageStatus.PENDING, last_error=_error_text(failure), next_attempt_at=now + retry_delay(message.attempts)):
            report.retried += 1
        return False
    if verdict.withdraw_reason:
        report.withdrawn += _withdraw(message, reason=verdict.withdraw_reason, guard=guard)
        return False
    if verdict.hold_until is not None:
        # Waiting for the right moment is not an attempt.
        if leasing.finish(message, status=MessageStatus.PENDING, attempts=F("attempts") - 1, next_attempt_at=max(verdict.hold_until, now)):
            report.held += 1
        return False
    return True


def _deliver(message: Message, report: DeliveryReport) -> None:
    if not _guard_verdict(message, report):
        return
    now = timezone.now()
    max_attempts = int(settings.OUTBOX_MAX_ATTEMPTS)
    try:
        get_sender(message.channel).deliver(message)
    except KeyError:
        error: BaseException | None = PermanentDeliveryError(f"no sender for the channel {message.channel!r}")
        permanent = True
    except PermanentDeliveryError as refused:
        error, permanent = refused, True
    except Exception as failure:
        error, permanent = failure, False
    else:
        error, permanent = None, False
    if error is None:
        # A crash test kills the worker here: the gateway has the message, the row does not say so.
        barrier("notifications.send.accepted")
        # "Sent" is a fact: written whoever holds the lease now, never undone.
        Message.objects.filter(pk=message.pk).exclude(status=MessageStatus.SENT).update(
            status=MessageStatus.SENT, sent_at=timezone.now(), claimed_by="", lease_until=None, last_error=""
        )
        report.sent += 1
        return
    barrier("notifications.send.rejected")
    now = timezone.now()
    logger.warning("message %s: attempt %d via %s failed (%s)", message.key, message.attempts, message.channel, error.__class__.__name__)
    if permanent or message.attempts >= max_attempts:
        report.failed += _record_failed(message, now=now, error_text=_error_text(error))
    elif leasing.finish(message, status=MessageStatus.PENDING, last_error=_error_text(error), next_attempt_at=now + retry_delay(message.attempts)):
        report.retried += 1


def deliver_due_messages(*, worker_id: str, max_batches: int = 50) -> DeliveryReport:
    """Send every message that is due, a batch of ``OUTBOX_BATCH_SIZE`` at a time.

    Each batch is claimed with a lease of ``OUTBOX_LEASE_SECONDS`` (counting an attempt
    per message), delivered one by one outside any transaction, and each outcome
    recorded: sent, retried later with exponential backoff, or failed for good. A message
    whose lease is nearly spent before its turn is put back untouched for the next run.
    Safe to run in any number of workers at once.
    """
    report = DeliveryReport()
    lease = timedelta(seconds=float(settings.OUTBOX_LEASE_SECONDS))
    max_attempts = int(settings.OUTBOX_MAX_ATTEMPTS)
    for _batch in range(max_batches):
        now = timezone.now()
        report.failed += _fail_abandoned(now=now, max_attempts=max_attempts)
        claimed = leasing.claim(
            Message.objects.due(now).filter(attempts__lt=max_attempts),
            owner=worker_id,
            lease=lease,
            limit=int(settings.OUTBOX_BATCH_SIZE),
            order_by=("next_attempt_at", "id"),
            updates={"status": MessageStatus.SENDING, "attempts": F("attempts") + 1},
            now=now,
        )
        if not claimed:
            break
        for message in claimed:
            if not leasing.still_held(message, margin=lease / 4):
                # Too little lease left to be sure of finishing before another worker may take it.
                if leasing.finish(message, status=MessageStatus.PENDING, attempts=F("attempts") - 1):
                    report.put_back += 1
                continue
            _deliver(message, report)
    return report


# --- administrators: failed messages and templates ---------------------------------------------


def retry_message(*, by: Any, message: Message) -> Message:
    """Send a failed message again, from a fresh count of attempts; audited."""
    if not may_manage_notifications(by):
        raise PermissionDenied
    with transaction.atomic():
        changed = Message.objects.filter(pk=message.pk, status=MessageStatus.FAILED).update(
            status=MessageStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_by="", lease_until=None
        )
        if not changed:
            raise ValidationError(_("Only a failed message can be sent again."))
        audit.record(actor=by, action=AuditAction.UPDATE, event="notifications.retry_message", obj=message, changes={"status": ["failed", "pending"]})
        _trigger_sending_on_commit()
    message.refresh_from_db()
    return message


def _check_template(*, event: str, channel: str, language: str, subject: str, body: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if event not in EVENTS:
        errors["event"] = [_("Unknown event.")]
    if channel and channel not in senders():
        errors["channel"] = [_("Unknown channel.")]
    if language not in {code for code, _name in settings.LANGUAGES}:
        errors["language"] = [_("Unknown language.")]
    for name, text in (("subject", subject), ("body", body)):
        if not text.strip():
            errors[name] = [_("This field is required.")]
            continue
        try:
            rendering.compile_template(text)
        except rendering.TemplateError as error:
            errors[name] = [_("The template cannot be used: %(reason)s") % {"reason": error}]
    return errors


def save_template(*, by: Any, template: MessageTemplate | None, event: str, channel: str, language: str, subject: str, body: str) -> MessageTemplate:
    """Create or change an administrator's wording of an event's message; audited.

    The templates are compiled in the sandbox first: a tag or filter it does not offer
    (``load``, ``include``…) is refused with the reason.
    """
    if not may_manage_notifications(by):
        raise PermissionDenied
    channel, language = channel.strip(), language.strip()
    errors = _check_template(event=event, channel=channel, language=language, subject=subject, body=body)
    twins = MessageTemplate.objects.filter(event=event, channel=channel, language=language)
    if template is not None:
        twins = twins.exclude(pk=template.pk)
    if not errors and twins.exists():
        errors["language"] = [_("This event already has a template for this channel and language.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = (
            {}
            if template is None
            else {"event": template.event, "channel": template.channel, "language": template.language, "subject": template.subject, "body": template.body}
        )
        template = template or MessageTemplate()
        template.event, template.channel, template.language = event, channel, language
        template.subject, template.body, template.updated_by_id = subject.strip(), body.strip(), by.pk
        template.save()
        after = {"event": event, "channel": channel, "language": language, "subject": template.subject, "body": template.body}
        audit.record(
            actor=by,
            action=AuditAction.UPDATE if before else AuditAction.CREATE,
            event="notifications.save_template",
            obj=template,
            changes=audit.diff(before, after),
        )
    return template


def delete_template(*, by: Any, template: MessageTemplate) -> None:
    """Remove an administrator's wording: the built-in one applies again; audited."""
    if not may_manage_notifications(by):
        raise PermissionDenied
    with transaction.atomic():
        audit.record(actor=by, action=AuditAction.DELETE, event="notifications.delete_template", obj=template)
        template.delete()


# --- the inbox -------------------------------------------------------------------------------


def mark_read(*, by: Any, message: Message) -> Message:
    """Mark one of my inbox messages read (again is harmless)."""
    if message.to_user_id != by.pk or message.channel != "inbox":
        raise PermissionDenied
    if message.read_at is None:
        message.read_at = timezone.now()
        Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=message.read_at)
    return message


def mark_all_read(*, by: Any) -> int:
    """Mark every unread message of my inbox read; returns how many."""
    return Message.objects.inbox_of(by).unread().update(read_at=timezone.now())
