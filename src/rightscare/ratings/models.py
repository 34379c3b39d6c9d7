"""Ratings of resolved cases, return visits (回访) and their attempts (PRODUCT.md C5, C6).

Each time a case becomes resolved a *rating round* opens (round 1; round 2 after a
rework (重办) and the next resolution; …). The petitioner rates it once — on the public
tracking page, or by phone to a return-visit officer of a unit that did not handle the
case. A round left unrated for ``RATING_WAIT_DAYS``, or rated unsatisfied or unsolved,
goes to the return-visit team's queue; after ``RETURN_VISIT_MAX_ATTEMPTS`` calls that did
not reach her, the round is closed as unreachable.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from rightscare.core.models import TimeStampedModel


class RoundStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the rating")
    RATED = "rated", _("Rated")
    UNREACHABLE = "unreachable", _("Closed: petitioner unreachable")


class ReturnVisitReason(models.TextChoices):
    NO_RATING = "no_rating", _("No rating in time")
    UNSATISFIED = "unsatisfied", _("Unsatisfied or not solved")


class Solved(models.TextChoices):
    YES = "yes", _("Yes, solved")
    PARTLY = "partly", _("Partly solved")
    NO = "no", _("Not solved")


class RatingChannel(models.TextChoices):
    PUBLIC = "public", _("Tracking page")
    PHONE = "phone", _("By phone (return visit)")


#: Scores of 1 and 2 (of 5) for speed or quality make a rating unsatisfied.
SATISFIED_FROM = 3


class RatingRoundQuerySet(models.QuerySet["RatingRound"]):
    def open(self) -> RatingRoundQuerySet:
        """Rounds still waiting for the petitioner's rating."""
        return self.filter(status=RoundStatus.OPEN)

    def awaiting_return_visit(self) -> RatingRoundQuerySet:
        """Rounds in the return-visit team's queue: a call is due and not finished."""
        return self.filter(return_visit_since__isnull=False, return_visit_done_at__isnull=True)

    def due_for_check(self, at: Any) -> RatingRoundQuerySet:
        """Open rounds whose rating time has run out and that the sweep has not moved yet (index ``rating_round_next_check``)."""
        return self.filter(next_check_at__isnull=False, next_check_at__lte=at)


class RatingRound(TimeStampedModel):
    """One chance for the petitioner to rate a resolution of her case."""

    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="rating_rounds")
    number = models.PositiveSmallIntegerField(_("round"))
    opened_at = models.DateTimeField(_("opened at"))
    rating_due_at = models.DateTimeField(_("rating expected by"))
    status = models.CharField(_("status"), max_length=16, choices=RoundStatus.choices, default=RoundStatus.OPEN)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # When the sweep must look at the round (its rating time runs out); cleared once acted on.
    next_check_at = models.DateTimeField(null=True, blank=True)
    return_visit_reason = models.CharField(_("return visit because"), max_length=16, choices=ReturnVisitReason.choices, blank=True)
    return_visit_since = models.DateTimeField(_("return visit due since"), null=True, blank=True)
    return_visit_done_at = models.DateTimeField(_("return visit finished at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=0)

    objects = RatingRoundQuerySet.as_manager()

    class Meta:
        verbose_name = _("rating round")
        verbose_name_plural = _("rating rounds")
        ordering = ["case_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="rating_round_number_unique"),
            # At most one round of a case waits for a rating at a time.
            models.UniqueConstraint(fields=["case"], condition=Q(status="open"), name="rating_round_one_open"),
        ]
        indexes = [
            models.Index(fields=["next_check_at"], condition=Q(next_check_at__isnull=False), name="rating_round_next_check"),
            models.Index(fields=["return_visit_since"], condition=Q(return_visit_done_at__isnull=True), name="rating_round_return_visits"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} #{self.number}"


class Rating(models.Model):
    """The petitioner's rating of one round: solved?, speed and quality (1–5), a comment."""

    round = models.ForeignKey(RatingRound, verbose_name=_("round"), on_delete=models.PROTECT, related_name="ratings")
    # The case again, so the assessment finds a case's latest rating without a join.
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="ratings")
    round_number = models.PositiveSmallIntegerField(_("round"))
    solved = models.CharField(_("solved?"), max_length=8, choices=Solved.choices)
    speed = models.PositiveSmallIntegerField(_("speed"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    quality = models.PositiveSmallIntegerField(_("quality"), validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(_("comment"), blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=RatingChannel.choices)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    taken_by_unit = models.ForeignKey("org.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("rated at"))
    #: The case's latest rating (the one of its highest round): what the assessment counts. Kept
    #: by ``services._record_rating``, so that the assessment reads it with one join instead of
    #: looking it up again for every figure that tests it.
    latest = models.BooleanField(_("latest rating of the case"), default=False)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        ordering = ["case_id", "round_number"]
        constraints = [
            models.UniqueConstraint(fields=["round"], name="one_rating_per_round"),
            models.CheckConstraint(condition=Q(speed__gte=1, speed__lte=5, quality__gte=1, quality__lte=5), name="rating_scores_1_to_5"),
            models.CheckConstraint(condition=Q(solved__in=["yes", "partly", "no"]), name="rating_solved_known"),
            models.UniqueConstraint(fields=["case"], condition=Q(latest=True), name="rating_one_latest_per_case"),
        ]
        indexes = [models.Index(fields=["case", "round_number"], name="rating_case_round")]

    def __str__(self) -> str:
        return f"{self.case_id} #{self.round_number}: {self.solved} {self.speed}/{self.quality}"

    @property
    def satisfied(self) -> bool:
        """Satisfied unless speed or quality was rated 1 or 2."""
        return self.speed >= SATISFIED_FROM and self.quality >= SATISFIED_FROM

    @property
    def needs_return_visit(self) -> bool:
        """Unsatisfied or not solved: the return-visit team calls her back (回访)."""
        return not self.satisfied or self.solved == Solved.NO


def unsatisfied_q(prefix: str = "") -> Q:
    """Ratings (through ``prefix``) that are unsatisfied or say the matter was not solved."""
    return Q(**{f"{prefix}speed__lt": SATISFIED_FROM}) | Q(**{f"{prefix}quality__lt": SATISFIED_FROM}) | Q(**{f"{prefix}solved": Solved.NO})


class ReturnVisitAttempt(models.Model):
    """One call of a return visit: reached her or not, and what was said."""

    round = models.ForeignKey(RatingRound, verbose_name=_("round"), on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField(_("attempt"))
    at = models.DateTimeField(_("called at"))
    reached = models.BooleanField(_("reached the petitioner"))
    note = models.TextField(_("note"), blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("called by"), on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("return-visit call")
        verbose_name_plural = _("return-visit calls")
        ordering = ["round_id", "number"]
        constraints = [models.UniqueConstraint(fields=["round", "number"], name="return_visit_attempt_number_unique")]

    def __str__(self) -> str:
        return f"{self.round} call {self.number}"
