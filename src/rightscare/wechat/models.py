"""What the WeChat official account's callback received (docs/operations/wechat.md).

``InboundMessage`` is the log of the callback: one row per message or event WeChat
pushed, whatever the number of deliveries. WeChat retries a message it got no answer
to within 5 seconds (three times, with the same ``MsgId``); the unique constraints make
sure each is handled once, and a repeat gets the reply stored with the first.

Events carry no ``MsgId``: they are told apart by sender, ``CreateTime`` and event
name. The sender's openid and whatever holds content (the text of a text message and
the reply) are encrypted; the openid is found through its blind index.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import BlindIndexField, EncryptedTextField


class MessageKind(models.TextChoices):
    TEXT = "text", _("text (a request)")
    QUERY = "query", _("status query")
    SUBSCRIBE = "subscribe", _("followed the account")
    UNSUBSCRIBE = "unsubscribe", _("unfollowed the account")
    EVENT = "event", _("other event")
    OTHER = "other", _("picture, voice, location or other")


class Processing(models.TextChoices):
    #: Nothing is left to do after the reply.
    NONE = "none", _("nothing to do")
    #: A text waiting for the worker to record it as a contact.
    PENDING = "pending", _("waiting for the worker")
    DONE = "done", _("recorded as a contact")
    #: The worker could not record it (see the log); it is not retried on its own.
    FAILED = "failed", _("could not be recorded")


class InboundMessage(models.Model):
    """One message or event pushed to the callback (stored once, however often delivered)."""

    # WeChat's MsgId (a 64-bit number, kept as text); empty for events.
    msg_id = models.CharField(_("WeChat message id"), max_length=32, blank=True)
    sender = EncryptedTextField(_("sender's openid"))
    sender_index = BlindIndexField(source="sender", kind="wechat_openid")
    # CreateTime as WeChat sent it (seconds since 1970): with the sender and the event, the
    # identity of an event.
    create_time = models.BigIntegerField(_("sent at (WeChat time)"))
    msg_type = models.CharField(_("message type"), max_length=32)
    event = models.CharField(_("event"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=MessageKind.choices)
    # The text of a text message (what goes to the intake queue); nothing else is kept:
    # no pictures, voice, locations or media ids.
    content = EncryptedTextField(_("text"))
    # The reply given to the first delivery and repeated to the others.
    reply = EncryptedTextField(_("reply"))
    safe_mode = models.BooleanField(_("received encrypted"), default=False)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=1)
    processing = models.CharField(_("processing"), max_length=16, choices=Processing.choices, default=Processing.NONE)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    contact = models.ForeignKey("intake.Contact", verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("WeChat message")
        verbose_name_plural = _("WeChat messages")
        constraints = [
            models.UniqueConstraint(fields=["msg_id"], condition=~models.Q(msg_id=""), name="wechat_message_msg_id_unique"),
            models.UniqueConstraint(fields=["sender_index", "create_time", "event"], condition=models.Q(msg_id=""), name="wechat_event_sender_time_unique"),
        ]
        indexes = [models.Index(fields=["processing"], condition=models.Q(processing="pending"), name="wechat_message_pending")]

    def __str__(self) -> str:
        # Never the openid or the text.
        return f"WeChat {self.msg_type} {self.pk}"
