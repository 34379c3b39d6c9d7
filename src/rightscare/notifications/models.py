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
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import EncryptedTextField
from rightscare.core.models import LeasedModel


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENDING = "sending", _("being sent")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


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
