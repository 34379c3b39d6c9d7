"""The four clocks of every work order, their presets, pauses and extensions (PRODUCT.md C4).

Every work order runs four clocks (Zammad's SLA model, with 12345's names):

* ``sign_for``: until the unit signs for it (签收);
* ``first_contact``: until the first contact with the petitioner (响应; for letters and
  visits, the acceptance notice the Regulation on Letters and Visits requires within 15 days);
* ``update``: the longest gap between progress notes, restarted by every note;
* ``resolution``: until the work order is completed (办结).

How long each clock runs comes from a :class:`ClockPolicy` row, chosen by the case's
urgency and the work order's time class. A clock's due time is computed on the working
calendar of the unit's region (:mod:`rightscare.core.workcalendar`) and stored, with the
instants at which the sweep must look at it again (50 %, 80 %, due), so that lists and the
sweep read columns instead of computing calendars.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rightscare.cases.models import TimeClass, Urgency
from rightscare.core.fields import EncryptedTextField
from rightscare.core.models import TimeStampedModel


class ClockKind(models.TextChoices):
    SIGN_FOR = "sign_for", _("Sign-for")
    FIRST_CONTACT = "first_contact", _("First contact")
    UPDATE = "update", _("Update gap")
    RESOLUTION = "resolution", _("Resolution")


#: The order in which the clocks are shown.
CLOCK_ORDER: tuple[str, ...] = (ClockKind.SIGN_FOR, ClockKind.FIRST_CONTACT, ClockKind.UPDATE, ClockKind.RESOLUTION)


class ClockUnit(models.TextChoices):
    """What a preset's amount counts: real time (24/7) or time on the working calendar."""

    MINUTES = "minutes", _("minutes (24/7)")
    HOURS = "hours", _("hours (24/7)")
    WORKING_HOURS = "working_hours", _("working hours")
    WORKING_DAYS = "working_days", _("working days")
    CALENDAR_DAYS = "calendar_days", _("days (as the law counts them)")


#: Units that run on the working calendar's working time; the others run on real time.
WORKING_UNITS = frozenset({ClockUnit.WORKING_HOURS, ClockUnit.WORKING_DAYS})


class ClockPolicyQuerySet(models.QuerySet["ClockPolicy"]):
    def current(self) -> ClockPolicyQuerySet:
        """The versions in force now (one per urgency, time class and clock)."""
        return self.filter(valid_until__isnull=True)


class ClockPolicy(TimeStampedModel):
    """One preset: how long one clock runs for an urgency and a time class (blank: any class).

    Versioned like the responsibility list: changing a preset closes the current row
    (``valid_until``) and opens a new one that ``replaces`` it. A running clock keeps
    the version it started with.
    """

    urgency = models.CharField(_("urgency"), max_length=16, choices=Urgency.choices)
    time_class = models.CharField(_("time class"), max_length=16, choices=TimeClass.choices, blank=True, help_text=_("Empty: any time class."))
    kind = models.CharField(_("clock"), max_length=16, choices=ClockKind.choices)
    amount = models.PositiveIntegerField(_("amount"), validators=[MinValueValidator(1)])
    unit = models.CharField(_("unit"), max_length=16, choices=ClockUnit.choices)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    objects = ClockPolicyQuerySet.as_manager()

    class Meta:
        verbose_name = _("deadline preset")
        verbose_name_plural = _("deadline presets")
        ordering = ["urgency", "time_class", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["urgency", "time_class", "kind"], condition=Q(valid_until__isnull=True), name="clock_policy_current_unique"),
            models.CheckConstraint(condition=Q(amount__gte=1), name="clock_policy_amount_positive"),
        ]

    def __str__(self) -> str:
        time_class = self.get_time_class_display() if self.time_class else _("any time class")
        return f"{self.get_urgency_display()} · {time_class} · {self.get_kind_display()}: {self.amount} {self.get_unit_display()}"

    @property
    def runs_on_working_time(self) -> bool:
        """Whether the clock counts working time (else real time, 24/7)."""
        return self.unit in WORKING_UNITS


class ClockState(models.TextChoices):
    """What a clock shows now."""

    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    WARNING = "warning", _("Half the time used")
    LATE = "late", _("Due soon")
    OVERDUE = "overdue", _("Overdue")
    MET = "met", _("Met")
    BREACHED = "breached", _("Missed")
    CANCELLED = "cancelled", _("Stopped")


class StopReason(models.TextChoices):
    """Why a clock stopped: its event happened, or the work order left the unit."""

    DONE = "done", _("Done")
    RETURNED = "returned", _("Work order returned")
    TRANSFERRED = "transferred", _("Case transferred")
    CLOSED = "closed", _("Case closed")


class WorkOrderClockQuerySet(models.QuerySet["WorkOrderClock"]):
    def running(self) -> WorkOrderClockQuerySet:
        """Clocks that are neither stopped nor paused."""
        return self.filter(stopped_at__isnull=True, paused_at__isnull=True)

    def overdue(self, at: Any = None) -> WorkOrderClockQuerySet:
        """Running clocks whose due time has passed at ``at`` (now by default)."""
        return self.filter(overdue_q(at or timezone.now()))

    def due_for_check(self, at: Any = None) -> WorkOrderClockQuerySet:
        """Clocks the sweep must look at: their next check time has come (uses the partial index)."""
        return self.filter(stopped_at__isnull=True, next_check_at__lte=at or timezone.now())


def overdue_q(at: Any, prefix: str = "") -> Q:
    """The condition "this clock is overdue at ``at``", for a clock reached through ``prefix`` (e.g. ``"clocks__"``)."""
    return Q(**{f"{prefix}stopped_at__isnull": True, f"{prefix}paused_at__isnull": True, f"{prefix}due_at__lte": at})


class WorkOrderClock(models.Model):
    """One of the four clocks of a work order.

    ``due_at`` is the current deadline (approved extensions and ended pauses included);
    ``half_at`` and ``late_at`` are when 50 % and 80 % of the clock's time have run (in
    working time for a working-time clock); ``next_check_at`` is the earliest of those
    instants not yet acted on, null when nothing is left to do or the clock is stopped or
    paused: the sweep reads rows whose ``next_check_at`` has passed, never all clocks.
    """

    work_order = models.ForeignKey("cases.WorkOrder", on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(_("clock"), max_length=16, choices=ClockKind.choices)
    policy = models.ForeignKey(ClockPolicy, verbose_name=_("preset"), on_delete=models.PROTECT, related_name="clocks")
    # For an urgent letters-and-visits order: the other preset of the "earlier of" rule.
    alternative_policy = models.ForeignKey(ClockPolicy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(_("started at"))
    due_at = models.DateTimeField(_("due at"))
    original_due_at = models.DateTimeField(_("originally due at"))
    half_at = models.DateTimeField(_("half the time used at"), null=True, blank=True)
    late_at = models.DateTimeField(_("80 per cent used at"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    stop_reason = models.CharField(_("why it stopped"), max_length=16, choices=StopReason.choices, blank=True)
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    paused_total = models.DurationField(_("time paused"), default=timedelta)
    extended_by_days = models.PositiveIntegerField(_("extended by (days)"), default=0)
    next_check_at = models.DateTimeField(_("next check at"), null=True, blank=True)
    warned_half_at = models.DateTimeField(null=True, blank=True)
    warned_late_at = models.DateTimeField(null=True, blank=True)
    due_notified_at = models.DateTimeField(null=True, blank=True)
    elapsed_working_seconds = models.BigIntegerField(_("handling time (working seconds)"), null=True, blank=True)
    breached = models.BooleanField(_("missed"), default=False)
    # How often the update clock restarted (a progress note); the other clocks start once.
    restarts = models.PositiveIntegerField(default=0)

    objects = WorkOrderClockQuerySet.as_manager()

    class Meta:
        verbose_name = _("work-order clock")
        verbose_name_plural = _("work-order clocks")
        constraints = [models.UniqueConstraint(fields=["work_order", "kind"], name="work_order_clock_unique")]
        indexes = [
            models.Index(fields=["next_check_at"], condition=Q(stopped_at__isnull=True), name="clock_next_check"),
            models.Index(fields=["due_at"], condition=Q(stopped_at__isnull=True, paused_at__isnull=True), name="clock_running_due"),
            # A few thousand open work orders' running clocks (the dashboard's overdue list, the
            # board): looked up by work order, not by walking every running clock past due.
            models.Index(fields=["work_order", "due_at"], condition=Q(stopped_at__isnull=True, paused_at__isnull=True), name="clock_running_by_order"),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id} {self.kind} → {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None and self.paused_at is None

    def state(self, at: Any = None) -> ClockState:
        """What the clock shows at ``at`` (now by default); see :func:`clock_state`."""
        return clock_state(self, at or timezone.now())


def clock_state(clock: WorkOrderClock, now: Any) -> ClockState:
    """The state of ``clock`` at ``now``, from its stored instants only (no calendar, no query).

    Stopped: *met* when its event happened by the due time, *missed* after it (or once
    the sweep saw it overdue), *stopped* when the work order left the unit first. Paused:
    *paused*. Running: *overdue* from the due time, *due soon* from 80 %, *half the time
    used* from 50 %, else *running*.
    """
    if clock.stopped_at is not None:
        if clock.stop_reason in ("", StopReason.DONE):
            return ClockState.BREACHED if clock.breached or clock.stopped_at > clock.due_at else ClockState.MET
        return ClockState.BREACHED if clock.breached else ClockState.CANCELLED
    if clock.paused_at is not None:
        return ClockState.PAUSED
    if now >= clock.due_at:
        return ClockState.OVERDUE
    if clock.late_at is not None and now >= clock.late_at:
        return ClockState.LATE
    if clock.half_at is not None and now >= clock.half_at:
        return ClockState.WARNING
    return ClockState.RUNNING


class PauseReason(models.TextChoices):
    PETITIONER = "petitioner", _("Waiting for the petitioner")
    COURT = "court", _("Waiting for a court")
    ARBITRATION = "arbitration", _("Waiting for labour arbitration")
    OTHER = "other", _("Waiting for another outside process")
    # Written by the system when a completed work order is sent back: the time it waited
    # for the sending unit's review does not count against the handling unit.
    REVIEW = "review", _("Waiting for the review of the sending unit")


#: The reasons a handler may give; ``review`` is only ever written by the system.
HANDLER_PAUSE_REASONS = (PauseReason.PETITIONER, PauseReason.COURT, PauseReason.ARBITRATION, PauseReason.OTHER)


class ClockPause(models.Model):
    """A stretch of time during which a work order's running clocks do not count.

    While a pause is open (``ended_at`` null) the work order's first-contact, update and
    resolution clocks stand still; the sign-for clock is never paused (a unit signs for
    work before it can wait on anyone). Every pause is visible on the case page and audited.
    """

    work_order = models.ForeignKey("cases.WorkOrder", on_delete=models.CASCADE, related_name="clock_pauses")
    reason_code = models.CharField(_("reason"), max_length=16, choices=PauseReason.choices)
    reason = models.TextField(_("details"), blank=True)
    started_at = models.DateTimeField(_("paused at"))
    ended_at = models.DateTimeField(_("resumed at"), null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("clock pause")
        verbose_name_plural = _("clock pauses")
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["work_order"], condition=Q(ended_at__isnull=True), name="one_open_pause_per_work_order"),
            models.CheckConstraint(condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")), name="pause_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id} {self.reason_code} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration(self) -> timedelta | None:
        return None if self.ended_at is None else self.ended_at - self.started_at


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for a decision")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class DayUnit(models.TextChoices):
    WORKING = "working", _("working days")
    CALENDAR = "calendar", _("days")


#: At most this many working days in one extension without a supervisor's approval.
MAX_EXTENSION_WORKING_DAYS = 10
#: Letters and visits: one extension of at most 30 days (信访工作条例), which no approval can exceed.
MAX_LETTERS_VISITS_EXTENSION_DAYS = 30


class Extension(TimeStampedModel):
    """A request for more time on a work order's resolution clock, and its decision.

    The handling unit asks with a reason; the unit that sent the work order approves or
    refuses. ``days`` are working days, or calendar days (``day_unit``) for letters and
    visits. ``needs_supervisor``: a second extension, or more than 10 working days, which
    only a supervisor may approve.
    """

    work_order = models.ForeignKey("cases.WorkOrder", on_delete=models.CASCADE, related_name="extensions")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    reason = models.TextField(_("reason"))
    days = models.PositiveIntegerField(_("days"), validators=[MinValueValidator(1)])
    day_unit = models.CharField(_("counted in"), max_length=16, choices=DayUnit.choices, default=DayUnit.WORKING)
    status = models.CharField(_("status"), max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING)
    needs_supervisor = models.BooleanField(_("needs a supervisor's approval"), default=False)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("extension")
        verbose_name_plural = _("extensions")
        ordering = ["requested_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["work_order"], condition=Q(status="pending"), name="one_pending_extension_per_work_order"),
            models.CheckConstraint(condition=Q(days__gte=1), name="extension_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id} +{self.days} {self.day_unit} ({self.status})"

    @property
    def working_days(self) -> int:
        """The extension in working days (0 for one counted in calendar days)."""
        return self.days if self.day_unit == DayUnit.WORKING else 0


# --- chasing: reminders (催办), supervision (督办) and listed supervision (挂牌督办) ------------------


class ChaseLevel(models.TextChoices):
    """How serious a chase is: the steps of the chain an overdue work order climbs."""

    REMINDER = "reminder", _("Reminder (催办)")
    SUPERVISION = "supervision", _("Supervision (督办)")
    LISTED = "listed", _("Listed supervision (挂牌督办)")


#: The levels from the mildest to the most serious.
CHASE_LEVELS: tuple[str, ...] = (ChaseLevel.REMINDER, ChaseLevel.SUPERVISION, ChaseLevel.LISTED)


class ChaseQuerySet(models.QuerySet["Chase"]):
    def awaiting_answer(self) -> ChaseQuerySet:
        """Chases the unit must still answer (uses the partial index)."""
        return self.filter(needs_answer=True, answered_at__isnull=True)

    def due_for_escalation(self, at: Any = None) -> ChaseQuerySet:
        """Chases whose next step of the chain the sweep must consider now (uses the partial index)."""
        return self.filter(escalate_at__lte=at or timezone.now())


class Chase(models.Model):
    """One reminder (催办), supervision (督办) or listing for supervision (挂牌督办) of a work order.

    Automatic ones are written by the deadline sweep (``by`` is null, ``clock`` is the
    clock whose deadline ``clock_due_at`` was missed); manual ones by a supervisor on the
    supervision board. A chase that ``needs_answer`` stays in the unit's inbox until a
    member of the unit answers it; the answer shows on the board and the case timeline.
    ``escalate_at`` is when the sweep looks again whether the work order must climb to the
    next level (null: nothing more to do from this chase).
    """

    work_order = models.ForeignKey("cases.WorkOrder", verbose_name=_("work order"), on_delete=models.PROTECT, related_name="chases")
    level = models.CharField(_("level"), max_length=16, choices=ChaseLevel.choices)
    by_unit = models.ForeignKey("org.Unit", verbose_name=_("chasing unit"), on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("sent by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("sent at"), default=timezone.now)
    comment = models.TextField(_("what the unit must answer"), blank=True)
    needs_answer = models.BooleanField(_("must be answered"), default=False)
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("answered by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    automatic = models.BooleanField(_("sent by the system"), default=False)
    clock = models.ForeignKey(WorkOrderClock, verbose_name=_("missed deadline"), null=True, blank=True, on_delete=models.PROTECT, related_name="chases")
    clock_due_at = models.DateTimeField(_("deadline missed"), null=True, blank=True)
    escalate_at = models.DateTimeField(_("next step considered at"), null=True, blank=True)

    objects = ChaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("chase")
        verbose_name_plural = _("chases")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["work_order", "at"], name="chase_work_order"),
            models.Index(fields=["escalate_at"], condition=Q(escalate_at__isnull=False), name="chase_escalate_at"),
            models.Index(fields=["work_order"], condition=Q(needs_answer=True, answered_at__isnull=True), name="chase_awaiting_answer"),
        ]
        constraints = [
            # The sweep sends one automatic reminder per missed deadline, however often it runs.
            models.UniqueConstraint(
                fields=["clock", "clock_due_at"], condition=Q(automatic=True, level="reminder"), name="one_automatic_reminder_per_deadline"
            ),
            # A work order goes to supervision, and to the city's list, once.
            models.UniqueConstraint(
                fields=["work_order", "level"], condition=Q(automatic=True, level__in=["supervision", "listed"]), name="one_automatic_escalation_per_level"
            ),
            models.CheckConstraint(condition=Q(automatic=True) | Q(by__isnull=False), name="manual_chase_has_sender"),
            models.CheckConstraint(condition=Q(answered_at__isnull=True) | ~Q(answer=""), name="answered_chase_has_answer"),
        ]

    def __str__(self) -> str:
        return f"{self.work_order_id} {self.level} {self.at:%Y-%m-%d %H:%M}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None


# --- safety follow-up of domestic-violence and child-protection cases ------------------------------


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class SafetyFollowUpQuerySet(models.QuerySet["SafetyFollowUp"]):
    def open(self) -> SafetyFollowUpQuerySet:
        return self.filter(ended_at__isnull=True)

    def due_for_check(self, at: Any = None) -> SafetyFollowUpQuerySet:
        """Open follow-ups whose next reminder or escalation has come (uses the partial index)."""
        return self.filter(ended_at__isnull=True, next_check_at__lte=at or timezone.now())


class SafetyFollowUp(TimeStampedModel):
    """A domestic-violence or child-protection case kept open for her safety after its dispute is resolved.

    The follow-up has its own review clock: ``next_review_at`` is when the responsible unit
    must next look at her situation (a visit, a call, a word with the community); each review
    sets the next one. It never counts against the resolution clocks of the work orders (they
    stopped when the work was completed), and a case with an open follow-up is never closed,
    automatically or by hand, until a person ends the follow-up with a reason.

    The sweep reminds the unit when a review falls due and, ``SAFETY_ESCALATE_AFTER_DAYS``
    later, tells the parent unit that it is overdue (``next_check_at`` is the next of those).
    """

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="safety_follow_ups")
    unit = models.ForeignKey("org.Unit", verbose_name=_("responsible unit"), on_delete=models.PROTECT, related_name="safety_follow_ups")
    reason = models.TextField(_("why she is followed up"))
    review_every_days = models.PositiveSmallIntegerField(_("review every (days)"), validators=[MinValueValidator(1)])
    opened_at = models.DateTimeField(_("opened at"))
    # Null: opened by the system when the case was resolved.
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    next_review_at = models.DateTimeField(_("next review due"))
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    end_reason = models.TextField(_("why it ended"), blank=True)

    objects = SafetyFollowUpQuerySet.as_manager()

    class Meta:
        verbose_name = _("safety follow-up")
        verbose_name_plural = _("safety follow-ups")
        ordering = ["next_review_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(ended_at__isnull=True), name="one_open_safety_follow_up_per_case"),
            models.CheckConstraint(condition=Q(review_every_days__gte=1), name="safety_review_interval_positive"),
            # Nobody ends a follow-up without saying why; the system never ends one.
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | (Q(ended_by__isnull=False) & ~Q(end_reason="")), name="safety_follow_up_ended_by_a_person"
            ),
        ]
        indexes = [
            models.Index(fields=["next_check_at"], condition=Q(ended_at__isnull=True), name="safety_next_check"),
            models.Index(fields=["unit", "next_review_at"], condition=Q(ended_at__isnull=True), name="safety_open_by_unit"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.next_review_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def is_overdue(self, at: Any = None) -> bool:
        """Whether the next review is late at ``at`` (now by default)."""
        return self.is_open and self.next_review_at <= (at or timezone.now())


class SafetyReview(models.Model):
    """One look at her safety during a follow-up: what was done, the risk seen, when to look again."""

    follow_up = models.ForeignKey(SafetyFollowUp, on_delete=models.CASCADE, related_name="reviews")
    at = models.DateTimeField(_("reviewed at"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    risk = models.CharField(_("risk seen"), max_length=8, choices=RiskLevel.choices)
    # What she said and what was seen: encrypted like every sensitive free text.
    note = EncryptedTextField(_("what was done and seen"))
    next_review_at = models.DateTimeField(_("next review due"))

    class Meta:
        verbose_name = _("safety review")
        verbose_name_plural = _("safety reviews")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.follow_up_id} {self.at:%Y-%m-%d} {self.risk}"
