"""The outbox of messages and the templates they are written from (PRODUCT.md C5, C13).

A :class:`Message` is written in the same transaction as the change that causes it, so
it exists exactly when the change does; the sender task delivers it later (at least
once, see :mod:`rightscare.notifications.services`). Addresses of the public, the text
and any error a gateway returned are encrypted at rest: they can hold a petitioner's
phone number or e-mail address.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from rightscare.core import identity
from rightscare.core.fields import BlindIndexField, EncryptedTextField
from rightscare.core.models import LeasedModel


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENDING = "sending", _("being sent")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("withdrawn before sending")


class MessageQuerySet(models.QuerySet["Message"]):
    def due(self, at: Any) -> MessageQuerySet:
        """Messages waiting to be sent whose next attempt is due at ``at`` (leases are checked by the claim)."""
        return self.filter(status__in=[MessageStatus.PENDING, MessageStatus.SENDING], next_attempt_at__lte=at)

    def inbox_of(self, user: Any) -> MessageQuerySet:
        """The in-app messages addressed to ``user``, unread first, newest first."""
        return self.filter(to_user=user, channel="inbox").order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")

    def unread(self) -> MessageQuerySet:
        """Inbox messages their recipient has not marked read."""
        return self.filter(read_at__isnull=True)

    def failed(self) -> MessageQuerySet:
        """Messages that will not be tried again without an administrator's retry."""
        return self.filter(status=MessageStatus.FAILED)


class Message(LeasedModel):
    """One message to one recipient on one channel, and its delivery state."""

    key = models.UUIDField(
        _("unique key"), default=uuid.uuid4, unique=True, editable=False, help_text=_("Passed to gateways that accept one, so that they drop a duplicate.")
    )
    event = models.CharField(_("event"), max_length=64)
    channel = models.CharField(_("channel"), max_length=32)
    language = models.CharField(_("language"), max_length=16)
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"), null=True, blank=True, on_delete=models.CASCADE, related_name="messages")
    to_address = EncryptedTextField(_("address"))
    subject = EncryptedTextField(_("subject"))
    body = EncryptedTextField(_("text"))
    status = models.CharField(_("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    last_error = EncryptedTextField(_("last error"))
    # How the sender is named where the channel names one (an SMS signature); empty: the configured one.
    sender_name = models.CharField(_("sender name"), max_length=60, blank=True)
    # A check run before every attempt (``rightscare.notifications.guards``): it may hold the
    # message (outside her safe hours) or withdraw it (no longer safe to send). Plain ids in ``guard_data``.
    guard = models.CharField(_("check before sending"), max_length=32, blank=True)
    guard_data = models.JSONField(default=dict, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status__in=["pending", "sending"]), name="message_due"),
            models.Index(fields=["to_user", "channel", "read_at"], name="message_inbox"),
            models.Index(fields=["status", "created_at"], name="message_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(to_user__isnull=False) | ~Q(to_address=""), name="message_has_recipient"),
        ]

    def __str__(self) -> str:
        # Never the address: it may be a member of the public's phone number.
        return f"{self.event} · {self.channel} · {self.key}"


class MessageTemplate(models.Model):
    """An administrator's wording of an event's message, replacing the built-in one.

    ``channel`` empty means every channel; a template for the exact channel wins.
    ``subject`` and ``body`` use Django's template syntax, rendered in a sandbox
    (:mod:`rightscare.notifications.rendering`) with only the event's documented values.
    """

    event = models.CharField(_("event"), max_length=64)
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    language = models.CharField(_("language"), max_length=16)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("text"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # A plain id: the template outlives any account.
    updated_by_id = models.BigIntegerField(_("updated by"), null=True, blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["event", "channel", "language"]
        constraints = [models.UniqueConstraint(fields=["event", "channel", "language"], name="message_template_unique")]

    def __str__(self) -> str:
        return f"{self.event} · {self.channel or '*'} · {self.language}"


# --- the petitioner's channels and what she was told ------------------------------------------


def normalise_openid(raw: str) -> str:
    """An openid as WeChat sends it (letters, digits, ``-`` and ``_``), surrounding space removed."""
    openid = raw.strip()
    if not openid or len(openid) > 128 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in openid):
        raise ValidationError(_("This is not a WeChat openid."), code="invalid_openid")
    return openid


# The blind index of openids is recomputed by the key rotation like every other.
identity.NORMALISERS.setdefault("wechat_openid", normalise_openid)


class WeChatFollower(models.Model):
    """Someone who follows the official account: her openid and whether she still follows.

    A row may exist before anyone knows whose openid it is (she followed the account
    but has not linked it to her case yet); template messages go only to a person's
    row that is ``following``.
    """

    person = models.OneToOneField("registry.Person", verbose_name=_("person"), null=True, blank=True, on_delete=models.CASCADE, related_name="wechat_follower")
    openid = EncryptedTextField(_("WeChat openid"))
    openid_index = BlindIndexField(source="openid", kind="wechat_openid")
    following = models.BooleanField(_("follows the official account"), default=True)
    changed_at = models.DateTimeField(_("followed or unfollowed at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("WeChat follower")
        verbose_name_plural = _("WeChat followers")

    def __str__(self) -> str:
        # Never the openid.
        return f"WeChat follower {self.pk}"


class NoticeOutcome(models.TextChoices):
    QUEUED = "queued", _("in the outbox")
    HELD = "held", _("held until her safe hours")
    NOT_SENT = "not_sent", _("not sent")
    WITHDRAWN = "withdrawn", _("withdrawn before sending")


class NoticeReason(models.TextChoices):
    NO_PETITIONER = "no_petitioner", _("The case has no petitioner on file.")
    RESPONDENT = "respondent", _("The person to tell is a respondent in this case.")
    CHILD = "child", _("The petitioner is a child under 14 whose guardian may not be told (none on file, or the alleged abuser): a handler decides.")
    NO_INSTRUCTIONS = "no_instructions", _("No safe-contact instructions are recorded for this sensitive case.")
    TEXT_NOT_ALLOWED = "text_not_allowed", _("She said written messages are not safe.")
    NO_ADDRESS = "no_address", _("No phone that is safe to text, and she does not follow the official account.")
    REVEALING = "revealing", _("The wording would reveal what she asked to keep hidden.")
    CHANGED = "changed", _("Her contact details or safe-contact instructions changed before it was sent.")


class PetitionerNotice(models.Model):
    """What the petitioner (or her guardian) was told of one stage of her case, or why nobody was.

    One row per case, event and round (a round is a resolution of the case: a case
    resolved again after rework gets a new one). Handling units read these rows on
    the case; the message itself is in the outbox.
    """

    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="petitioner_notices")
    event = models.CharField(_("event"), max_length=64)
    round = models.PositiveSmallIntegerField(_("round"), default=0)
    recipient = models.ForeignKey("registry.Person", verbose_name=_("recipient"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=16, choices=NoticeOutcome.choices)
    reason = models.CharField(_("reason"), max_length=32, choices=NoticeReason.choices, blank=True)
    channel = models.CharField(_("channel"), max_length=32, blank=True)
    message = models.ForeignKey(Message, verbose_name=_("message"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notice to the petitioner")
        verbose_name_plural = _("notices to the petitioner")
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "event", "round"], name="petitioner_notice_once")]

    def __str__(self) -> str:
        return f"{self.case_id} · {self.event} · {self.outcome}"
