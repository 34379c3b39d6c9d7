"""Performance assessment (绩效考核, PRODUCT.md C6): the composite's weights and the exclusions.

The figures themselves are not stored: :mod:`rightscare.assessment.selectors` computes
them in the database from the work orders and their clocks whenever they are asked for.
What is stored here is what people decide: how much each rate weighs in the composite
score (versioned, edited by administrators) and which cases or work orders a supervisor
agreed to leave out of the assessment (a malicious request, a duplicate filed elsewhere).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rightscare.core.models import TimeStampedModel

#: The rates that enter the composite, in the order of the table, with their labels.
#: ``rework`` and ``return_rate`` count against a unit: the composite uses 1 − rate.
RATE_KEYS: tuple[str, ...] = ("sign_for", "response", "on_time_resolution", "resolution", "satisfaction", "rework", "return_rate", "dispatch_accuracy")

#: The weights an installation starts with (they add up to 100).
DEFAULT_WEIGHTS: dict[str, int] = {
    "sign_for": 15,
    "response": 15,
    "on_time_resolution": 25,
    "resolution": 15,
    "satisfaction": 10,
    "rework": 10,
    "return_rate": 5,
    "dispatch_accuracy": 5,
}


def _weight(label: Any, key: str) -> models.PositiveSmallIntegerField[int, int]:
    return models.PositiveSmallIntegerField(label, default=DEFAULT_WEIGHTS[key], validators=[MaxValueValidator(100)])


class AssessmentWeightsQuerySet(models.QuerySet["AssessmentWeights"]):
    def current(self) -> AssessmentWeights:
        """The version in force: the latest one, or the defaults (unsaved) when none was ever saved."""
        latest = self.order_by("-created_at", "-id").first()
        return latest if latest is not None else AssessmentWeights()


class AssessmentWeights(TimeStampedModel):
    """One version of the weights of the composite score; the latest version is in force.

    Versions are never edited: saving new weights adds a row, so a report can say which
    weights it used and the history shows who changed them and why.
    """

    sign_for = _weight(_("on-time sign-for rate"), "sign_for")
    response = _weight(_("response rate"), "response")
    on_time_resolution = _weight(_("on-time resolution rate"), "on_time_resolution")
    resolution = _weight(_("resolution rate"), "resolution")
    satisfaction = _weight(_("satisfaction rate"), "satisfaction")
    rework = _weight(_("rework rate (counts against)"), "rework")
    return_rate = _weight(_("return rate (counts against)"), "return_rate")
    dispatch_accuracy = _weight(_("dispatch accuracy"), "dispatch_accuracy")
    note = models.TextField(_("why they changed"), blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = AssessmentWeightsQuerySet.as_manager()

    class Meta:
        verbose_name = _("assessment weights")
        verbose_name_plural = _("assessment weights")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return " · ".join(f"{key} {value}" for key, value in self.as_dict().items())

    def as_dict(self) -> dict[str, int]:
        """The weight of each rate, by its key (see ``RATE_KEYS``)."""
        return {key: int(getattr(self, key)) for key in RATE_KEYS}


class ExclusionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a supervisor")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


#: Exclusions that hold a place: a second request for the same record waits for these.
OPEN_EXCLUSION_STATUSES = (ExclusionStatus.PENDING, ExclusionStatus.APPROVED)


class ExclusionQuerySet(models.QuerySet["Exclusion"]):
    def visible_to(self, user: Any) -> ExclusionQuerySet:
        """Exclusions of the cases she may open."""
        from rightscare.cases.models import Case

        return self.filter(case__in=Case.objects.visible_to(user))

    def approved(self) -> ExclusionQuerySet:
        return self.filter(status=ExclusionStatus.APPROVED)


class Exclusion(TimeStampedModel):
    """A case, or one work order of it, left out of the assessment: asked for by a unit, decided by a supervisor.

    Without ``work_order`` the whole case is excluded (every work order of it, for every
    unit); with it, only that unit's work order. Only an approved exclusion changes the
    figures, and every approved one is listed under the assessment table.
    """

    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="assessment_exclusions")
    work_order = models.ForeignKey(
        "cases.WorkOrder", verbose_name=_("work order"), null=True, blank=True, on_delete=models.PROTECT, related_name="assessment_exclusions"
    )
    requesting_unit = models.ForeignKey("org.Unit", verbose_name=_("requested by unit"), on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=16, choices=ExclusionStatus.choices, default=ExclusionStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    objects = ExclusionQuerySet.as_manager()

    class Meta:
        verbose_name = _("assessment exclusion")
        verbose_name_plural = _("assessment exclusions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "case"], name="exclusion_status_case")]
        constraints = [
            # One open request (or approval) per work order, and per whole case.
            models.UniqueConstraint(
                fields=["work_order"], condition=Q(work_order__isnull=False, status__in=["pending", "approved"]), name="exclusion_open_per_work_order"
            ),
            models.UniqueConstraint(fields=["case"], condition=Q(work_order__isnull=True, status__in=["pending", "approved"]), name="exclusion_open_per_case"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}{f' / {self.work_order_id}' if self.work_order_id else ''} ({self.status})"
