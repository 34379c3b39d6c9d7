"""The messages of the deadline sweep and of chasing (催办 → 督办 → 挂牌督办), and who receives them.

Every message goes through the outbox (:func:`rightscare.notifications.services.queue_message`)
on the ``inbox`` channel, inside the transaction of the step that causes it, so a message
exists exactly when its step does. Administrators may reword each event per language on
the message-template pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from rightscare.notifications.events import Event, register_event
from rightscare.notifications.models import Message
from rightscare.notifications.services import messages_to_users, queue_message
from rightscare.org.models import Membership, Unit, User
from rightscare.org.roles import CAPABILITIES, Capability

_CASE_VARIABLES: dict[str, Promise | str] = {
    "case_number": _("the case number"),
    "unit": _("the unit the work order was sent to"),
    "clock": _("the deadline (sign-for, first contact, update gap or resolution)"),
    "due_at": _("when it is or was due"),
}

DEADLINE_WARNING = register_event(
    Event(
        code="supervision.deadline_warning",
        label=_("A deadline is approaching"),
        variables={**_CASE_VARIABLES, "share": _("how much of the time is used (50 % or 80 %)")},
        subject=_("Case {{ case_number }}: {{ share }} of the time for {{ clock }} is used"),
        body=_(
            "The {{ clock }} deadline of case {{ case_number }} ({{ unit }}) is {{ due_at|date:'Y-m-d H:i' }}; {{ share }} of the time is used.\n\n"
            "Sign in to RightsCare to go on with the work order."
        ),
    )
)

DEADLINE_MISSED = register_event(
    Event(
        code="supervision.deadline_missed",
        label=_("A deadline was missed (automatic reminder)"),
        variables=_CASE_VARIABLES,
        subject=_("Reminder: case {{ case_number }} is overdue ({{ clock }})"),
        body=_(
            "The {{ clock }} deadline of case {{ case_number }} ({{ unit }}) was {{ due_at|date:'Y-m-d H:i' }} and has passed.\n\n"
            "If it stays overdue, the work order goes to the parent unit for supervision."
        ),
    )
)

REMINDER = register_event(
    Event(
        code="supervision.reminder",
        label=_("A supervisor sent a reminder"),
        variables={
            "case_number": _("the case number"),
            "unit": _("the unit the work order was sent to"),
            "chasing_unit": _("the unit that sent the reminder"),
            "comment": _("what the unit must answer (may be empty)"),
        },
        subject=_("Reminder from {{ chasing_unit }}: case {{ case_number }}"),
        body=_(
            "{{ chasing_unit }} reminds {{ unit }} of case {{ case_number }}.\n\n"
            "{% if comment %}{{ comment }}\n\nAnswer on the work-order page of RightsCare.{% else %}Sign in to RightsCare to go on with the work order.{% endif %}"
        ),
    )
)

SUPERVISION = register_event(
    Event(
        code="supervision.supervision",
        label=_("A work order is under supervision (督办)"),
        variables={**_CASE_VARIABLES, "chasing_unit": _("the supervising unit")},
        subject=_("Under supervision: case {{ case_number }} ({{ unit }})"),
        body=_(
            "Case {{ case_number }} is overdue at {{ unit }} ({{ clock }}, due {{ due_at|date:'Y-m-d H:i' }}) and is now supervised by {{ chasing_unit }}.\n\n"
            "The unit must say on the work-order page why it is overdue and when it will be done."
        ),
    )
)

LISTED = register_event(
    Event(
        code="supervision.listed",
        label=_("A work order is listed for supervision (挂牌督办)"),
        variables={**_CASE_VARIABLES, "chasing_unit": _("the unit that lists it")},
        subject=_("Listed for supervision by {{ chasing_unit }}: case {{ case_number }}"),
        body=_(
            "Case {{ case_number }} is seriously overdue at {{ unit }} ({{ clock }}, due {{ due_at|date:'Y-m-d H:i' }}) "
            "and is listed for supervision by {{ chasing_unit }}.\n\nThe unit must answer on the work-order page."
        ),
    )
)

EMERGENCY_UNSIGNED = register_event(
    Event(
        code="supervision.emergency_unsigned",
        label=_("An emergency was not signed for in time"),
        variables={**_CASE_VARIABLES, "chasing_unit": _("the parent unit it escalated to")},
        subject=_("Emergency not signed for: case {{ case_number }} ({{ unit }})"),
        body=_(
            "The emergency case {{ case_number }} sent to {{ unit }} was not signed for by {{ due_at|date:'Y-m-d H:i' }}. "
            "It has been escalated to {{ chasing_unit }} and to the person on duty.\n\nAct now."
        ),
    )
)

CHASE_ANSWERED = register_event(
    Event(
        code="supervision.chase_answered",
        label=_("A unit answered a reminder or supervision"),
        variables={
            "case_number": _("the case number"),
            "unit": _("the unit that answered"),
            "level": _("reminder, supervision or listed supervision"),
            "answer": _("the answer"),
        },
        subject=_("{{ unit }} answered the {{ level }} of case {{ case_number }}"),
        body=_("{{ unit }} answered the {{ level }} of case {{ case_number }}:\n\n{{ answer }}"),
    )
)

SAFETY_REVIEW_DUE = register_event(
    Event(
        code="supervision.safety_review_due",
        label=_("A safety review is due"),
        variables={
            "case_number": _("the case number"),
            "unit": _("the unit responsible for the follow-up"),
            "due_at": _("when the review was due"),
        },
        subject=_("Safety review due: case {{ case_number }}"),
        body=_(
            "The safety review of case {{ case_number }} by {{ unit }} was due {{ due_at|date:'Y-m-d H:i' }}.\n\n"
            "Check on her safety and record the review on the case page of RightsCare."
        ),
    )
)

SAFETY_REVIEW_OVERDUE = register_event(
    Event(
        code="supervision.safety_review_overdue",
        label=_("A safety review is overdue (to the parent unit)"),
        variables={
            "case_number": _("the case number"),
            "unit": _("the unit responsible for the follow-up"),
            "due_at": _("when the review was due"),
            "chasing_unit": _("the parent unit told of it"),
        },
        subject=_("Overdue safety review: case {{ case_number }} ({{ unit }})"),
        body=_(
            "The safety review of case {{ case_number }} by {{ unit }} was due {{ due_at|date:'Y-m-d H:i' }} and has not been recorded.\n\n"
            "{{ chasing_unit }} is asked to make sure someone checks on her safety."
        ),
    )
)

#: Who reads what is sent to a unit's handling staff: those who sign for and handle its work orders.
HANDLING_CAPABILITIES = (Capability.HANDLE_WORK_ORDERS, Capability.DISPATCH_CASES)
#: Who reads what is sent to a supervising unit: its supervisors and dispatchers.
SUPERVISING_CAPABILITIES = (Capability.SUPERVISE, Capability.DISPATCH_CASES)


def _roles_with(capabilities: Iterable[Capability]) -> list[str]:
    wanted = set(capabilities)
    return [role for role, granted in CAPABILITIES.items() if granted & wanted]


def members_with(unit: Unit | None, capabilities: Iterable[Capability]) -> list[User]:
    """The active users holding, in ``unit``, a role that carries one of ``capabilities`` (ordered by id)."""
    if unit is None:
        return []
    roles = _roles_with(capabilities)
    memberships = Membership.objects.active().filter(unit=unit, role__in=roles, user__is_active=True).select_related("user").order_by("user_id")
    users: dict[int, User] = {}
    for membership in memberships:
        users.setdefault(membership.user_id, membership.user)
    return list(users.values())


def send(event: Event, recipients: Iterable[User], context: Mapping[str, Any]) -> int:
    """Queue ``event`` to each recipient's inbox, once per person (in the installation's language); return how many."""
    sent: set[int] = set()
    for user in recipients:
        if user.pk in sent:
            continue
        sent.add(user.pk)
        queue_message(event=event.code, to_user=user, channel="inbox", context=context)
    return len(sent)


class Members:
    """:func:`members_with` for many units at once: their memberships are read in one query.

    For a batch of the deadline sweep, which tells the staff of a hundred units: ``units``
    and the union of the ``capabilities`` that will be asked for are given up front; asking
    for another unit or capability is a programming error (``LookupError``).
    """

    def __init__(self, units: Iterable[Unit | None], capabilities: Iterable[Capability]) -> None:
        self.capabilities = frozenset(capabilities)
        self.unit_ids = {unit.pk for unit in units if unit is not None}
        self._memberships: dict[int, list[Membership]] = defaultdict(list)
        if self.unit_ids:
            memberships = (
                Membership.objects.active()
                .filter(unit__in=self.unit_ids, role__in=_roles_with(self.capabilities), user__is_active=True)
                .select_related("user")
                .order_by("user_id")
            )
            for membership in memberships:
                self._memberships[membership.unit_id].append(membership)

    def with_(self, unit: Unit | None, capabilities: Iterable[Capability]) -> list[User]:
        """What ``members_with(unit, capabilities)`` returns, without a query."""
        if unit is None:
            return []
        wanted = set(capabilities)
        if unit.pk not in self.unit_ids or not wanted <= self.capabilities:
            raise LookupError(f"the members of unit {unit.pk} with {sorted(wanted)} were not read")
        roles = set(_roles_with(wanted))
        users: dict[int, User] = {}
        for membership in self._memberships[unit.pk]:
            if membership.role in roles:
                users.setdefault(membership.user_id, membership.user)
        return list(users.values())


def messages(event: Event, recipients: Iterable[User], context: Mapping[str, Any]) -> list[Message]:
    """The messages :func:`send` would queue (once per person), not written yet: for ``notifications.services.queue_messages``."""
    unique: dict[int, User] = {}
    for user in recipients:
        unique.setdefault(user.pk, user)
    return messages_to_users(event=event.code, to_users=list(unique.values()), channel="inbox", context=context)
