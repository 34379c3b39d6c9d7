"""The petitioner's loop: submit a request from anywhere, follow it with a tracking code.

This is the interface every public channel calls (the web form here; Open311, WeChat, the
mini-program and app backends elsewhere), so that they cannot drift apart:

* ``submit_request(*, channel, submission, trusted=False, idempotency_key=None)`` records a
  self-submitted request as a contact of ``channel`` waiting in the intake queue (or, for a
  trusted channel, registers it as a case at once) and issues its tracking code and PIN,
  returned once in ``SubmissionResult`` and never stored in the clear.
* ``find_tracking(code)`` finds a tracking code as typed (grouping, case and I/L/O forgiven).
* ``check_pin(tracking, pin)`` checks the PIN; with ``tracking=None`` it spends the same time.
* ``public_status(tracking)`` the status in plain words and the expected date;
  ``public_details(tracking)`` (after the PIN) also the responsible unit — never a person —
  and ``public_timeline(tracking)`` the public progress notes in order.

Staff side: ``submissions_for(user)`` (the intake queue she may work), ``confirm_submission``
(into a new case, through ``cases.services.register_case``), ``attach_submission`` (to a case
it belongs to) and ``reject_submission`` (with the reason she is told). The tracking code
follows in every case: it points at the contact, then at the case, and the case's
``merged_into`` chain is followed when it is read.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from rightscare.audit.models import AuditAction
from rightscare.audit.services import record
from rightscare.cases import attachments as case_files
from rightscare.cases import deadlines
from rightscare.cases.events import record_event
from rightscare.cases.models import (
    ACTIVE_WORK_ORDER_STATUSES,
    Attachment,
    Case,
    CaseEvent,
    CaseStatus,
    Category,
    EventKind,
    RequestType,
    Role,
    Urgency,
    Visibility,
    WorkOrder,
    WorkOrderStatus,
)
from rightscare.cases.services import register_case
from rightscare.core import identity, workcalendar
from rightscare.core.errors import Conflict
from rightscare.intake.models import Channel, Contact, Outcome, ReviewState
from rightscare.org import access
from rightscare.org.models import Membership, Region, Unit
from rightscare.org.roles import Capability
from rightscare.org.roles import Role as StaffRole
from rightscare.petitioners import codes, ratelimit
from rightscare.petitioners.models import PublicSubmissionKey, Submission, SubmissionFile, TrackingCode
from rightscare.registry.models import Person
from rightscare.registry.services import SafeContactInput, record_person

#: The longest description accepted from the public (characters).
MAX_DESCRIPTION = 5000
#: The most files sent with one submission.
MAX_FILES = 3
#: Capabilities of the staff who work the intake queue.
INTAKE_CAPABILITIES = frozenset({Capability.RECORD_CONTACTS, Capability.DISPATCH_CASES})
#: Roles that take intake in a unit: a unit with one of them receives the submissions of its area.
INTAKE_ROLES = (StaffRole.INTAKE_OPERATOR, StaffRole.DISPATCHER)


class RateLimited(Exception):
    """Too many submissions from this phone (or address): nothing was recorded."""


# --- what a channel sends and gets back ---------------------------------------------------


@dataclass(frozen=True)
class SubmittedFile:
    """A file sent with a submission (its name as the sender gave it, and its bytes)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class SubmissionData:
    """What a petitioner tells about her request, whatever the channel.

    ``anonymous`` with a ``phone`` is anonymous but contactable: no name is kept, the phone
    is, with the safe-contact instructions (``may_call``, ``may_text``, ``safe_from`` to
    ``safe_until`` local time) that every call-back and notification obeys.
    """

    description: str
    category: Category
    region: Region
    address: str = ""
    anonymous: bool = False
    name: str = ""
    phone: str = ""
    may_call: bool = True
    may_text: bool = False
    safe_from: datetime.time | None = None
    safe_until: datetime.time | None = None
    request_type: str = RequestType.HELP
    files: Sequence[SubmittedFile] = ()
    language: str = ""


@dataclass(frozen=True)
class IssuedCode:
    """A tracking code and PIN just issued: the only moment they exist in the clear."""

    tracking: TrackingCode
    code: str
    pin: str

    @property
    def display_code(self) -> str:
        return codes.display(self.code)


@dataclass(frozen=True)
class SubmissionResult:
    """What ``submit_request`` recorded: show ``code`` and ``pin`` once, they are not kept.

    ``created`` is False when the same idempotency key was seen before: the record is the
    first one, and a fresh code and PIN replace the ones issued then (those may never have
    reached her; the old ones stop working).
    """

    contact: Contact
    case: Case | None
    code: str
    pin: str
    expected_at: datetime.datetime | None
    created: bool = True


class PublicState:
    """The states a petitioner reads (plain words in ``PublicStatus.label``)."""

    RECEIVED = "received"
    NOT_ACCEPTED = "not_accepted"
    REGISTERED = "registered"
    SENT = "sent"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    ANSWERED = "answered"


_LABELS = {
    PublicState.RECEIVED: gettext_lazy("Received, waiting to be checked"),
    PublicState.NOT_ACCEPTED: gettext_lazy("Not accepted"),
    PublicState.REGISTERED: gettext_lazy("Registered, a responsible unit is being chosen"),
    PublicState.SENT: gettext_lazy("Sent to the responsible unit"),
    PublicState.IN_PROGRESS: gettext_lazy("Being handled"),
    PublicState.RESOLVED: gettext_lazy("Handled, the result is being checked"),
    PublicState.CLOSED: gettext_lazy("Closed"),
    PublicState.ANSWERED: gettext_lazy("Answered"),
}

_CASE_STATES = {
    CaseStatus.REGISTERED: PublicState.REGISTERED,
    CaseStatus.DISPATCHED: PublicState.SENT,
    CaseStatus.IN_PROGRESS: PublicState.IN_PROGRESS,
    CaseStatus.RESOLVED: PublicState.RESOLVED,
    CaseStatus.CLOSED: PublicState.CLOSED,
    CaseStatus.ANSWERED: PublicState.ANSWERED,
    CaseStatus.NOT_ACCEPTED: PublicState.NOT_ACCEPTED,
}

FINISHED_STATES = frozenset({PublicState.NOT_ACCEPTED, PublicState.CLOSED, PublicState.ANSWERED})


@dataclass(frozen=True)
class PublicStatus:
    """What the code alone shows: the state in plain words and the expected date."""

    state: str
    label: str
    submitted_at: datetime.datetime
    expected_at: datetime.datetime | None = None
    expected_text: str = ""
    finished_at: datetime.datetime | None = None
    merged: bool = False

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


@dataclass(frozen=True)
class PublicNote:
    """One public progress note: when, and what the petitioner reads (in her language)."""

    at: datetime.datetime
    message: str


@dataclass(frozen=True)
class PublicDetails:
    """What the code and the PIN show: the status, the responsible unit (never a person), the notes."""

    status: PublicStatus
    unit_name: str
    notes: list[PublicNote] = field(default_factory=list)
    case: Case | None = None


# --- codes ---------------------------------------------------------------------------------


def _fixed_codes_allowed() -> bool:
    return bool(settings.DEMO or settings.TESTING)


def _new_digest_and_pin(code: str | None, pin: str | None) -> tuple[str, str]:
    if (code is not None or pin is not None) and not _fixed_codes_allowed():
        raise ValueError("fixed tracking codes are only for the demo and the tests")
    chosen = codes.normalise(code) if code is not None else codes.new_code()
    if chosen is None:
        raise ValueError("not a tracking code")
    if pin is not None and not codes.is_pin(pin):
        raise ValueError("not a PIN")
    return chosen, pin if pin is not None else codes.new_pin()


def issue_tracking_code(
    *, channel: str, contact: Contact | None = None, case: Case | None = None, code: str | None = None, pin: str | None = None
) -> IssuedCode:
    """Issue a tracking code and PIN for a contact and/or a case; return them in the clear, once.

    Only the code's HMAC and the PIN's hash are stored. ``code`` and ``pin`` may be fixed
    only in the demo and the tests (``RIGHTSCARE_DEMO``/testing), for documented examples.
    """
    if contact is None and case is None:
        raise ValueError("a tracking code needs a contact or a case")
    for _attempt in range(3):
        chosen, chosen_pin = _new_digest_and_pin(code, pin)
        try:
            with transaction.atomic():
                tracking = TrackingCode.objects.create(
                    code_digest=codes.digest(chosen), pin_hash=codes.hash_pin(chosen_pin), contact=contact, case=case, channel=channel
                )
        except IntegrityError:
            # 80 random bits do not collide in practice; a fixed demo code may already exist.
            if code is not None:
                raise
            continue
        return IssuedCode(tracking=tracking, code=chosen, pin=chosen_pin)
    raise RuntimeError("could not issue a unique tracking code")


def reissue_tracking_code(tracking: TrackingCode) -> IssuedCode:
    """Replace a code and PIN by fresh ones (the old ones stop working at once)."""
    chosen, pin = codes.new_code(), codes.new_pin()
    TrackingCode.objects.filter(pk=tracking.pk).update(code_digest=codes.digest(chosen), pin_hash=codes.hash_pin(pin), updated_at=timezone.now())
    tracking.refresh_from_db()
    return IssuedCode(tracking=tracking, code=chosen, pin=pin)


def issue_code_for_taken_call(*, case: Case, contact: Contact, by: Any) -> IssuedCode:
    """The hook of ``intake.services.take_call``: a call registered as a case gets its code.

    Not audited on its own: the registration it belongs to is, in the same transaction,
    and the code row keeps when it was issued.
    """
    return issue_tracking_code(channel=contact.channel, contact=contact, case=case)


def ensure_tracking_code(*, case: Case, code: str | None = None, pin: str | None = None) -> IssuedCode | None:
    """Give a case a tracking code unless it has one (the demo data, cases registered elsewhere)."""
    if TrackingCode.objects.filter(case=case).exists():
        return None
    contact = case.contacts.order_by("occurred_at", "pk").first()
    return issue_tracking_code(channel=contact.channel if contact else "", contact=contact, case=case, code=code, pin=pin)


def find_tracking(code: str) -> TrackingCode | None:
    """The tracking code typed (in any grouping or case), or None; one indexed query either way.

    A code found under an older index key is rewritten under the active one, so codes keep
    working across a rotation of the index key.
    """
    normalised = codes.normalise(code)
    if normalised is None:
        # Spend the time of a lookup anyway: a malformed code answers like an unknown one.
        codes.digest_candidates("0" * codes.CODE_LENGTH)
        return None
    candidates = codes.digest_candidates(normalised)
    tracking = TrackingCode.objects.select_related("contact", "case").filter(code_digest__in=candidates).first()
    if tracking is not None and tracking.code_digest != candidates[0]:
        active = codes.digest(normalised)
        TrackingCode.objects.filter(pk=tracking.pk).update(code_digest=active)
        tracking.code_digest = active
    return tracking


def check_pin(tracking: TrackingCode | None, pin: str) -> bool:
    """Whether the PIN is the tracking code's; without a code it takes as long and says no.

    A matching PIN stored in an older form (a password hash, an index key rotated out of
    use) is rewritten in the current one.
    """
    pin = pin.strip()
    matched = codes.pin_matches(pin, tracking.pin_hash if tracking is not None else None)
    if matched and tracking is not None and codes.pin_needs_rewrite(tracking.pin_hash):
        tracking.pin_hash = codes.hash_pin(pin)
        TrackingCode.objects.filter(pk=tracking.pk).update(pin_hash=tracking.pin_hash)
    return matched


def note_use(tracking: TrackingCode) -> None:
    """Remember when the code was last used with its PIN (for retention rules)."""
    TrackingCode.objects.filter(pk=tracking.pk).update(last_used_at=timezone.now())


# --- where a submission goes ---------------------------------------------------------------


def receiving_unit(region: Region) -> Unit | None:
    """The unit whose intake queue a submission located in ``region`` goes to: the most local
    active unit covering the place that has intake operators or dispatchers."""
    ancestors = region.ancestor_ids()
    units = (
        Unit.objects.filter(is_active=True, region_id__in=ancestors)
        .filter(pk__in=Membership.objects.active().filter(role__in=INTAKE_ROLES).values("unit_id"))
        .select_related("region")
    )
    best = max(units, key=lambda unit: (unit.region.depth, -unit.pk), default=None)
    return best


def submission_regions() -> QuerySet[Region]:
    """Where a public submission may be located: streets, communities and districts covered by
    a unit that takes intake."""
    from rightscare.org.divisions import RegionLevel

    paths = set(
        Unit.objects.filter(is_active=True)
        .filter(pk__in=Membership.objects.active().filter(role__in=INTAKE_ROLES).values("unit_id"))
        .values_list("region__path", flat=True)
    )
    if not paths:
        return Region.objects.none()
    return Region.objects.filter(access.path_prefix_q("path", paths), level__in=(RegionLevel.DISTRICT, RegionLevel.STREET, RegionLevel.COMMUNITY))


def current_categories() -> QuerySet[Category]:
    """Categories a request may be filed under: current, second level (or a first level without children)."""
    current = Category.objects.filter(valid_until__isnull=True)
    with_children = current.filter(parent__isnull=False).values("parent_id")
    return current.exclude(Q(parent__isnull=True) & Q(pk__in=with_children))


def is_trusted_channel(channel: str) -> bool:
    """Whether the channel's submissions become cases at once (``RIGHTSCARE_TRUSTED_CHANNELS``)."""
    return channel in set(getattr(settings, "PUBLIC_TRUSTED_CHANNELS", ()))


def review_due(unit: Unit, start: datetime.datetime | None = None) -> datetime.datetime:
    """By when the receiving unit checks a new submission (``PUBLIC_REVIEW_WORKING_DAYS`` working days)."""
    days = int(getattr(settings, "PUBLIC_REVIEW_WORKING_DAYS", 2))
    return workcalendar.add_working_days(deadlines.calendar_for(unit), start or timezone.now(), days).instant


def _validate(channel: str, submission: SubmissionData) -> str:
    """Check a submission; return the normalised phone. Raises ``ValidationError`` by field."""
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if not submission.description.strip():
        errors["description"] = [_("Describe what happened.")]
    elif len(submission.description) > MAX_DESCRIPTION:
        errors["description"] = [_("Please keep the description shorter (at most 5,000 characters).")]
    if submission.request_type not in RequestType.values:
        errors["request_type"] = [_("Unknown request type.")]
    if not current_categories().filter(pk=submission.category.pk).exists():
        errors["category"] = [_("Choose one of the categories listed.")]
    if not submission_regions().filter(pk=submission.region.pk).exists():
        errors["region"] = [_("Choose one of the places listed.")]
    if len(submission.address) > 300:
        errors["address"] = [_("The address is too long.")]
    if len(submission.name) > 100:
        errors["name"] = [_("The name is too long.")]
    normalised = ""
    if submission.phone.strip():
        try:
            normalised = identity.normalise_phone(submission.phone)
        except ValidationError as error:
            errors["phone"] = list(error.messages)
    elif not submission.anonymous:
        errors["phone"] = [_("Give a phone number so that we can reach you, or choose to stay anonymous.")]
    if submission.anonymous and not normalised and (submission.may_call or submission.may_text):
        errors["phone"] = [_("Give a phone number so that we can reach you, or say that we may not contact you.")]
    if (submission.safe_from is None) != (submission.safe_until is None):
        errors["safe_until"] = [_("Give both times, or neither.")]
    if len(submission.files) > MAX_FILES:
        errors["files"] = [_("At most 3 files.")]
    if errors:
        raise ValidationError(errors)
    return normalised


def _phone_index(normalised: str) -> str:
    from rightscare.core.fields import BlindIndexField

    index = Contact._meta.get_field("caller_phone_index")
    assert isinstance(index, BlindIndexField)
    return index.digest(normalised)


def submit_request(*, channel: str, submission: SubmissionData, trusted: bool = False, idempotency_key: str | None = None) -> SubmissionResult:
    """Record a request the petitioner sent herself and issue its tracking code and PIN.

    * It lands as a contact of ``channel`` (no operator) in the intake queue of the unit
      that takes intake for the place (``receiving_unit``), with its details
      (``Submission``) and files (cleaned like case files, always encrypted).
    * ``trusted`` (a trusted channel, ``is_trusted_channel``) registers it as a case at
      once, in the name of the service account ``RIGHTSCARE_PUBLIC_INTAKE_USER``; without
      one able to register for the place it waits in the queue like any other.
    * ``idempotency_key``: the same key (per channel) returns the first record, with a fresh
      code and PIN (``SubmissionResult.created`` False); nothing is recorded twice.
    * At most ``PUBLIC_RATE_LIMITS["submit_phone"]`` new submissions per phone (``RateLimited``).

    Raises ``ValidationError`` naming the field (``description``, ``category``, ``region``,
    ``phone``, ``safe_until``, ``files``, ``file``) and records nothing then.
    """
    key = (idempotency_key or "").strip()[:100]
    scope = f"public:{channel}"[:64]
    if key:
        replay = _replay(scope, key)
        if replay is not None:
            return replay
    phone = _validate(channel, submission)
    unit = receiving_unit(submission.region)
    if unit is None:
        raise ValidationError({"region": [_("Requests for this place cannot be taken online yet: please call the hotline.")]})
    cleaned = [case_files.clean_upload(name=item.name, data=item.data) for item in submission.files]
    if phone and not ratelimit.hit(ratelimit.submission_per_phone(), phone):
        raise RateLimited
    stored: list[str] = []
    try:
        with transaction.atomic():
            claim = None
            if key:
                try:
                    with transaction.atomic():
                        claim = PublicSubmissionKey.objects.create(scope=scope, key=key)
                except IntegrityError:
                    replay = _replay(scope, key)
                    if replay is not None:
                        return replay
                    raise Conflict(_("This request is being sent already: wait a moment and look it up with your code.")) from None
            contact = Contact.objects.create(
                channel=channel,
                occurred_at=timezone.now(),
                operator=None,
                unit=unit,
                caller_phone=phone,
                caller_phone_index=_phone_index(phone) if phone else "",
                content=submission.description.strip(),
                outcome=Outcome.NO_ACTION,
                review_state=ReviewState.PENDING,
            )
            Submission.objects.create(
                contact=contact,
                anonymous=submission.anonymous,
                name="" if submission.anonymous else submission.name.strip(),
                category=submission.category,
                region=submission.region,
                address=submission.address.strip(),
                may_call=submission.may_call,
                may_text=submission.may_text,
                safe_from=submission.safe_from,
                safe_until=submission.safe_until,
                language=submission.language[:16],
            )
            for clean in cleaned:
                storage_name = case_files.store(storage_name=case_files.new_storage_name(), data=clean.data, encrypt=True)
                stored.append(storage_name)
                SubmissionFile.objects.create(
                    contact=contact,
                    name=clean.name,
                    content_type=clean.content_type,
                    size=len(clean.data),
                    sha256=hashlib.sha256(clean.data).hexdigest(),
                    storage_name=storage_name,
                )
            if claim is not None:
                PublicSubmissionKey.objects.filter(pk=claim.pk).update(contact=contact)
            issued = issue_tracking_code(channel=channel, contact=contact)
            record(
                actor=None,
                action=AuditAction.CREATE,
                event="petitioners.submit_request",
                obj=contact,
                unit=unit,
                changes={"channel": channel, "caller_phone": "changed" if phone else None, "files": len(cleaned)},
            )
            case = _register_trusted(contact) if trusted else None
    except BaseException:
        for name in stored:
            case_files.discard(name)
        raise
    status = public_status(issued.tracking)
    return SubmissionResult(contact=contact, case=case, code=issued.display_code, pin=issued.pin, expected_at=status.expected_at)


def _replay(scope: str, key: str) -> SubmissionResult | None:
    claim = PublicSubmissionKey.objects.filter(scope=scope, key=key, contact__isnull=False).select_related("contact").first()
    if claim is None or claim.contact is None:
        return None
    tracking = TrackingCode.objects.filter(contact=claim.contact).order_by("pk").first()
    if tracking is None:
        return None
    issued = reissue_tracking_code(tracking)
    status = public_status(issued.tracking)
    return SubmissionResult(
        contact=claim.contact, case=current_case(issued.tracking), code=issued.display_code, pin=issued.pin, expected_at=status.expected_at, created=False
    )


def _service_user() -> Any:
    username = getattr(settings, "PUBLIC_INTAKE_USER", "")
    if not username:
        return None
    return get_user_model().objects.filter(username=username, is_active=True).first()


def _register_trusted(contact: Contact) -> Case | None:
    """Register a trusted channel's submission as a case in the service account's name (or leave it queued)."""
    user = _service_user()
    if user is None:
        return None
    details = contact.submission
    units = [u for u in _intake_units(user) if details.region.path.startswith(u.region.path)]
    if not units:
        return None
    unit = next((u for u in units if u.pk == contact.unit_id), max(units, key=lambda u: u.region.depth))
    return confirm_submission(
        contact=contact,
        by=user,
        unit=unit,
        request_type=RequestType.HELP,
        category=details.category,
        region=details.region,
        address=details.address,
        summary=contact.content,
    )


# --- the intake queue -----------------------------------------------------------------------


def _intake_units(user: Any) -> list[Unit]:
    return list(
        Unit.objects.filter(pk__in={g.unit_id for g in access.grants_of(user) if g.capabilities & INTAKE_CAPABILITIES}, is_active=True).select_related("region")
    )


def submissions_for(user: Any) -> QuerySet[Contact]:
    """Self-submitted contacts she may check: those sent to her intake units, and for an
    operator or dispatcher of a federation or committee, those located in its area."""
    grants = [g for g in access.grants_of(user) if g.capabilities & INTAKE_CAPABILITIES]
    if not grants:
        return Contact.objects.none()
    reach = Q(unit_id__in={g.unit_id for g in grants})
    area = {g.region_path for g in grants if g.family in access.AREA_FAMILIES}
    if area:
        reach |= access.path_prefix_q("submission__region__path", area)
    return Contact.objects.filter(submission__isnull=False).filter(reach)


def pending_submissions_for(user: Any) -> QuerySet[Contact]:
    """Her queue: self-submitted contacts still waiting to be checked, oldest first."""
    return submissions_for(user).filter(review_state=ReviewState.PENDING).order_by("occurred_at", "pk")


def _require_in_queue(by: Any, contact: Contact) -> None:
    if not submissions_for(by).filter(pk=contact.pk).exists():
        raise PermissionDenied


def _lock_pending(contact: Contact) -> Contact:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    if locked.review_state != ReviewState.PENDING:
        raise ValidationError({"__all__": [_("This submission has already been checked.")]})
    return locked


def _move_files(*, contact: Contact, case: Case, by: Any, unit: Unit) -> None:
    for item in SubmissionFile.objects.filter(contact=contact, attachment__isnull=True):
        attachment = Attachment.objects.create(
            case=case,
            name=item.name,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            storage_name=item.storage_name,
            encrypted=True,
            uploaded_by=by,
            uploaded_by_unit=unit,
        )
        SubmissionFile.objects.filter(pk=item.pk).update(attachment=attachment)
        record_event(
            case=case,
            kind=EventKind.ATTACHMENT,
            actor=by,
            unit=unit,
            text=item.name,
            data={"attachment": attachment.pk, "content_type": item.content_type, "size": item.size, "submitted": True},
        )


def _record_petitioner(*, by: Any, unit: Unit, details: Submission, phone: str) -> Person | None:
    if not phone and not details.name:
        return None
    return record_person(
        by=by,
        unit=unit,
        name=details.name,
        phones=[(phone, False)] if phone else [],
        safe_contact=SafeContactInput(may_call=details.may_call, may_text=details.may_text, safe_from=details.safe_from, safe_until=details.safe_until),
    )


def confirm_submission(
    *,
    contact: Contact,
    by: Any,
    unit: Unit,
    request_type: str,
    category: Category,
    region: Region,
    summary: str,
    address: str = "",
    urgency: str = Urgency.NORMAL,
) -> Case:
    """Confirm a submission into a new case registered by ``unit`` (``cases.services.register_case``).

    The petitioner is recorded with her phone and safe-contact instructions (unless she gave
    neither name nor phone), the contact joins the case, the files become case attachments,
    and the tracking code now points at the case. Raises ``PermissionDenied`` outside her
    queue, ``ValidationError`` when it was already checked or the case details are wrong.
    """
    _require_in_queue(by, contact)
    with transaction.atomic():
        locked = _lock_pending(contact)
        details = Submission.objects.get(contact=locked)
        petitioner = _record_petitioner(by=by, unit=unit, details=details, phone=locked.caller_phone)
        case = register_case(
            by=by,
            unit=unit,
            request_type=request_type,
            category=category,
            summary=summary,
            region=region,
            address=address,
            urgency=urgency,
            petitioner=petitioner,
        )
        now = timezone.now()
        Contact.objects.filter(pk=locked.pk).update(
            case=case, caller=petitioner, outcome=Outcome.NEW_CASE, review_state=ReviewState.CONFIRMED, reviewed_at=now, reviewed_by=by, updated_at=now
        )
        record_event(case=case, kind=EventKind.CONTACT, actor=by, unit=unit, data={"contact": locked.pk, "channel": locked.channel})
        _move_files(contact=locked, case=case, by=by, unit=unit)
        TrackingCode.objects.filter(contact=locked).update(case=case, updated_at=now)
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="petitioners.confirm_submission",
            obj=locked,
            unit=unit,
            changes={"review_state": [ReviewState.PENDING, ReviewState.CONFIRMED], "case": [None, case.number]},
        )
    return case


def attach_submission(*, contact: Contact, case: Case, by: Any) -> Contact:
    """Attach a submission to the existing case it is about; the tracking code follows it there."""
    _require_in_queue(by, contact)
    if not Case.objects.visible_to(by).filter(pk=case.pk).exists():
        raise PermissionDenied
    units = _intake_units(by)
    unit = next((u for u in units if u.pk == contact.unit_id), units[0] if units else None)
    if unit is None:
        raise PermissionDenied
    with transaction.atomic():
        locked = _lock_pending(contact)
        now = timezone.now()
        Contact.objects.filter(pk=locked.pk).update(
            case=case, outcome=Outcome.ATTACHED, review_state=ReviewState.CONFIRMED, reviewed_at=now, reviewed_by=by, updated_at=now
        )
        record_event(case=case, kind=EventKind.CONTACT, actor=by, unit=unit, data={"contact": locked.pk, "channel": locked.channel, "submitted": True})
        _move_files(contact=locked, case=case, by=by, unit=unit)
        TrackingCode.objects.filter(contact=locked).update(case=case, updated_at=now)
        record(
            actor=by,
            action=AuditAction.UPDATE,
            event="petitioners.attach_submission",
            obj=locked,
            unit=unit,
            changes={"review_state": [ReviewState.PENDING, ReviewState.CONFIRMED], "case": [None, case.number]},
        )
    locked.refresh_from_db()
    return locked


def reject_submission(*, contact: Contact, by: Any, reason: str) -> Contact:
    """Do not accept a submission; ``reason`` is what she reads with her code and PIN."""
    _require_in_queue(by, contact)
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why the request is not accepted.")]})
    with transaction.atomic():
        locked = _lock_pending(contact)
        now = timezone.now()
        Contact.objects.filter(pk=locked.pk).update(
            outcome=Outcome.NO_ACTION, review_state=ReviewState.REJECTED, review_reason=reason.strip(), reviewed_at=now, reviewed_by=by, updated_at=now
        )
        record(actor=by, action=AuditAction.UPDATE, event="petitioners.reject_submission", obj=locked, unit=locked.unit, reason=reason.strip())
    locked.refresh_from_db()
    return locked


# --- what the petitioner reads ------------------------------------------------------------


def _case_chain(tracking: TrackingCode) -> list[Case]:
    """The case the code points at and the cases it was merged into, in order."""
    first = tracking.case
    if first is None and tracking.contact is not None and tracking.contact.case_id is not None:
        first = tracking.contact.case
    chain: list[Case] = []
    current = first
    while current is not None and all(case.pk != current.pk for case in chain):
        chain.append(current)
        current = Case.objects.filter(pk=current.merged_into_id).first() if current.merged_into_id else None
    return chain


def current_case(tracking: TrackingCode) -> Case | None:
    """The case she follows now: the code's case, or the one it was merged into (followed to the end)."""
    chain = _case_chain(tracking)
    return chain[-1] if chain else None


def _lead_order(case: Case) -> WorkOrder | None:
    return (
        WorkOrder.objects.filter(case=case, role=Role.LEAD, parent__isnull=True, status__in=[*ACTIVE_WORK_ORDER_STATUSES, WorkOrderStatus.ACCEPTED])
        .select_related("unit")
        .order_by("-created_at", "-pk")
        .first()
    )


def _resolution_due(order: WorkOrder | None) -> datetime.datetime | None:
    if order is None:
        return None
    from rightscare.supervision.models import ClockKind, WorkOrderClock

    clock = WorkOrderClock.objects.filter(work_order=order, kind=ClockKind.RESOLUTION).first()
    return clock.due_at if clock is not None else None


def _submitted_at(tracking: TrackingCode) -> datetime.datetime:
    if tracking.contact is not None:
        return tracking.contact.occurred_at
    return tracking.case.created_at if tracking.case is not None else tracking.created_at


def public_status(tracking: TrackingCode) -> PublicStatus:
    """The status in plain words and the expected date (what the code alone shows)."""
    submitted = _submitted_at(tracking)
    chain = _case_chain(tracking)
    if not chain:
        contact = tracking.contact
        assert contact is not None
        if contact.review_state == ReviewState.REJECTED:
            return PublicStatus(PublicState.NOT_ACCEPTED, str(_LABELS[PublicState.NOT_ACCEPTED]), submitted, finished_at=contact.reviewed_at)
        return PublicStatus(
            PublicState.RECEIVED,
            str(_LABELS[PublicState.RECEIVED]),
            submitted,
            expected_at=review_due(contact.unit, contact.occurred_at),
            expected_text=_("New requests are checked within a few working days."),
        )
    case = chain[-1]
    state = _CASE_STATES.get(CaseStatus(case.status), PublicState.REGISTERED)
    merged = len(chain) > 1
    if state in FINISHED_STATES or state == PublicState.RESOLVED:
        return PublicStatus(state, str(_LABELS[state]), submitted, finished_at=case.closed_at or case.resolved_at, merged=merged)
    due = _resolution_due(_lead_order(case))
    if due is not None:
        return PublicStatus(state, str(_LABELS[state]), submitted, expected_at=due, merged=merged)
    return PublicStatus(
        state,
        str(_LABELS[state]),
        submitted,
        expected_text=_("The expected date is set once your request has been sent to the responsible unit."),
        merged=merged,
    )


def _responsible_unit(tracking: TrackingCode) -> Unit | None:
    case = current_case(tracking)
    if case is None:
        return tracking.contact.unit if tracking.contact is not None else None
    order = _lead_order(case)
    return order.unit if order is not None else case.registering_unit


def public_timeline(tracking: TrackingCode) -> list[PublicNote]:
    """The public progress notes in order (after the PIN): never a person's name, only what the
    units wrote for her or the system's public messages, translated to the reader's language."""
    notes: list[PublicNote] = []
    contact = tracking.contact
    if contact is not None and contact.operator_id is None:
        notes.append(PublicNote(contact.occurred_at, _("Your request was received.")))
    chain = _case_chain(tracking)
    since: datetime.datetime | None = None
    for index, case in enumerate(chain):
        events = CaseEvent.objects.filter(case=case, visibility=Visibility.PUBLIC).exclude(public_text="").order_by("at", "pk")
        if since is not None:
            events = events.filter(at__gte=since)
        if index + 1 < len(chain):
            merge = CaseEvent.objects.filter(case=case, kind=EventKind.MERGED).order_by("-at", "-pk").first()
            if merge is not None:
                events = events.filter(at__lte=merge.at)
                since = merge.at
        notes.extend(PublicNote(event.at, event.public_message) for event in events)
    if not chain and contact is not None and contact.review_state == ReviewState.REJECTED:
        reason = contact.review_reason
        message = _("Your request was not accepted: %(reason)s") % {"reason": reason} if reason else _("Your request was not accepted.")
        notes.append(PublicNote(contact.reviewed_at or contact.updated_at, message))
    notes.sort(key=lambda note: note.at)
    return notes


def public_details(tracking: TrackingCode) -> PublicDetails:
    """Everything the code and PIN show: status, responsible unit (its name only), notes."""
    unit = _responsible_unit(tracking)
    return PublicDetails(
        status=public_status(tracking),
        unit_name=unit.display_name if unit is not None else "",
        notes=public_timeline(tracking),
        case=current_case(tracking),
    )
