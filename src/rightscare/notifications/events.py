"""The events that send messages, and their built-in wording.

Each event names the values its templates may use and carries a default subject and
text (English message ids, translated through the catalogue like any UI string).
Administrators may replace the wording per event, channel and language with a
:class:`~rightscare.notifications.models.MessageTemplate`. Later issues register their
events here (the petitioner's stages, deadline warnings, visit alarms).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Event:
    """An event that causes a message: its code, label, template values and default wording."""

    code: str
    label: Promise | str
    #: The names a template may use, with what each holds (shown on the template page).
    variables: dict[str, Promise | str]
    subject: Promise | str
    body: Promise | str


EVENTS: dict[str, Event] = {}


def register_event(event: Event) -> Event:
    """Make ``event`` known to :func:`~rightscare.notifications.services.queue_message` and the template pages."""
    EVENTS[event.code] = event
    return event


def get_event(code: str) -> Event:
    """The event called ``code``; KeyError when none is registered."""
    return EVENTS[code]


ROLE_GRANTED = register_event(
    Event(
        code="org.role_granted",
        label=_("A role was granted"),
        variables={
            "name": _("the name of the person who received the role"),
            "role": _("the role"),
            "unit": _("the unit"),
            "granted_by": _("who granted it"),
        },
        subject=_("You have been given the role {{ role }} in {{ unit }}"),
        body=_(
            "{{ name }}, {{ granted_by }} has given you the role {{ role }} in {{ unit }}.\n\n"
            "Sign in to RightsCare to see what you may do with it. If you did not expect this role, tell your unit administrator."
        ),
    )
)
