"""Contacts: every call, message, visit, letter or report, each one interaction (PRODUCT.md C2)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import BlindIndexField, EncryptedTextField
from rightscare.core.models import PublicIdModel, TimeStampedModel


class Channel(models.TextChoices):
    HOTLINE = "hotline", _("12338 hotline")
    PLATFORM_12345 = "platform_12345", _("Transfer from the 12345 platform")
    WECHAT = "wechat", _("WeChat official account")
    MINI_PROGRAM = "mini_program", _("Mini-program")
    APP = "app", _("App")
    WEB_FORM = "web_form", _("Web form")
    WALK_IN = "walk_in", _("Walk-in at a service centre")
    LETTER = "letter", _("Letter")
    REFERRAL = "referral", _("Institution referral or mandatory report")
    API = "api", _("API")


class Outcome(models.TextChoices):
    NEW_CASE = "new_case", _("New case registered")
    ATTACHED = "attached", _("Added to an existing case")
    ANSWERED = "answered", _("Answered on the spot")
    NO_ACTION = "no_action", _("No action needed")


class ReviewState(models.TextChoices):
    """Whether a contact that came in without an operator (a web form, an app) has been checked."""

    PENDING = "pending", _("Waiting to be checked")
    CONFIRMED = "confirmed", _("Confirmed")
    REJECTED = "rejected", _("Not accepted")


class Contact(TimeStampedModel, PublicIdModel):
    """One interaction with someone who asks for help; contacts roll up into a case."""

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    occurred_at = models.DateTimeField(_("time"), default=timezone.now)
    # operator and unit lead contact_operator_recent and contact_unit_recent (Meta.indexes).
    # Empty for what the petitioner sent herself (web form, app, mini-program): nobody recorded it.
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("operator"), null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    unit = models.ForeignKey("org.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+", db_index=False)
    caller = models.ForeignKey("registry.Person", verbose_name=_("caller"), null=True, blank=True, on_delete=models.PROTECT, related_name="contacts")
    caller_phone = EncryptedTextField(_("caller's number"))
    caller_phone_index = BlindIndexField(source="caller_phone", kind="phone")
    content = EncryptedTextField(_("what was said"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.NEW_CASE)
    # case leads contact_case_first (Meta.indexes).
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), null=True, blank=True, on_delete=models.PROTECT, related_name="contacts", db_index=False)
    external_ticket_number = models.CharField(_("12345 ticket number"), max_length=64, blank=True)
    external_deadline = models.DateTimeField(_("12345 deadline"), null=True, blank=True)
    # Self-submitted contacts wait in the intake queue until an operator confirms or rejects them;
    # what an operator recorded herself is confirmed from the start.
    review_state = models.CharField(_("review"), max_length=16, choices=ReviewState.choices, default=ReviewState.CONFIRMED)
    review_reason = models.TextField(_("reason for not accepting"), blank=True)
    reviewed_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("checked by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["operator", "occurred_at"], name="contact_operator_recent"),
            models.Index(fields=["unit", "occurred_at"], name="contact_unit_recent"),
            # The intake queue: only the few contacts still waiting are indexed.
            models.Index(fields=["unit", "occurred_at"], condition=models.Q(review_state="pending"), name="contact_pending_review"),
            # A case's contacts in order, with their channel: the dashboard's "channel of the first
            # contact" is one index-only probe per case (no sort, no table read).
            models.Index(fields=["case", "occurred_at", "id"], include=["channel"], name="contact_case_first"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.occurred_at:%Y-%m-%d %H:%M}"
