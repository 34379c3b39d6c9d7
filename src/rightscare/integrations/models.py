"""Channel adapters (PRODUCT.md C15): hotline calls from the telephony system, and what we send
to other systems — the 12345 platform's report-back and outbound webhooks.

A :class:`CallRecord` is one telephone call as the CTI reported it; :class:`CtiEvent` keeps
each accepted event's id and signature, unique, so that a replayed request is ignored.
A :class:`Delivery` is one HTTP notification to another system, written in the transaction
of the change it reports and sent later, at least once (see ``services.deliver_due``);
every try leaves a :class:`DeliveryAttempt` (the delivery log).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import EncryptedTextField
from rightscare.core.models import LeasedModel, TimeStampedModel

# --- the hotline (CTI) ---------------------------------------------------------------------


class OperatorExtension(TimeStampedModel):
    """Which operator answers at a telephone extension: her pop-up shows the calls ringing there."""

    extension = models.CharField(_("extension"), max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("operator"), on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("operator extension")
        verbose_name_plural = _("operator extensions")
        ordering = ["extension"]

    def __str__(self) -> str:
        return self.extension


class CallState(models.TextChoices):
    RINGING = "ringing", _("Ringing")
    ANSWERED = "answered", _("Answered")
    ENDED = "ended", _("Ended")


#: A call only moves forward: an ``answered`` that arrives after ``ended`` does not reopen it.
CALL_STATE_ORDER = {CallState.RINGING: 0, CallState.ANSWERED: 1, CallState.ENDED: 2}


class CallRecord(TimeStampedModel):
    """One call to the hotline, as the telephony system reported it, and the contact it became."""

    call_id = models.CharField(_("call id"), max_length=100, unique=True)
    extension = models.CharField(_("extension"), max_length=32, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The caller's number is personal data (a victim's phone): encrypted like every other number.
    caller_phone = EncryptedTextField(_("caller's number"))
    state = models.CharField(_("state"), max_length=16, choices=CallState.choices, default=CallState.RINGING)
    ringing_at = models.DateTimeField(_("ringing at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    recording_url = models.URLField(_("recording"), max_length=500, blank=True)
    contact = models.ForeignKey("intake.Contact", verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["operator", "state", "updated_at"], name="call_operator_state")]

    def __str__(self) -> str:
        return self.call_id

    @property
    def duration(self) -> timedelta | None:
        """How long the conversation lasted (answered to ended); None before it ended or when never answered."""
        if self.answered_at is None or self.ended_at is None:
            return None
        return max(self.ended_at - self.answered_at, timedelta(0))


class CtiEvent(models.Model):
    """An accepted CTI event: its id and its signature are each accepted once (replays are ignored)."""

    event_id = models.CharField(_("event id"), max_length=100, unique=True)
    signature = models.CharField(_("signature"), max_length=64, unique=True)
    kind = models.CharField(_("event"), max_length=16, choices=CallState.choices)
    call = models.ForeignKey(CallRecord, verbose_name=_("call"), on_delete=models.CASCADE, related_name="events")
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("CTI event")
        verbose_name_plural = _("CTI events")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return self.event_id


# --- outbound: webhooks and the 12345 report-back -------------------------------------------------


class WebhookEvent(models.TextChoices):
    CASE_CREATED = "case.created", _("Case created")
    CASE_STATUS_CHANGED = "case.status_changed", _("Case status changed")


class WebhookSubscription(TimeStampedModel):
    """Another system that wants to hear of case events, at ``url``, signed with ``secret``.

    ``region`` limits it to the cases of one region's subtree (None: every case). The
    payload is the same for every subscriber and never holds personal data (see
    ``services.case_payload``).
    """

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("address (URL)"), max_length=500)
    secret = EncryptedTextField(_("signing secret"))
    events = models.JSONField(_("events"), default=list)
    region = models.ForeignKey("org.Region", verbose_name=_("only cases in"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(_("active"), default=True)
    # A plain id: the subscription outlives any account.
    created_by_id = models.BigIntegerField(_("created by"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DeliveryKind(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    REPORT_12345 = "report_12345", _("12345 report-back")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENDING = "sending", _("being sent")
    DELIVERED = "delivered", _("delivered")
    FAILED = "failed", _("failed")


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def due(self, at: object) -> DeliveryQuerySet:
        """Deliveries waiting to be sent whose next attempt is due at ``at`` (leases are checked by the claim)."""
        return self.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING], next_attempt_at__lte=at)


class Delivery(LeasedModel):
    """One notification to another system, sent at least once; ``idempotency_key`` makes it one logical delivery.

    A webhook's key is ``webhook:<subscription>:<event key>``; a report-back's is
    ``12345:<ticket number>:<status>``: the same result for the same ticket is
    queued once however often the case passes through that status.
    """

    key = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=DeliveryKind.choices)
    event = models.CharField(_("event"), max_length=64)
    subscription = models.ForeignKey(
        WebhookSubscription, verbose_name=_("subscription"), null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact = models.ForeignKey("intake.Contact", verbose_name=_("contact"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status__in=["pending", "sending"]), name="delivery_due"),
            models.Index(fields=["status", "created_at"], name="delivery_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind="report_12345") | Q(subscription__isnull=False), name="delivery_webhook_has_subscription"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.event} · {self.key}"


class DeliveryAttempt(models.Model):
    """One try of a delivery: when, the HTTP status the other side answered (if any), and the error."""

    delivery = models.ForeignKey(Delivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField(_("time"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} · {self.at:%Y-%m-%d %H:%M:%S} · {self.status_code or '-'}"
