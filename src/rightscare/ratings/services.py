"""Use cases of the petitioner's rating, the return visit (回访) and rework (重办).

* :func:`case_resolved` opens a rating round; ``cases.services.refresh_case_status`` calls
  it whenever a case becomes resolved (every top-level work order accepted).
* :func:`submit_public_rating` (the tracking page) and :func:`record_return_visit` (a
  return-visit officer on the phone) record the one rating of a round.
* :func:`sweep` (job ``ratings.sweep``) puts rounds left unrated for ``RATING_WAIT_DAYS``
  into the return-visit team's queue; a rating that is unsatisfied or says "not solved"
  goes there at once.
* :func:`send_back_for_rework` lets the dispatching unit reopen the lead work order after
  an unsatisfied rating; the next resolution opens the next round.

Every write checks permission, runs in one transaction, records its timeline event and
its audit entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rightscare.audit.models import AuditAction
from rightscare.audit.services import record
from rightscare.cases import services as case_services
from rightscare.cases.events import record_event, system_text
from rightscare.cases.models import Case, CaseStatus, EventKind, PartyRole, Role, Visibility, WorkOrder, WorkOrderStatus
from rightscare.core import idempotency, leasing
from rightscare.core.errors import AuthorisationError, Conflict
from rightscare.org import access
from rightscare.org.models import Unit
from rightscare.org.roles import Capability
from rightscare.ratings.models import Rating, RatingChannel, RatingRound, ReturnVisitAttempt, ReturnVisitReason, RoundStatus, Solved

logger = logging.getLogger(__name__)

#: Statuses of a work order whose unit no longer handles the case (it never collected anything).
_LEFT = (WorkOrderStatus.RETURNED, WorkOrderStatus.TRANSFERRED)


def rating_wait() -> timedelta:
    """How long the petitioner has to rate before the return-visit team calls (``RATING_WAIT_DAYS``)."""
    return timedelta(days=int(settings.RATING_WAIT_DAYS))


def max_attempts() -> int:
    """Calls that did not reach her before the round is closed as unreachable (``RETURN_VISIT_MAX_ATTEMPTS``)."""
    return max(1, int(settings.RETURN_VISIT_MAX_ATTEMPTS))


# --- safety follow-up -----------------------------------------------------------------------


def under_safety_follow_up(case: Case) -> bool:
    """Whether the case is held open for safety follow-up: such a case is never closed automatically.

    Asks ``rightscare.supervision.safety.has_open_follow_up(case)`` when that module exists
    (the safety follow-up of domestic-violence and child-protection cases); without it no
    case is under follow-up.
    """
    try:
        from rightscare.supervision import safety  # type: ignore[attr-defined, unused-ignore]
    except ModuleNotFoundError as error:
        if error.name != "rightscare.supervision.safety":
            raise
        return False
    check = getattr(safety, "has_open_follow_up", None)
    return bool(check(case)) if check is not None else False


# --- rounds -----------------------------------------------------------------------------------


def current_round(case: Case) -> RatingRound | None:
    """The case's latest rating round (None before its first resolution)."""
    return RatingRound.objects.filter(case_id=case.pk).order_by("-number").first()


def open_round(case: Case) -> RatingRound | None:
    """The round waiting for the petitioner's rating, if any."""
    return RatingRound.objects.open().filter(case_id=case.pk).first()


def case_resolved(case: Case, *, at: datetime | None = None) -> RatingRound | None:
    """Open the next rating round of a case that just became resolved; return it.

    Called by ``cases.services.refresh_case_status`` inside its transaction. A case that
    still has an open round keeps it (resolved again without a rework in between: nothing
    new to rate); otherwise round ``n + 1`` opens, due for a rating ``RATING_WAIT_DAYS`` later.
    """
    at = at or timezone.now()
    if RatingRound.objects.open().filter(case_id=case.pk).exists():
        return None
    number = (RatingRound.objects.filter(case_id=case.pk).aggregate(n=Max("number"))["n"] or 0) + 1
    due = at + rating_wait()
    return RatingRound.objects.create(case_id=case.pk, number=number, opened_at=at, rating_due_at=due, next_check_at=due)


# --- who may take a rating by phone -----------------------------------------------------------


def handling_unit_ids(case: Case) -> set[int]:
    """The units handling the case (a work order not returned or transferred away)."""
    return set(WorkOrder.objects.filter(case_id=case.pk).exclude(status__in=_LEFT).values_list("unit_id", flat=True))


def _covering_officer_units(user: Any, case: Case) -> list[int]:
    """Her units in which she takes ratings and whose reach covers the case."""
    grants = [g for g in access.grants_of(user) if Capability.TAKE_RATINGS in g.capabilities]
    if not grants or not Case.objects.visible_to(user).filter(pk=case.pk).exists():
        return []
    region_path = case.region.path
    order_paths = list(WorkOrder.objects.filter(case_id=case.pk).values_list("unit__path", flat=True))
    units = []
    for grant in grants:
        covers = grant.family in access.AREA_FAMILIES and region_path.startswith(grant.region_path)
        covers = covers or any(path.startswith(grant.unit_path) for path in order_paths) or case.registering_unit_id == grant.unit_id
        if covers and case.accused_unit_id != grant.unit_id:
            units.append(grant.unit_id)
    return units


def rating_unit(user: Any, case: Case) -> Unit:
    """The unit she takes this case's rating for: one of her return-visit units that did not handle it.

    Raises PermissionDenied when she takes no ratings for the case at all, and
    AuthorisationError (with the reason) when all her units that could are handling it:
    a unit never collects the ratings of its own work.
    """
    covering = _covering_officer_units(user, case)
    if not covering:
        raise PermissionDenied
    handling = handling_unit_ids(case)
    allowed = [unit_id for unit_id in covering if unit_id not in handling]
    if not allowed:
        raise AuthorisationError(
            _("Your unit is handling this case, so it may not collect the case's rating: a return-visit officer of another unit must call.")
        )
    return Unit.objects.get(pk=allowed[0])


def may_take_ratings(user: Any, case: Case) -> bool:
    """Whether she may call the petitioner back and take her rating for this case."""
    try:
        rating_unit(user, case)
    except (PermissionDenied, AuthorisationError):
        return False
    return True


# --- ratings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingInput:
    """What the petitioner says: solved (yes / partly / no), speed and quality 1–5, a comment."""

    solved: str
    speed: int
    quality: int
    comment: str = ""

    def validate(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.solved not in Solved.values:
            errors["solved"] = [_("Say whether the matter was solved: yes, partly or no.")]
        for name in ("speed", "quality"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                errors[name] = [_("Choose a score from 1 to 5.")]
        if len(self.comment) > 2000:
            errors["comment"] = [_("The comment is too long (at most 2000 characters).")]
        if errors:
            raise ValidationError(errors)


def _respondent_is_petitioner(case: Case) -> bool:
    return case.petitioner_id is not None and case.parties.filter(role=PartyRole.RESPONDENT, person_id=case.petitioner_id).exists()


def _record_rating(*, round_: RatingRound, rating: RatingInput, channel: str, by: Any = None, unit: Unit | None = None, at: datetime) -> Rating:
    """Write the round's one rating (the round is locked by the caller); refuses a round not waiting for one."""
    if round_.status != RoundStatus.OPEN:
        raise Conflict(_("This round has already been rated or closed."))
    if _respondent_is_petitioner(round_.case):
        # A respondent never rates the case brought against her.
        raise AuthorisationError(_("A respondent cannot rate the case."))
    try:
        with transaction.atomic():
            # The new rating is the case's latest: the earlier rounds' give way to it.
            Rating.objects.filter(case_id=round_.case_id, latest=True).update(latest=False)
            created = Rating.objects.create(
                round=round_,
                case_id=round_.case_id,
                round_number=round_.number,
                solved=rating.solved,
                speed=rating.speed,
                quality=rating.quality,
                comment=rating.comment.strip(),
                channel=channel,
                taken_by=by if getattr(by, "is_authenticated", False) else None,
                taken_by_unit=unit,
                created_at=at,
                latest=True,
            )
    except IntegrityError as error:
        raise Conflict(_("This round has already been rated or closed.")) from error
    changes: dict[str, Any] = {"status": RoundStatus.RATED, "closed_at": at, "next_check_at": None, "version": F("version") + 1}
    if created.needs_return_visit and round_.return_visit_since is None:
        changes.update(return_visit_reason=ReturnVisitReason.UNSATISFIED, return_visit_since=at)
    RatingRound.objects.filter(pk=round_.pk).update(**changes)
    record_event(
        case=round_.case,
        kind=EventKind.RATED,
        actor=by,
        unit=unit,
        text=created.comment,
        public_text=gettext_noop("Thank you: your rating has been recorded."),
        visibility=Visibility.PUBLIC,
        data={"round": round_.number, "solved": created.solved, "speed": created.speed, "quality": created.quality, "channel": channel},
    )
    record(
        actor=by,
        action=AuditAction.CREATE,
        event="ratings.record_rating",
        obj=created,
        unit=unit,
        changes={"solved": created.solved, "speed": created.speed, "quality": created.quality, "channel": channel},
    )
    return created


def _locked_round(pk: int) -> RatingRound:
    return RatingRound.objects.select_for_update().select_related("case__region").get(pk=pk)


def submit_public_rating(*, case: Case, solved: str, speed: int, quality: int, comment: str = "", idempotency_key: str = "") -> Rating:
    """The petitioner rates the open round of her case on the tracking page.

    The caller has identified her (tracking code and PIN). Raises ValidationError for a bad
    value and Conflict when no round waits for a rating. The same ``idempotency_key``
    sent twice answers with the first rating instead of a conflict.
    """
    rating = RatingInput(solved=solved, speed=speed, quality=quality, comment=comment or "")
    rating.validate()

    def create() -> str:
        with leasing.write_transaction():
            current = RatingRound.objects.open().filter(case_id=case.pk).values_list("pk", flat=True).first()
            if current is None:
                raise Conflict(_("There is nothing to rate right now."))
            locked = _locked_round(current)
            return str(_record_rating(round_=locked, rating=rating, channel=RatingChannel.PUBLIC, at=timezone.now()).pk)

    # Anonymous submissions: user id 0, keyed by the case.
    result, _ran = idempotency.run_once(user_id=0, scope=f"public:rating:{case.pk}", key=idempotency_key, create=create)
    return Rating.objects.get(pk=int(result))


# --- return visits ---------------------------------------------------------------------------


def record_return_visit(*, round_: RatingRound, by: Any, reached: bool, note: str = "", rating: RatingInput | None = None) -> ReturnVisitAttempt:
    """Record one call of a return visit (回访): reached or not, a note, and the rating she gave by phone.

    For a return-visit officer of a unit that does not handle the case. A round still
    waiting for a rating needs the rating when she was reached; a round already rated
    (she was unsatisfied) takes the call's note only. When she was reached, the return visit
    is finished. After ``RETURN_VISIT_MAX_ATTEMPTS`` calls without reaching her, an unrated
    round is closed as unreachable and so is the case — unless it is under safety
    follow-up, which is never closed automatically. Events: RETURN_VISIT (and RATED, CLOSED).
    """
    case = round_.case
    unit = rating_unit(by, case)
    if reached and round_.status == RoundStatus.OPEN and rating is None:
        raise ValidationError({"solved": [_("She was reached: record her rating.")]})
    if rating is not None:
        if not reached:
            raise ValidationError({"reached": [_("A rating can be taken only when she was reached.")]})
        rating.validate()
    with transaction.atomic():
        locked = _locked_round(round_.pk)
        if locked.status == RoundStatus.UNREACHABLE or (locked.status == RoundStatus.RATED and locked.return_visit_since is None):
            raise Conflict(_("No return visit is due for this round."))
        if locked.return_visit_done_at is not None:
            raise Conflict(_("The return visit of this round is already finished."))
        if rating is not None and locked.status != RoundStatus.OPEN:
            raise Conflict(_("This round has already been rated or closed."))
        now = timezone.now()
        number = locked.attempts.count() + 1
        attempt = ReturnVisitAttempt.objects.create(round=locked, number=number, at=now, reached=reached, note=note.strip(), by=by, unit=unit)
        record_event(
            case=case,
            kind=EventKind.RETURN_VISIT,
            actor=by,
            unit=unit,
            text=note.strip(),
            data={"round": locked.number, "attempt": number, "reached": reached},
        )
        record(
            actor=by,
            action=AuditAction.CREATE,
            event="ratings.record_return_visit",
            obj=attempt,
            unit=unit,
            changes={"reached": reached, "attempt": number},
        )
        updates: dict[str, Any] = {}
        if locked.return_visit_since is None:
            updates.update(return_visit_since=now, return_visit_reason=ReturnVisitReason.NO_RATING)
        if rating is not None:
            _record_rating(round_=locked, rating=rating, channel=RatingChannel.PHONE, by=by, unit=unit, at=now)
        if reached:
            updates["return_visit_done_at"] = now
        elif number >= max_attempts():
            updates["return_visit_done_at"] = now
            if locked.status == RoundStatus.OPEN:
                updates.update(status=RoundStatus.UNREACHABLE, closed_at=now, next_check_at=None)
                _close_unreachable(case, by=by, unit=unit)
        if updates:
            RatingRound.objects.filter(pk=locked.pk).update(**updates, version=F("version") + 1)
    return attempt


def _close_unreachable(case: Case, *, by: Any, unit: Unit) -> None:
    case.refresh_from_db(fields=["status"])
    if case.status != CaseStatus.RESOLVED:
        return
    if under_safety_follow_up(case):
        record_event(
            case=case,
            kind=EventKind.RETURN_VISIT,
            actor=by,
            unit=unit,
            text=system_text(lambda: _("The petitioner could not be reached; the case stays open for its safety follow-up.")),
        )
        return
    case_services.close_case_as_unreachable(case=case, by=by, unit=unit)


def return_visit_queue(user: Any) -> models.QuerySet[RatingRound]:
    """Rounds waiting for a return visit in her reach, longest waiting first (her units' own cases left out)."""
    if not access.has_capability(user, Capability.TAKE_RATINGS):
        return RatingRound.objects.none()
    grants = [g for g in access.grants_of(user) if Capability.TAKE_RATINGS in g.capabilities]
    unit_ids = {g.unit_id for g in grants}
    cases = Case.objects.visible_to(user)
    # A unit never calls back about its own work: cases one of her return-visit units handles are for others.
    handled_by_her = WorkOrder.objects.filter(unit_id__in=unit_ids).exclude(status__in=_LEFT).values("case_id")
    return (
        RatingRound.objects.awaiting_return_visit()
        .filter(case__in=cases)
        .exclude(case_id__in=handled_by_her)
        .select_related("case__category", "case__region")
        .order_by("return_visit_since", "id")
    )


# --- rework ----------------------------------------------------------------------------------


def lead_work_order(case: Case) -> WorkOrder | None:
    """The case's top-level lead work order still held by its unit (accepted, or being reworked)."""
    return (
        WorkOrder.objects.filter(case_id=case.pk, parent__isnull=True, role=Role.LEAD)
        .exclude(status__in=_LEFT)
        .select_related("case", "unit", "sent_by_unit")
        .order_by("-created_at")
        .first()
    )


def may_rework(user: Any, case: Case) -> bool:
    """Whether she is a dispatcher of the unit that dispatched the case's lead work order."""
    lead = lead_work_order(case)
    return lead is not None and access.member_of_any(user, {lead.sent_by_unit_id}, frozenset({Capability.DISPATCH_CASES}))


def rework_allowed(case: Case) -> bool:
    """Whether the case's state allows a rework: resolved or closed, its latest rating unsatisfied or unsolved."""
    latest = current_round(case)
    if latest is None or latest.status != RoundStatus.RATED or case.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        return False
    rating = latest.ratings.first()
    return rating is not None and rating.needs_return_visit


def send_back_for_rework(*, case: Case, by: Any, reason: str) -> WorkOrder:
    """Send the case back for rework (重办) after the petitioner's unsatisfied or unsolved rating.

    For the dispatchers of the unit that dispatched the lead work order. The lead work
    order goes back to in progress with a new resolution clock, the case back to in
    progress (a closed case is reopened); events REWORK and REOPENED, audited. The next
    resolution opens the next rating round. A pending return visit of the round ends.
    """
    lead = lead_work_order(case)
    if lead is None or not may_rework(by, case):
        raise PermissionDenied
    if not reason.strip():
        raise ValidationError({"reason": [_("Say what must be done again.")]})
    case.refresh_from_db()
    if not rework_allowed(case):
        raise Conflict(_("A case is sent back for rework only after an unsatisfied or unsolved rating of its latest resolution."))
    latest = current_round(case)
    with transaction.atomic():
        order = case_services.rework_work_order(work_order=lead, by=by, reason=reason, round_number=latest.number if latest else None)
        if latest is not None:
            RatingRound.objects.filter(pk=latest.pk, return_visit_since__isnull=False, return_visit_done_at__isnull=True).update(
                return_visit_done_at=timezone.now(), version=F("version") + 1
            )
    return order


# --- the sweep -------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one run of the ratings sweep did."""

    rounds: int = 0
    queued: int = 0
    failed: int = 0


#: The name of the test-only barrier right after a batch of rounds is claimed (see core/barriers.py).
CLAIMED_BARRIER = "ratings.sweep.claimed"


def sweep(*, now: datetime | None = None, batch_size: int = 100, max_batches: int = 100) -> SweepReport:
    """Put every round left unrated past its time into the return-visit queue (a call by phone is due).

    Reads only rounds whose ``next_check_at`` has passed (partial index). Each batch is
    claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serialises on its
    write lock) and everything it writes commits in the claim's transaction, so a second
    run, or a concurrent one, does nothing twice. A round that fails is skipped for the run.
    """
    from rightscare.core.barriers import barrier
    from rightscare.supervision.sweep import claim_query

    now = now or timezone.now()
    report = SweepReport()
    failed: set[int] = set()
    for _batch in range(max_batches):
        with leasing.write_transaction():
            claimed = list(claim_query(RatingRound.objects.due_for_check(now), ("next_check_at", "id"), batch_size, failed))
            if not claimed:
                break
            barrier(CLAIMED_BARRIER)
            for round_ in claimed:
                report.rounds += 1
                try:
                    with transaction.atomic():
                        _queue_unrated(round_, now, report)
                except Exception:
                    logger.exception("ratings sweep: round %s failed; it is tried again on the next run", round_.pk)
                    failed.add(round_.pk)
                    report.failed += 1
        if len(claimed) < batch_size:
            break
    return report


def _queue_unrated(round_: RatingRound, now: datetime, report: SweepReport) -> None:
    if round_.status != RoundStatus.OPEN:
        RatingRound.objects.filter(pk=round_.pk).update(next_check_at=None)
        return
    changed = RatingRound.objects.filter(pk=round_.pk, next_check_at__isnull=False, status=RoundStatus.OPEN).update(
        next_check_at=None,
        return_visit_reason=ReturnVisitReason.NO_RATING,
        return_visit_since=now,
        version=F("version") + 1,
    )
    if not changed:
        return
    days = int(settings.RATING_WAIT_DAYS)
    record_event(
        case=round_.case,
        kind=EventKind.RETURN_VISIT,
        text=system_text(lambda: _("No rating within %(days)s days: a return visit by phone is due.") % {"days": days}),
        data={"round": round_.number, "due": True},
    )
    record(actor=None, action=AuditAction.UPDATE, event="ratings.return_visit_due", obj=round_, changes={"return_visit_reason": ReturnVisitReason.NO_RATING})
    report.queued += 1
