"""Telling the petitioner how her case goes, only as her safe-contact record allows (PRODUCT.md C5, C13).

:func:`notify_petitioner` decides, for one stage of a case (registered, dispatched,
completed, please rate):

* **whom**: the petitioner; a child under 14 never herself but her guardian, unless
  the guardian is the alleged abuser or a respondent of the case (then nobody: a
  handler decides); never anyone who is a respondent of the case;
* **how**: WeChat when she follows the official account (and the account has a
  template for the event, and she did not ask for a neutral sender: the account's name
  cannot be hidden), otherwise a text message to a phone that is safe: never a
  respondent's phone, never a shared phone in a domestic-violence or child-protection
  case. Written messages only when her record allows texts; in a sensitive case only
  when a safe-contact record exists at all;
* **when**: within her safe hours; outside them the message waits in the outbox until
  the next safe moment;
* **in which words**: the event's template (administrators may reword it), signed with
  her neutral sender name when she gave one, and then never naming the organisation;
  in a sensitive case never naming the category or domestic violence.

The message goes through the outbox (written in the caller's transaction, sent at
least once by the worker). Before each attempt the outbox asks this module again
(the ``petitioner`` guard): if her record changed meanwhile so that the message is no
longer safe, it is withdrawn; outside her safe hours it is held. Whatever happens is
kept as a :class:`~rightscare.notifications.models.PetitionerNotice` of the case;
when nothing is sent, the reason is also in the audit log.

This module sits above ``cases`` and ``registry`` (it reads cases, parties and
people); ``cases.services`` calls it late, like the supervision clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from rightscare.audit import services as audit
from rightscare.audit.models import AuditAction
from rightscare.cases.models import Case, Category, EventKind, PartyRole
from rightscare.core import identity
from rightscare.core.fields import BlindIndexField
from rightscare.notifications import guards
from rightscare.notifications.events import Event, register_event
from rightscare.notifications.models import Message, NoticeOutcome, NoticeReason, PetitionerNotice, WeChatFollower
from rightscare.notifications.senders import senders
from rightscare.notifications.services import RevealingText, language_or_default, queue_message
from rightscare.registry.models import Person, PersonPhone, SafeContact

# --- the events and their built-in wording ---------------------------------------------------

_VARIABLES: dict[str, Any] = {
    "sender": _("who the message is from: the organisation, or the neutral name she asked for"),
    "reference": _("the case number"),
    "tracking": _("a sentence with her tracking code, when there is one (may be empty)"),
}

REGISTERED = register_event(
    Event(
        code="petitioner.registered",
        label=_("Petitioner: her request was registered"),
        variables=_VARIABLES,
        subject=_("{{ sender }}: your request has been received"),
        body=_("{{ sender }}: your request {{ reference }} has been received and registered. {{ tracking }}"),
    )
)

DISPATCHED = register_event(
    Event(
        code="petitioner.dispatched",
        label=_("Petitioner: her request was sent to the responsible units"),
        variables=_VARIABLES,
        subject=_("{{ sender }}: your request is being handled"),
        body=_("{{ sender }}: your request {{ reference }} has been passed to those who will handle it. They may contact you. {{ tracking }}"),
    )
)

COMPLETED = register_event(
    Event(
        code="petitioner.completed",
        label=_("Petitioner: the work on her request is finished"),
        variables=_VARIABLES,
        subject=_("{{ sender }}: the work on your request is finished"),
        body=_("{{ sender }}: the work on your request {{ reference }} is finished. {{ tracking }}"),
    )
)

PLEASE_RATE = register_event(
    Event(
        code="petitioner.rate",
        label=_("Petitioner: please rate how her request was handled"),
        variables=_VARIABLES,
        subject=_("{{ sender }}: was your request solved?"),
        body=_("{{ sender }}: please tell us whether your request {{ reference }} was solved and how quickly and well it was handled. {{ tracking }}"),
    )
)

#: The events of the petitioner's loop, by code.
PETITIONER_EVENTS = frozenset({REGISTERED.code, DISPATCHED.code, COMPLETED.code, PLEASE_RATE.code})
#: Events asked once per resolution of the case (a round); the others once per case.
ROUND_EVENTS = frozenset({COMPLETED.code, PLEASE_RATE.code})

#: Words a message about a domestic-violence or child-protection case never contains,
#: besides the names of its category.
SENSITIVE_WORDS = ("domestic violence", "家庭暴力", "家暴", "child protection", "未成年人保护", "abuse", "虐待", "性侵")

#: The guard the outbox asks before each attempt.
GUARD = "petitioner"


# --- the plan: whom, how, when, in which words -------------------------------------------------


@dataclass
class Plan:
    """Whom to tell and how, or why nobody can be told."""

    recipient: Person | None = None
    reason: str = ""
    #: (channel, address) pairs she may be reached on, best first.
    routes: list[tuple[str, str]] = field(default_factory=list)
    sender: str = ""
    sender_name: str = ""
    hold_until: datetime | None = None
    forbidden_words: list[str] = field(default_factory=list)


def _category_chain(category: Category) -> list[Category]:
    chain = [category]
    while chain[-1].parent_id is not None and chain[-1].parent is not None and len(chain) < 10:
        chain.append(chain[-1].parent)
    return chain


def is_sensitive(case: Case) -> bool:
    """Domestic violence or child protection, on the case's category or its parent."""
    return any(category.is_sensitive for category in _category_chain(case.category))


def _respondents(case: Case) -> tuple[set[int], set[str]]:
    """The people who are respondents of the case, and the blind indexes of their phones."""
    people = {pk for pk in case.parties.filter(role=PartyRole.RESPONDENT, person__isnull=False).values_list("person_id", flat=True) if pk is not None}
    phones = set(PersonPhone.objects.filter(person_id__in=people).exclude(phone_index="").values_list("phone_index", flat=True))
    return people, phones


def _safe_contact(person: Person) -> SafeContact | None:
    try:
        return person.safe_contact
    except SafeContact.DoesNotExist:
        return None


def next_safe_moment(safe: SafeContact | None, now: datetime) -> datetime | None:
    """When she may next be contacted: None when now is fine, else the next start of her safe hours."""
    if safe is None or safe.allows_at(now) or safe.safe_from is None:
        return None
    local = timezone.localtime(now)
    start = timezone.make_aware(datetime.combine(local.date(), safe.safe_from), local.tzinfo)
    if start <= local:
        start = timezone.make_aware(datetime.combine(local.date() + timedelta(days=1), safe.safe_from), local.tzinfo)
    return start


def _default_sender(language: str) -> str:
    if settings.NOTIFICATIONS_SENDER_NAME:
        return str(settings.NOTIFICATIONS_SENDER_NAME)
    with translation.override(language):
        return gettext("RightsCare")


def _organisation_words() -> list[str]:
    words = [str(settings.NOTIFICATIONS_SENDER_NAME), str(settings.SMS_SENDER_NAME), *settings.NOTIFICATIONS_ORGANISATION_WORDS]
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            words.append(gettext("RightsCare"))
    return [word for word in dict.fromkeys(words) if word.strip()]


def _sensitive_words(case: Case) -> list[str]:
    words: list[str] = list(SENSITIVE_WORDS)
    for category in _category_chain(case.category):
        words += [category.name, category.name_en]
    return [word for word in dict.fromkeys(words) if word.strip()]


def _phones(person: Person, *, sensitive: bool, respondent_phones: set[str]) -> list[str]:
    """Her phones that are safe to text, best first: never a respondent's, never a shared one in a sensitive case."""
    phones = person.phones.filter(respondent_flag=False).order_by("shared", "created_at", "id")
    if sensitive:
        phones = phones.filter(shared=False)
    return [phone.phone for phone in phones if phone.phone and phone.phone_index not in respondent_phones]


def following_openid(person: Person) -> str:
    """Her openid when she follows the official account, else empty."""
    follower = WeChatFollower.objects.filter(person=person, following=True).first()
    return follower.openid if follower is not None else ""


def plan_notice(*, case: Case, event: str, now: datetime, language: str | None = None) -> Plan:
    """Whom to tell of ``event`` on ``case``, on which channels, from which sender, and when; or why nobody.

    Reads only: the same plan is made when the message is queued and again before
    every attempt to send it.
    """
    petitioner = case.petitioner
    if petitioner is None:
        return Plan(reason=NoticeReason.NO_PETITIONER)
    respondents, respondent_phones = _respondents(case)
    if petitioner.pk in respondents:
        return Plan(reason=NoticeReason.RESPONDENT)
    recipient = petitioner.contact_person()
    if recipient is None:
        return Plan(reason=NoticeReason.CHILD)
    if recipient.pk in respondents:
        # Her guardian is accused in this very case: the guardian is the alleged abuser.
        return Plan(reason=NoticeReason.CHILD if recipient.pk != petitioner.pk else NoticeReason.RESPONDENT)
    sensitive = is_sensitive(case)
    safe = _safe_contact(recipient)
    if sensitive and safe is None:
        return Plan(recipient=recipient, reason=NoticeReason.NO_INSTRUCTIONS)
    if safe is not None and not safe.may_text:
        return Plan(recipient=recipient, reason=NoticeReason.TEXT_NOT_ALLOWED)
    neutral = safe.neutral_sender.strip() if safe is not None else ""
    available = senders()
    routes: list[tuple[str, str]] = []
    for channel in settings.PETITIONER_CHANNELS:
        sender = available.get(channel)
        if sender is None or not sender.is_configured():
            continue
        if channel == "wechat":
            # The account's own name shows on every message it sends: no WeChat under a neutral name.
            openid = following_openid(recipient)
            if openid and not neutral and getattr(sender, "supports", lambda _event: True)(event):
                routes.append((channel, openid))
        elif channel == "sms":
            routes += [(channel, phone) for phone in _phones(recipient, sensitive=sensitive, respondent_phones=respondent_phones)]
    if not routes:
        return Plan(recipient=recipient, reason=NoticeReason.NO_ADDRESS)
    forbidden = _sensitive_words(case) if sensitive else []
    if neutral:
        forbidden += _organisation_words()
    return Plan(
        recipient=recipient,
        routes=routes,
        sender=neutral or _default_sender(language_or_default(language)),
        sender_name=neutral,
        hold_until=next_safe_moment(safe, now),
        forbidden_words=forbidden,
    )


# --- notifying --------------------------------------------------------------------------------


def channels_configured() -> bool:
    """Whether any channel that reaches petitioners is set up (else nobody is notified, and nothing is recorded)."""
    available = senders()
    return any(channel in available and available[channel].is_configured() for channel in settings.PETITIONER_CHANNELS)


def notice_round(case: Case, event: str) -> int:
    """The round of ``event``: how often the case was resolved, for completion and rating; 0 otherwise."""
    if event in ROUND_EVENTS:
        return case.events.filter(kind=EventKind.RESOLVED).count()
    return 0


def _record_not_sent(notice: PetitionerNotice) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        reason = str(NoticeReason(notice.reason).label)
    audit.record(
        actor=None,
        action=AuditAction.OTHER,
        event="notifications.petitioner_not_notified",
        obj=notice.case,
        changes={"event": notice.event, "round": notice.round, "reason": notice.reason},
        reason=reason,
    )


def notify_petitioner(
    *, case: Case, event: str, language: str | None = None, tracking_code: str = "", extra: Mapping[str, Any] | None = None
) -> PetitionerNotice | None:
    """Tell the petitioner (or her guardian) that her case reached ``event``, as her safe-contact record allows.

    ``event`` is one of :data:`REGISTERED`, :data:`DISPATCHED`, :data:`COMPLETED`,
    :data:`PLEASE_RATE` (their ``code``). Call it inside the transaction of the change:
    the message is written to the outbox (held until her safe hours when now is
    outside them) and sent by the worker after commit. Once per case and event
    (completion and rating: once per resolution); a repeated call returns None.
    When nobody can be told, the notice records why and the audit log says so.
    Returns None, recording nothing, when the installation has no channel to
    petitioners configured.
    """
    if event not in PETITIONER_EVENTS:
        raise ValueError(f"not an event of the petitioner's loop: {event!r}")
    if not channels_configured():
        return None
    round_ = notice_round(case, event)
    if PetitionerNotice.objects.filter(case=case, event=event, round=round_).exists():
        return None
    now = timezone.now()
    language = language_or_default(language)
    plan = plan_notice(case=case, event=event, now=now, language=language)
    try:
        with transaction.atomic():
            notice = PetitionerNotice.objects.create(
                case=case,
                event=event,
                round=round_,
                recipient=plan.recipient,
                outcome=NoticeOutcome.NOT_SENT if plan.reason else (NoticeOutcome.HELD if plan.hold_until else NoticeOutcome.QUEUED),
                reason=plan.reason,
            )
    except IntegrityError:
        return None  # told already (or being told by a concurrent transaction)
    if not plan.reason:
        channel, address = plan.routes[0]
        with translation.override(language):
            tracking = gettext("Your tracking code is %(code)s.") % {"code": tracking_code} if tracking_code else ""
        context = {**(extra or {}), "sender": plan.sender, "reference": case.number, "tracking": tracking}
        try:
            with transaction.atomic():
                message = queue_message(
                    event=event,
                    to_address=address,
                    channel=channel,
                    language=language,
                    context=context,
                    sender_name=plan.sender_name,
                    not_before=plan.hold_until,
                    guard=GUARD,
                    guard_data={"notice": notice.pk},
                    forbidden_words=plan.forbidden_words,
                )
        except RevealingText:
            notice.outcome, notice.reason = NoticeOutcome.NOT_SENT, NoticeReason.REVEALING
        else:
            notice.channel, notice.message = channel, message
        notice.save(update_fields=["outcome", "reason", "channel", "message", "updated_at"])
    if notice.reason:
        _record_not_sent(notice)
    return notice


# --- the check before each attempt -----------------------------------------------------------------


def _notice_id(message: Message) -> int:
    """The notice a petitioner's message belongs to (0 when its data names none)."""
    data = message.guard_data if isinstance(message.guard_data, dict) else {}
    value = data.get("notice")
    return value if isinstance(value, int) else 0


def _check(message: Message, now: datetime) -> guards.Verdict:
    """Is the message still safe to send to this address, now? Hold it outside her safe hours."""
    notice_id = _notice_id(message)
    notice = PetitionerNotice.objects.select_related("case__category__parent", "case__petitioner").filter(pk=notice_id).first()
    if notice is None:
        return guards.Verdict(withdraw_reason=NoticeReason.CHANGED)
    plan = plan_notice(case=notice.case, event=notice.event, now=now, language=message.language)
    if plan.reason:
        return guards.Verdict(withdraw_reason=plan.reason)
    if (
        plan.recipient is None
        or plan.recipient.pk != notice.recipient_id
        or (message.channel, message.to_address) not in plan.routes
        or plan.sender_name != message.sender_name
    ):
        return guards.Verdict(withdraw_reason=NoticeReason.CHANGED)
    if plan.hold_until is not None:
        return guards.Verdict(hold_until=plan.hold_until)
    return guards.SEND


def _withdrawn(message: Message, reason: str) -> None:
    """Record on the notice that its message was withdrawn, and why."""
    notice_id = _notice_id(message)
    code = reason if reason in NoticeReason.values else NoticeReason.CHANGED
    PetitionerNotice.objects.filter(pk=notice_id).update(outcome=NoticeOutcome.WITHDRAWN, reason=code, updated_at=timezone.now())
    notice = PetitionerNotice.objects.select_related("case").filter(pk=notice_id).first()
    if notice is not None:
        _record_not_sent(notice)


guards.register_guard(guards.Guard(name=GUARD, check=_check, withdrawn=_withdrawn))


# --- the case's life cycle (called by cases.services, inside its transactions) ----------------------


def case_registered(case: Case) -> None:
    """A case was registered: tell the petitioner it was received."""
    notify_petitioner(case=case, event=REGISTERED.code)


def case_dispatched(case: Case) -> None:
    """A case was sent to its units: tell the petitioner (once per case)."""
    notify_petitioner(case=case, event=DISPATCHED.code)


def case_resolved(case: Case) -> None:
    """Every top-level work order was accepted: tell the petitioner, and ask her to rate (once per resolution)."""
    notify_petitioner(case=case, event=COMPLETED.code)
    notify_petitioner(case=case, event=PLEASE_RATE.code)


# --- WeChat followers -----------------------------------------------------------------------------


def _follower_by_openid(openid: str) -> WeChatFollower | None:
    field_ = WeChatFollower._meta.get_field("openid_index")
    assert isinstance(field_, BlindIndexField)
    return WeChatFollower.objects.filter(openid_index__in=field_.candidates(openid)).order_by("id").first()


def _openid_digest(openid: str) -> str:
    field_ = WeChatFollower._meta.get_field("openid_index")
    assert isinstance(field_, BlindIndexField)
    return field_.digest(openid)


def record_wechat_subscription(*, openid: str, following: bool, at: datetime | None = None) -> WeChatFollower:
    """Someone followed (``subscribe``) or unfollowed the official account: remember it by openid.

    Called by the WeChat callback. Her openid may not be linked to a person yet
    (:func:`link_wechat_follower` does that). Safe to call twice.
    """
    openid = identity.normalise("wechat_openid", openid)
    at = at or timezone.now()
    with transaction.atomic():
        follower = _follower_by_openid(openid)
        if follower is None:
            follower = WeChatFollower(openid=openid)
            follower.openid_index = _openid_digest(openid)
        follower.following, follower.changed_at = following, at
        follower.save()
    return follower


def link_wechat_follower(*, person: Person, openid: str, by: Any = None) -> WeChatFollower:
    """Link a follower's openid to ``person`` (she proved who she is, e.g. with her tracking code and PIN); audited.

    An openid is one WeChat user: linked to another person before, it moves to this one.
    A person has one openid: an older one of hers is replaced.
    """
    openid = identity.normalise("wechat_openid", openid)
    with transaction.atomic():
        follower = _follower_by_openid(openid)
        previous = WeChatFollower.objects.filter(person=person).exclude(pk=follower.pk if follower else 0).first()
        if previous is not None:
            previous.delete()
        if follower is None:
            follower = WeChatFollower(openid=openid, following=True, changed_at=timezone.now())
            follower.openid_index = _openid_digest(openid)
        moved_from = follower.person_id
        follower.person = person
        follower.save()
        audit.record(
            actor=by,
            action=AuditAction.UPDATE,
            event="notifications.link_wechat_follower",
            obj=person,
            changes={"wechat": "linked", "moved_from_person": moved_from} if moved_from and moved_from != person.pk else {"wechat": "linked"},
        )
    return follower


def petitioner_notices(case: Case) -> list[PetitionerNotice]:
    """What the petitioner of ``case`` was told, or why not, in order, with each message's state (for the case page)."""
    return list(PetitionerNotice.objects.filter(case=case).select_related("message").order_by("created_at", "id"))
