"""People (PRODUCT.md C7, C13): identity, guardianship and how it is safe to contact them.

This is the minimal person of the intake issue; the registry issue adds households,
relationships, difficulty tags and linkage.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rightscare.core.fields import BlindIndexField, EncryptedTextField
from rightscare.core.models import PublicIdModel, TimeStampedModel

#: Ages that change what the law lets a child decide or be asked.
AGE_OF_CONSENT_TO_CONTACT = 14
AGE_OF_LIMITED_CAPACITY = 16
AGE_OF_MAJORITY = 18


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    UNKNOWN = "unknown", _("Unknown")


class Person(TimeStampedModel, PublicIdModel):
    """Someone a case is about: a petitioner, a victim, a respondent, a reporter or a guardian."""

    name = models.CharField(_("name"), max_length=100, blank=True)
    sex = models.CharField(_("sex"), max_length=8, choices=Sex.choices, default=Sex.UNKNOWN)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    approximate_age = models.PositiveSmallIntegerField(_("approximate age"), null=True, blank=True)
    age_recorded_on = models.DateField(_("age recorded on"), null=True, blank=True)
    id_number = EncryptedTextField(_("ID number"))
    id_number_index = BlindIndexField(source="id_number", kind="id_number")
    guardian = models.ForeignKey("self", verbose_name=_("guardian"), null=True, blank=True, on_delete=models.SET_NULL, related_name="wards")
    guardian_is_alleged_abuser = models.BooleanField(_("the guardian is the alleged abuser"), default=False)
    address_region = models.ForeignKey("org.Region", verbose_name=_("address region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    address = EncryptedTextField(_("address"))
    address_confidential = models.BooleanField(_("address is confidential"), default=False)
    # The unit that first recorded her; the registry issue widens who may see a person.
    recorded_by_unit = models.ForeignKey("org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [
            # The name search matches a name's beginning (LIKE '王秀%'): under a non-C collation
            # (C.UTF-8) only a pattern operator class lets a b-tree answer it. It answers equality
            # too, and nothing sorts people by name, so it replaces the plain index.
            models.Index(fields=["name"], name="person_name_prefix", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return self.name or str(_("(name unknown)"))

    def age_on(self, day: datetime.date | None = None) -> int | None:
        """Her age in whole years on ``day`` (today by default), exact or estimated."""
        day = day or timezone.localdate()
        if self.date_of_birth is not None:
            born = self.date_of_birth
            return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        if self.approximate_age is not None:
            recorded = self.age_recorded_on or self.created_at.date()
            return self.approximate_age + max(0, (day - recorded).days // 365)
        return None

    def is_child_under(self, years: int, day: datetime.date | None = None) -> bool:
        age = self.age_on(day)
        return age is not None and age < years

    def contact_person(self) -> Person | None:
        """Whom to notify, ask to rate or ask for consent: a child under 14 is never asked
        herself; her guardian is, unless the guardian is the alleged abuser (then nobody
        automatically: a handler decides)."""
        if not self.is_child_under(AGE_OF_CONSENT_TO_CONTACT):
            return self
        if self.guardian is not None and not self.guardian_is_alleged_abuser:
            return self.guardian
        return None


class PersonPhone(models.Model):
    """A phone number of a person, stored encrypted and found by its blind index."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones")
    phone = EncryptedTextField(_("phone"))
    phone_index = BlindIndexField(source="phone", kind="phone")
    shared = models.BooleanField(_("shared phone"), default=False, help_text=_("Others (for example the abuser) may answer or read it."))
    # Set when the person is a respondent: calls from this number must reveal nothing of the victim's cases.
    respondent_flag = models.BooleanField(_("respondent's phone"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")

    def __str__(self) -> str:
        return f"{self.person} · ****{self.phone[-4:]}" if self.phone else str(self.person)


class SafeContact(TimeStampedModel):
    """How and when it is safe to contact a person; obeyed by every notification and call-back."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="safe_contact")
    may_call = models.BooleanField(_("safe to call"), default=True)
    may_text = models.BooleanField(_("safe to send text messages"), default=True)
    may_leave_voicemail = models.BooleanField(_("safe to leave voicemail"), default=False)
    safe_from = models.TimeField(_("safe from"), null=True, blank=True)
    safe_until = models.TimeField(_("safe until"), null=True, blank=True)
    code_word = EncryptedTextField(_("code word"))
    neutral_sender = models.CharField(
        _("neutral sender name"), max_length=60, blank=True, help_text=_('Shown instead of the organisation\'s name, e.g. "Community service".')
    )

    class Meta:
        verbose_name = _("safe-contact instructions")
        verbose_name_plural = _("safe-contact instructions")

    def __str__(self) -> str:
        return f"{self.person}"

    def allows_at(self, moment: datetime.datetime) -> bool:
        """Whether ``moment`` (aware) falls in her safe hours (always, when none are set)."""
        if self.safe_from is None or self.safe_until is None:
            return True
        local = timezone.localtime(moment).time()
        if self.safe_from <= self.safe_until:
            return self.safe_from <= local <= self.safe_until
        return local >= self.safe_from or local <= self.safe_until  # hours across midnight
