"""What the petitioner sent herself, and the tracking codes she follows it with (PRODUCT.md C5).

* ``Submission`` holds the structured details of a self-submitted contact (web form, app,
  mini-program, Open311, WeChat): who she is (or that she is anonymous), where, which
  category, and how and when it is safe to contact her. The contact itself
  (``intake.Contact``, channel and what happened) waits in the intake queue.
* ``TrackingCode`` is issued at submission or at intake; it points at the contact and,
  once there is one, at the case, and it follows the case through merges. Neither the
  code nor the PIN is stored: only an HMAC of the code and a hash of the PIN.
* ``SubmissionFile`` is a file sent with the submission, cleaned like a case's files
  and stored encrypted; confirming the submission turns it into a case attachment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import EncryptedTextField
from rightscare.core.models import PublicIdModel, TimeStampedModel


class Submission(TimeStampedModel):
    """The details of a self-submitted request beside its contact."""

    contact = models.OneToOneField("intake.Contact", on_delete=models.PROTECT, related_name="submission")
    anonymous = models.BooleanField(_("anonymous"), default=False)
    name = EncryptedTextField(_("name"))
    category = models.ForeignKey("cases.Category", verbose_name=_("category"), on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey("org.Region", verbose_name=_("where"), on_delete=models.PROTECT, related_name="+")
    address = EncryptedTextField(_("address"))
    may_call = models.BooleanField(_("safe to call"), default=True)
    may_text = models.BooleanField(_("safe to send text messages"), default=False)
    safe_from = models.TimeField(_("safe from"), null=True, blank=True)
    safe_until = models.TimeField(_("safe until"), null=True, blank=True)
    # The language she wrote in: replies and notifications use it.
    language = models.CharField(_("language"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")

    def __str__(self) -> str:
        return f"{self.contact_id}"


class TrackingCode(TimeStampedModel):
    """The code (and PIN) a petitioner follows her request with; neither is stored in the clear."""

    code_digest = models.CharField(max_length=80, unique=True, editable=False)
    pin_hash = models.CharField(max_length=255, editable=False)
    contact = models.ForeignKey("intake.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="tracking_codes")
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="tracking_codes")
    channel = models.CharField(_("channel"), max_length=16)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("tracking code")
        verbose_name_plural = _("tracking codes")
        constraints = [models.CheckConstraint(condition=models.Q(contact__isnull=False) | models.Q(case__isnull=False), name="tracking_code_has_target")]

    def __str__(self) -> str:
        return f"tracking code {self.pk}"


class SubmissionFile(TimeStampedModel, PublicIdModel):
    """A file sent with a submission: cleaned (type sniffed, photo metadata stripped), encrypted."""

    contact = models.ForeignKey("intake.Contact", on_delete=models.PROTECT, related_name="submission_files")
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=255, unique=True)
    # The case attachment it became when the submission was confirmed (same stored file).
    attachment = models.OneToOneField("cases.Attachment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("submitted file")
        verbose_name_plural = _("submitted files")

    def __str__(self) -> str:
        return self.name


class PublicSubmissionKey(models.Model):
    """A submission key claimed by a public form or channel (see ``services.submit_request``).

    Like ``core.IdempotencyRecord`` but without a user: the key is random per rendered form
    (or chosen by the channel's client), scoped by channel.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=100)
    contact = models.ForeignKey("intake.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("public submission key")
        verbose_name_plural = _("public submission keys")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="public_submission_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


def settings_trusted_channels() -> frozenset[str]:
    """Channels whose submissions become cases at once (``RIGHTSCARE_TRUSTED_CHANNELS``)."""
    return frozenset(getattr(settings, "PUBLIC_TRUSTED_CHANNELS", ()))
