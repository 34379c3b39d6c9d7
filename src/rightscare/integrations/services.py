"""Use cases of the channel adapters: hotline (CTI) events and the operator's pop-up, the 12345
report-back and outbound webhooks, and their deliveries.

Inbound, the telephony system posts signed call events (:func:`receive_cti_event`); each
accepted event's id and signature are stored under a unique constraint, so a replayed
request is answered as a duplicate and changes nothing. The operator whose extension
rings sees the call and the caller's history in her scope (:func:`current_call`), and the
call is attached to the contact she saves (:func:`attach_call`).

Outbound, :func:`record_case_change` is called by ``cases.services`` inside the transaction
that creates a case or changes its status: it writes one :class:`~.models.Delivery` per
webhook subscriber (and one per 12345 ticket when the case reaches a result), so that a
delivery exists exactly when the change does, and triggers the sender once the
transaction commits. :func:`deliver_due` sends them **at least once**, like the outbox of
messages (claims with leases, exponential backoff, failed after
``INTEGRATIONS_MAX_ATTEMPTS``); every try is logged as a :class:`~.models.DeliveryAttempt`.
Receivers drop duplicates by the ``X-RightsCare-Delivery`` header (webhooks) or the
``Idempotency-Key`` header, ticket and status (12345).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import requests
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.core import identity, leasing
from rightscare.integrations import signing
from rightscare.integrations.models import (
    CALL_STATE_ORDER,
    CallRecord,
    CallState,
    CtiEvent,
    Delivery,
    DeliveryAttempt,
    DeliveryKind,
    DeliveryStatus,
    OperatorExtension,
    WebhookEvent,
    WebhookSubscription,
)
from rightscare.org import access
from rightscare.org.roles import Role

logger = logging.getLogger(__name__)

#: Case statuses the 12345 platform is told about: its ticket has a result.
REPORTED_TO_12345 = frozenset({"resolved", "closed", "not_accepted", "answered"})
#: A call still "ringing" or "answered" after this long lost its "ended" event: it no longer pops up.
LONGEST_CALL = timedelta(hours=4)
#: HTTP answers worth trying again (the other side is busy or timed out); other 4xx are final.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 409, 425, 429})
MAX_ERROR = 500


def may_manage_integrations(user: Any) -> bool:
    """System administrators manage webhooks, operator extensions and the delivery log."""
    return access.has_global_role(user, Role.SYSTEM_ADMIN)


def _require_manager(by: Any) -> None:
    if not may_manage_integrations(by):
        raise PermissionDenied


# --- the hotline (CTI) -----------------------------------------------------------------------------


class CtiRefused(Exception):
    """A CTI request that is not accepted: nothing of it is stored."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors or []


class CtiEventIn(BaseModel):
    """The body of a CTI event (JSON; unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    event_id: str = Field(min_length=1, max_length=100)
    event: Literal["ringing", "answered", "ended"]
    call_id: str = Field(min_length=1, max_length=100)
    caller: str = Field("", max_length=40)
    extension: str = Field("", max_length=32)
    at: AwareDatetime
    recording_url: str = Field("", max_length=500)


@dataclass(frozen=True)
class CtiOutcome:
    """What became of an accepted request: ``accepted`` (applied) or ``duplicate`` (a replay, ignored)."""

    status: Literal["accepted", "duplicate"]
    call: CallRecord | None


class _Replayed(Exception):
    pass


def _check_signature(*, body: bytes, timestamp: str, signature: str, now: datetime) -> None:
    secret = str(settings.CTI_SECRET or "")
    # An unconfigured secret accepts nothing: an empty key would make every signature forgeable.
    if not secret or not signing.verify(secret=secret, timestamp=timestamp.strip(), body=body, signature=signature):
        raise CtiRefused(403, "The signature is missing or wrong.")
    if abs(now.timestamp() - int(timestamp.strip())) > float(settings.CTI_TOLERANCE_SECONDS):
        raise CtiRefused(403, "The timestamp is outside the accepted window.")


def _parse_event(body: bytes) -> CtiEventIn:
    try:
        event = CtiEventIn.model_validate_json(body)
    except PydanticValidationError as error:
        errors = [{"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"]} for e in error.errors()]
        raise CtiRefused(422, "The event is not valid.", errors) from error
    if event.recording_url:
        try:
            URLValidator(schemes=["http", "https"])(event.recording_url)
        except ValidationError as error:
            raise CtiRefused(422, "The event is not valid.", [{"field": "recording_url", "message": "Not an http(s) URL."}]) from error
    return event


def _caller_number(raw: str) -> str:
    # A withheld or foreign-format number is not a reason to lose the call: it pops up without history.
    try:
        return identity.normalise_phone(raw) if raw else ""
    except ValidationError:
        return ""


def receive_cti_event(*, body: bytes, timestamp: str, signature: str, now: datetime | None = None) -> CtiOutcome:
    """Apply one call event the telephony system posted (ringing, answered, ended).

    Preconditions, checked in this order, each refusing with nothing stored
    (:class:`CtiRefused`): a valid HMAC signature of ``timestamp.body`` under
    ``CTI_SECRET`` (403), a timestamp within ``CTI_TOLERANCE_SECONDS`` of now (403), a
    valid body (422). An event whose id or signature was accepted before is a replay:
    answered ``duplicate``, nothing changes. Otherwise the call is created or moved on
    (never back: ``answered`` after ``ended`` only fills its time) and routed to the
    operator mapped to its extension.
    """
    now = now or timezone.now()
    _check_signature(body=body, timestamp=timestamp, signature=signature, now=now)
    event = _parse_event(body)
    digest = signing.parse_signature(signature)
    try:
        with transaction.atomic():
            if CtiEvent.objects.filter(Q(event_id=event.event_id) | Q(signature=digest)).exists():
                raise _Replayed
            call, _created = CallRecord.objects.select_for_update().get_or_create(call_id=event.call_id)
            try:
                with transaction.atomic():
                    CtiEvent.objects.create(event_id=event.event_id, signature=digest, kind=event.event, call=call)
            except IntegrityError as error:
                # The same event, accepted by a concurrent request in the meantime.
                raise _Replayed from error
            _apply_event(call, event)
    except _Replayed:
        return CtiOutcome(status="duplicate", call=None)
    return CtiOutcome(status="accepted", call=call)


def _apply_event(call: CallRecord, event: CtiEventIn) -> None:
    at = event.at.astimezone(UTC)
    if event.caller and not call.caller_phone:
        call.caller_phone = _caller_number(event.caller)
    if event.extension and event.event != "ended":
        # The extension that rings or answers is the one whose operator sees the call (a transfer moves it).
        call.extension = event.extension
        mapping = OperatorExtension.objects.filter(extension=event.extension).first()
        call.operator_id = mapping.user_id if mapping is not None else None
    elif event.extension and not call.extension:
        call.extension = event.extension
    setattr(call, f"{event.event}_at", getattr(call, f"{event.event}_at") or at)
    if CALL_STATE_ORDER[CallState(event.event)] > CALL_STATE_ORDER[CallState(call.state)]:
        call.state = event.event
    if event.recording_url:
        call.recording_url = event.recording_url
    call.save()


def current_call(*, user: Any, now: datetime | None = None) -> CallRecord | None:
    """The call to show in her pop-up: ringing or answered at her extension, or ended lately and not yet on a contact.

    An ended call stays for ``CTI_POPUP_LINGER_SECONDS`` so that the contact saved after
    hanging up still gets it.
    """
    now = now or timezone.now()
    linger = now - timedelta(seconds=float(settings.CTI_POPUP_LINGER_SECONDS))
    live = Q(state__in=[CallState.RINGING, CallState.ANSWERED], updated_at__gte=now - LONGEST_CALL)
    finished = Q(state=CallState.ENDED, contact__isnull=True, ended_at__gte=linger)
    return CallRecord.objects.filter(operator=user).filter(live | finished).order_by("-updated_at", "-id").first()


def has_extension(user: Any) -> bool:
    """Whether a telephone extension is mapped to her (otherwise her screen stops polling)."""
    return OperatorExtension.objects.filter(user=user).exists()


def attach_call(*, by: Any, call_id: str | int | None, contact: Any) -> CallRecord | None:
    """Attach the call shown in her pop-up to the contact she has just saved; audited.

    Called inside the transaction that saves the contact. Only her own call (routed to
    her extension), not yet on a contact, goes on her own contact; anything else (a stale
    or foreign id in the form) is ignored and None returned: the contact is saved either way.
    """
    text = str(call_id or "").strip()
    if not text.isdigit() or contact is None or contact.operator_id != by.pk:
        return None
    changed = CallRecord.objects.filter(pk=int(text), operator=by, contact__isnull=True).update(contact=contact, updated_at=timezone.now())
    if not changed:
        return None
    call = CallRecord.objects.get(pk=int(text))
    audit.record(actor=by, action=AuditAction.UPDATE, event="integrations.attach_call", obj=call, unit=contact.unit, changes={"contact": contact.pk})
    return call


def map_extension(*, by: Any, extension: str, user: Any) -> OperatorExtension:
    """Route the calls of ``extension`` to ``user`` (replacing whoever had it); audited.

    ``by`` is a system administrator, or None for the ``map_extension`` command run on the server.
    """
    if by is not None:
        _require_manager(by)
    extension = extension.strip()
    if not extension or len(extension) > 32 or not all(c.isalnum() or c in "-_*#" for c in extension):
        raise ValidationError({"extension": [_("Enter the extension as the telephone system names it (letters, digits, - _ * #).")]})
    if not user.is_active:
        raise ValidationError({"user": [_("This account is not active.")]})
    with transaction.atomic():
        mapping, created = OperatorExtension.objects.update_or_create(extension=extension, defaults={"user": user})
        audit.record(
            actor=by,
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            event="integrations.map_extension",
            obj=mapping,
            changes={"extension": extension, "user": user.pk},
        )
    return mapping


def unmap_extension(*, by: Any, mapping: OperatorExtension) -> None:
    """Stop routing an extension's calls to anyone; audited."""
    if by is not None:
        _require_manager(by)
    with transaction.atomic():
        audit.record(actor=by, action=AuditAction.DELETE, event="integrations.unmap_extension", obj=mapping, changes={"user": mapping.user_id})
        mapping.delete()


# --- outbound: what is sent ---------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def region_code(case: Any) -> str | None:
    """The official code of the case's region or of its nearest ancestor that has one; None when the location is confidential."""
    from rightscare.org.models import Region

    if case.location_confidential:
        return None
    ids = [int(part) for part in case.region.path.strip("/").split("/") if part]
    coded = dict(Region.objects.filter(pk__in=ids).exclude(code="").values_list("pk", "code"))
    return next((coded[pk] for pk in reversed(ids) if pk in coded), None)


def case_payload(*, case: Any, event: str, previous: str, event_id: str, at: datetime) -> dict[str, Any]:
    """A webhook's body: the case number, status, category and region codes and timestamps — no personal data.

    Never names, phone numbers, addresses, free text or people's ids: a subscriber learns
    that a case exists and where it stands, not who it is about. The region code is left
    out (null) when the case's location is confidential (a victim who moved).
    """
    return {
        "id": event_id,
        "event": event,
        "occurred_at": _iso(at),
        "case": {
            "number": case.number,
            "status": case.status,
            "previous_status": previous or None,
            "request_type": case.request_type,
            "category": case.category.code,
            "region": region_code(case),
            "registered_at": _iso(case.created_at),
            "resolved_at": _iso(case.resolved_at),
            "closed_at": _iso(case.closed_at),
        },
    }


def report_payload(*, case: Any, contact: Any, status: str, at: datetime) -> dict[str, Any]:
    """The 12345 platform's report-back: its ticket number, the result status and the answer the petitioner was given."""
    result = {"not_accepted": case.not_accepted_reason, "answered": case.reply}.get(status, "")
    return {
        "ticket_number": contact.external_ticket_number,
        "status": status,
        "case_number": case.number,
        "result": result,
        "occurred_at": _iso(at),
    }


def _subscribed(subscription: WebhookSubscription, event: str, case: Any) -> bool:
    if event not in subscription.events:
        return False
    return subscription.region is None or case.region.path.startswith(subscription.region.path)


#: How long (seconds) a process trusts that no webhook subscription is active before asking again.
NO_SUBSCRIBERS_TTL = 5.0
#: When this process last found no active subscription (``time.monotonic()``), or None.
_no_subscribers_since: float | None = None


def _active_subscriptions() -> list[WebhookSubscription]:
    """The active webhook subscriptions, without a query on most calls when there are none.

    Most installations have none, and every case created or changing status asks. A process
    that found none trusts that for ``NO_SUBSCRIBERS_TTL`` seconds: a subscription saved or
    deleted in this process ends that at once (:func:`forget_subscribers`), one saved in
    another process within the TTL. When there are some they are read every time, so a
    deleted or deactivated one is never written to.
    """
    global _no_subscribers_since
    if _no_subscribers_since is not None and time.monotonic() - _no_subscribers_since < NO_SUBSCRIBERS_TTL:
        return []
    subscriptions = list(WebhookSubscription.objects.filter(active=True).select_related("region"))
    _no_subscribers_since = None if subscriptions else time.monotonic()
    return subscriptions


def forget_subscribers(**_kwargs: Any) -> None:
    """A subscription was saved or deleted: ask the database again, now and once it commits
    (connected to the model's signals in ``IntegrationsConfig.ready``)."""
    global _no_subscribers_since
    _no_subscribers_since = None
    transaction.on_commit(_forget_subscribers_now)


def _forget_subscribers_now() -> None:
    global _no_subscribers_since
    _no_subscribers_since = None


def record_case_change(*, case_id: int, previous: str, status: str) -> int:
    """Queue what other systems are told of a case that was created (``previous`` "") or changed status.

    Called by ``cases.services`` inside the transaction of the change. Writes a webhook
    delivery per active subscription to the event (and the case's region), and, when the
    status is a result (resolved, closed, not accepted, answered) and ``PLATFORM_12345_URL``
    is set, a report-back per 12345 ticket on the case (once per ticket and status). The
    sender runs once the transaction commits. Returns how many deliveries were written.
    """
    from rightscare.cases.models import Case
    from rightscare.intake.models import Channel, Contact

    if previous == status:
        return 0
    subscriptions = _active_subscriptions()
    event = WebhookEvent.CASE_CREATED if not previous else WebhookEvent.CASE_STATUS_CHANGED
    tickets: list[Any] = []
    reporting = status in REPORTED_TO_12345 and bool(settings.PLATFORM_12345_URL)
    if reporting:
        tickets = list(Contact.objects.filter(case_id=case_id, channel=Channel.PLATFORM_12345).exclude(external_ticket_number="").order_by("pk"))
    if not subscriptions and not tickets:
        return 0
    case = Case.objects.select_related("category", "region").get(pk=case_id)
    now = timezone.now()
    event_id = secrets.token_hex(16)
    rows = [
        Delivery(
            idempotency_key=f"webhook:{subscription.pk}:{event_id}",
            kind=DeliveryKind.WEBHOOK,
            event=event,
            subscription=subscription,
            case=case,
            payload=case_payload(case=case, event=event, previous=previous, event_id=event_id, at=now),
            next_attempt_at=now,
        )
        for subscription in subscriptions
        if _subscribed(subscription, event, case)
    ]
    seen: set[str] = set()
    for contact in tickets:
        if contact.external_ticket_number in seen:
            continue
        seen.add(contact.external_ticket_number)
        rows.append(
            Delivery(
                idempotency_key=f"12345:{contact.external_ticket_number}:{status}"[:200],
                kind=DeliveryKind.REPORT_12345,
                event=f"12345.{status}",
                case=case,
                contact=contact,
                payload=report_payload(case=case, contact=contact, status=status, at=now),
                next_attempt_at=now,
            )
        )
    if not rows:
        return 0
    # A ticket already told this status (a case resolved again after rework) is not told twice.
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    _trigger_sending_on_commit()
    return len(rows)


def _trigger_sending() -> None:
    from rightscare.integrations.tasks import send_due_deliveries

    send_due_deliveries.enqueue()


def _trigger_sending_on_commit() -> None:
    """Enqueue the sender once the transaction commits: once per transaction, not per delivery."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(entry[1] is _trigger_sending for entry in connection.run_on_commit):
        return
    # robust: a queue that is down must not undo the committed change; the periodic job sends it.
    transaction.on_commit(_trigger_sending, robust=True)


# --- outbound: sending ----------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    """What one run of the sender did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    put_back: int = 0


class _Permanent(Exception):
    """Trying again cannot help (the other side refused the request, the subscription is gone)."""


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: exponential, capped."""
    base = float(settings.INTEGRATIONS_RETRY_BASE_SECONDS)
    cap = float(settings.INTEGRATIONS_RETRY_CAP_SECONDS)
    return timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def encode_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _target(delivery: Delivery) -> tuple[str, str]:
    """The URL and the signing secret of a delivery, read now (so a corrected address applies to retries)."""
    if delivery.kind == DeliveryKind.WEBHOOK:
        subscription = delivery.subscription
        if subscription is None or not subscription.active:
            raise _Permanent("The subscription is no longer active.")
        return subscription.url, subscription.secret
    url, secret = str(settings.PLATFORM_12345_URL or ""), str(settings.PLATFORM_12345_SECRET or "")
    if not url or not secret:
        raise RuntimeError("The 12345 platform's address or secret is not configured.")
    return url, secret


def signed_request(*, delivery: Delivery, secret: str, now: float | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a delivery: signed over ``timestamp.body`` (see :mod:`.signing`)."""
    body = encode_body(delivery.payload)
    timestamp = str(int(now if now is not None else time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "RightsCare",
        signing.EVENT_HEADER: delivery.event,
        signing.DELIVERY_HEADER: str(delivery.key),
        signing.TIMESTAMP_HEADER: timestamp,
        signing.SIGNATURE_HEADER: signing.signature_header(secret=secret, timestamp=timestamp, body=body),
    }
    if delivery.kind == DeliveryKind.REPORT_12345:
        headers["Idempotency-Key"] = delivery.idempotency_key
    return body, headers


def _post(delivery: Delivery) -> int:
    """Send one delivery; returns the HTTP status of a 2xx answer, raises otherwise."""
    url, secret = _target(delivery)
    body, headers = signed_request(delivery=delivery, secret=secret)
    response = requests.post(url, data=body, headers=headers, timeout=float(settings.INTEGRATIONS_TIMEOUT_SECONDS), allow_redirects=False)
    if 200 <= response.status_code < 300:
        return response.status_code
    error = f"HTTP {response.status_code}"
    if 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_CLIENT_ERRORS:
        raise _Permanent(error, response.status_code)
    raise _HttpFailure(error, response.status_code)


class _HttpFailure(Exception):
    pass


def _log_attempt(delivery: Delivery, *, started: float, status_code: int | None, error: str) -> None:
    DeliveryAttempt.objects.create(
        delivery=delivery,
        at=timezone.now(),
        status_code=status_code,
        error=error[:MAX_ERROR],
        duration_ms=max(int((time.monotonic() - started) * 1000), 0),
    )


def _record_failed(delivery: Delivery, *, error: str) -> bool:
    with transaction.atomic():
        if not leasing.finish(delivery, status=DeliveryStatus.FAILED, last_error=error[:MAX_ERROR], next_attempt_at=timezone.now()):
            return False
        audit.record(
            actor=None,
            action=AuditAction.OTHER,
            event="integrations.delivery_failed",
            obj=delivery,
            changes={"kind": delivery.kind, "attempts": delivery.attempts},
            reason=_("The delivery could not be made and will not be tried again without an administrator."),
        )
    logger.warning("delivery %s (%s) failed after %d attempt(s)", delivery.key, delivery.event, delivery.attempts)
    return True


def _deliver(delivery: Delivery, report: DeliveryReport) -> None:
    started = time.monotonic()
    status_code: int | None = None
    permanent = False
    try:
        status_code = _post(delivery)
    except _Permanent as refused:
        error, permanent = str(refused.args[0]), True
        status_code = refused.args[1] if len(refused.args) > 1 else None
    except _HttpFailure as failure:
        error, status_code = str(failure.args[0]), failure.args[1]
    except Exception as failure:
        error = f"{failure.__class__.__name__}: {failure}"
    else:
        error = ""
    _log_attempt(delivery, started=started, status_code=status_code, error=error)
    if not error:
        # "Delivered" is a fact: written whoever holds the lease now, never undone.
        Delivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.DELIVERED).update(
            status=DeliveryStatus.DELIVERED, delivered_at=timezone.now(), claimed_by="", lease_until=None, last_error=""
        )
        report.delivered += 1
        return
    logger.warning("delivery %s: attempt %d failed (%s)", delivery.key, delivery.attempts, error)
    if permanent or delivery.attempts >= int(settings.INTEGRATIONS_MAX_ATTEMPTS):
        report.failed += _record_failed(delivery, error=error)
    elif leasing.finish(delivery, status=DeliveryStatus.PENDING, last_error=error[:MAX_ERROR], next_attempt_at=timezone.now() + retry_delay(delivery.attempts)):
        report.retried += 1


def deliver_due(*, worker_id: str, max_batches: int = 50) -> DeliveryReport:
    """Send every delivery that is due, a batch of ``INTEGRATIONS_BATCH_SIZE`` at a time.

    Each batch is claimed with a lease of ``INTEGRATIONS_LEASE_SECONDS`` (counting an
    attempt per delivery) and sent one by one outside any transaction; each try is logged
    and its outcome recorded: delivered, retried later with exponential backoff, or
    failed for good (a final 4xx answer, or the last allowed attempt). A worker that dies
    after the other side took the request and before the row says so leaves it leased:
    it is sent again when the lease lapses (at least once). Safe to run in any number of
    workers at once.
    """
    report = DeliveryReport()
    lease = timedelta(seconds=float(settings.INTEGRATIONS_LEASE_SECONDS))
    max_attempts = int(settings.INTEGRATIONS_MAX_ATTEMPTS)
    for _batch in range(max_batches):
        now = timezone.now()
        abandoned = Delivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING], attempts__gte=max_attempts).filter(
            leasing.free_at(now)
        )
        for delivery in leasing.claim(abandoned, owner="integrations", lease=timedelta(minutes=1), limit=100, now=now):
            report.failed += _record_failed(delivery, error=_("The worker stopped during the last attempt; the delivery may or may not have been made."))
        claimed = leasing.claim(
            Delivery.objects.due(now).filter(attempts__lt=max_attempts),
            owner=worker_id,
            lease=lease,
            limit=int(settings.INTEGRATIONS_BATCH_SIZE),
            order_by=("next_attempt_at", "id"),
            updates={"status": DeliveryStatus.SENDING, "attempts": F("attempts") + 1},
            now=now,
        )
        if not claimed:
            break
        for delivery in claimed:
            if not leasing.still_held(delivery, margin=lease / 4):
                if leasing.finish(delivery, status=DeliveryStatus.PENDING, attempts=F("attempts") - 1):
                    report.put_back += 1
                continue
            _deliver(delivery, report)
    return report


def retry_delivery(*, by: Any, delivery: Delivery) -> Delivery:
    """Send a failed delivery again, from a fresh count of attempts; audited."""
    _require_manager(by)
    with transaction.atomic():
        changed = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_by="", lease_until=None
        )
        if not changed:
            raise ValidationError(_("Only a failed delivery can be sent again."))
        audit.record(actor=by, action=AuditAction.UPDATE, event="integrations.retry_delivery", obj=delivery, changes={"status": ["failed", "pending"]})
        _trigger_sending_on_commit()
    delivery.refresh_from_db()
    return delivery


# --- webhook subscriptions ---------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh signing secret (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def save_subscription(
    *,
    by: Any,
    subscription: WebhookSubscription | None,
    name: str,
    url: str,
    events: Iterable[str],
    region: Any = None,
    active: bool = True,
    secret: str = "",
) -> WebhookSubscription:
    """Create or change a webhook subscription; audited (never the secret).

    A new subscription without a secret gets a generated one; an empty ``secret`` keeps
    an existing subscription's. Only http(s) addresses and the known events are accepted.
    """
    _require_manager(by)
    errors: dict[str, list[str]] = {}
    name, url, secret = name.strip(), url.strip(), secret.strip()
    chosen = sorted(set(events))
    if not name:
        errors["name"] = [_("This field is required.")]
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["url"] = [_("Enter an http or https address.")]
    if len(url) > 500:
        errors["url"] = [_("The address is too long.")]
    if not chosen or any(event not in WebhookEvent.values for event in chosen):
        errors["events"] = [_("Choose at least one of the events offered.")]
    if secret and len(secret) < 16:
        errors["secret"] = [_("A secret has at least 16 characters.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = {} if subscription is None else _snapshot(subscription)
        subscription = subscription or WebhookSubscription(created_by_id=by.pk)
        subscription.name, subscription.url, subscription.events, subscription.region, subscription.active = name, url, chosen, region, active
        changed_secret = bool(secret) or not subscription.secret
        if changed_secret:
            subscription.secret = secret or new_secret()
        subscription.save()
        changes = audit.diff(before, _snapshot(subscription))
        if changed_secret and before:
            changes["secret"] = "changed"
        audit.record(
            actor=by, action=AuditAction.UPDATE if before else AuditAction.CREATE, event="integrations.save_subscription", obj=subscription, changes=changes
        )
    return subscription


def _snapshot(subscription: WebhookSubscription) -> dict[str, Any]:
    return {
        "name": subscription.name,
        "url": subscription.url,
        "events": list(subscription.events),
        "region": subscription.region_id,
        "active": subscription.active,
    }
