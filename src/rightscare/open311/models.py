"""Channel keys (one per mini-program, app or other Open311 client) and what came in through them.

* ``ChannelKey``: the key a channel's backend sends as ``api_key``. Only a keyed digest is
  stored (as for staff API tokens, ``org.models.token_digest``); the key itself is shown
  once, when it is created, and the prefix identifies it afterwards.
* ``ChannelRequest``: a request submitted through a key, so that the key's status-update
  feed reports the requests of that key and of no other. It keeps the tracking code the
  client was given, encrypted (the feed names requests by it); the PIN is never kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import EncryptedTextField
from rightscare.intake.models import Channel

#: The channels a key may stand for: the backends of the official account, the mini-program,
#: the app, the 12345 platform and any other program (``api``).
KEY_CHANNELS = (Channel.MINI_PROGRAM, Channel.APP, Channel.API, Channel.WECHAT, Channel.PLATFORM_12345)

#: Requests per hour a new key may make (each key has its own, editable by administrators).
DEFAULT_RATE_LIMIT = 600


class ChannelKeyQuerySet(models.QuerySet["ChannelKey"]):
    def usable(self) -> ChannelKeyQuerySet:
        """Keys not revoked."""
        return self.filter(revoked_at__isnull=True)


class ChannelKey(models.Model):
    """The key a channel's backend presents as Open311 ``api_key``; only its digest is stored."""

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=16, choices=[(c.value, c.label) for c in KEY_CHANNELS])
    trusted = models.BooleanField(_("trusted"), default=False, help_text=_("Its submissions become cases at once, without an operator's check."))
    rate_limit = models.PositiveIntegerField(_("requests per hour"), default=DEFAULT_RATE_LIMIT)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ChannelKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("channel key")
        verbose_name_plural = _("channel keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None


class ChannelRequest(models.Model):
    """A request submitted through a channel key (the contact it became, and its tracking code)."""

    key = models.ForeignKey(ChannelKey, on_delete=models.PROTECT, related_name="requests")
    contact = models.OneToOneField("intake.Contact", on_delete=models.PROTECT, related_name="+")
    # The code in its grouped form, encrypted: the key's feed names the request by it.
    code = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("channel request")
        verbose_name_plural = _("channel requests")

    def __str__(self) -> str:
        return f"{self.key_id}:{self.contact_id}"
