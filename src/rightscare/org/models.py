"""Regions, units, users, memberships and API tokens (PRODUCT.md C1).

Who may see what is not decided here but in :mod:`rightscare.org.access`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import BlindIndexField, EncryptedTextField
from rightscare.core.models import TimeStampedModel
from rightscare.org.divisions import CodeScheme, RegionLevel
from rightscare.org.roles import Role


class Region(TimeStampedModel):
    """An administrative area in the tree city → district → street → community (and deeper)."""

    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    level = models.CharField(_("level"), max_length=16, choices=RegionLevel.choices)
    code_scheme = models.CharField(_("code scheme"), max_length=16, choices=CodeScheme.choices, default=CodeScheme.CN_STATS)
    code = models.CharField(_("official code"), max_length=32, blank=True)
    parent = models.ForeignKey("self", verbose_name=_("parent region"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # "/1/5/23/": the ids from the root down, so a subtree is one prefix match.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["code_scheme", "code"], condition=~Q(code=""), name="region_code_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """The name in the active language (Chinese names stay when no English is known)."""
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name

    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this region."""
        return [int(part) for part in self.path.strip("/").split("/") if part]


class UnitFamily(models.TextChoices):
    """The families of unit kinds; access rules depend on the family, not the kind."""

    FEDERATION = "federation", _("Women's federation")
    DEPARTMENT = "department", _("Government department")
    PROVIDER = "provider", _("Service provider")
    INSTITUTION = "institution", _("Institution")
    COMMITTEE = "committee", _("Neighbourhood committee")


class UnitKind(TimeStampedModel):
    """A kind of unit (district federation, public security, legal-aid centre…): data, not code."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    family = models.CharField(_("family"), max_length=16, choices=UnitFamily.choices)

    class Meta:
        verbose_name = _("unit kind")
        verbose_name_plural = _("unit kinds")
        ordering = ["family", "code"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class Unit(TimeStampedModel):
    """An organisation attached to a region, optionally under a parent unit of the same line."""

    name = models.CharField(_("name"), max_length=150)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    kind = models.ForeignKey(UnitKind, verbose_name=_("kind"), on_delete=models.PROTECT, related_name="units")
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="units")
    parent = models.ForeignKey("self", verbose_name=_("parent unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    duty_phone = models.CharField(_("duty phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.name_en and (get_language() or "").startswith("en"):
            return self.name_en
        return self.name


class User(AbstractUser):
    """A member of staff or a volunteer. The public never has an account."""

    full_name = models.CharField(_("full name"), max_length=100, blank=True)
    # Protected: stored encrypted, found only through the blind index of the normalised value.
    phone = EncryptedTextField(_("mobile phone"))
    phone_index = BlindIndexField(source="phone", kind="phone")
    id_number = EncryptedTextField(_("ID number"))
    id_number_index = BlindIndexField(source="id_number", kind="id_number")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.full_name or self.username

    def get_full_name(self) -> str:
        return self.full_name or self.username

    def get_short_name(self) -> str:
        return self.full_name or self.username


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        """Memberships that grant their role now."""
        return self.filter(revoked_at__isnull=True)


class Membership(TimeStampedModel):
    """One role held by one user in one unit. Revoked memberships stay as history."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships")
    unit = models.ForeignKey(Unit, verbose_name=_("unit"), on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["unit__path", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], condition=Q(revoked_at__isnull=True), name="membership_active_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.unit} · {self.get_role_display()}"


def token_digest(token: str) -> str:
    """The keyed SHA-256 of an API token: fast to check on every request, useless if stolen."""
    key = hashlib.sha256(b"rightscare.api-token:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self, at: datetime | None = None) -> ApiTokenQuerySet:
        """Tokens neither revoked nor expired at ``at`` (now by default)."""
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=at)


class ApiToken(models.Model):
    """A token a program presents as ``Authorization: Bearer …``; only its digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    def state_label(self) -> Any:
        if self.revoked_at is not None:
            return _("revoked")
        if self.expires_at <= timezone.now():
            return _("expired")
        return _("active")


# The working calendars live in their own module; importing them here registers them with Django.
from rightscare.org.calendar_models import CalendarException, DayKind, WorkingCalendar  # noqa: E402, F401
