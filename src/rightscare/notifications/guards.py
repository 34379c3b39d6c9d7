"""Checks run before every attempt to send a message: hold it, withdraw it, or let it go.

A message queued with ``guard="<name>"`` is handed to that guard each time the outbox
is about to send it. The rules that decided to send it may have changed since it was
queued (she withdrew her consent to text messages, a guardian turned out to be the
alleged abuser) or the moment may be wrong (outside her safe hours, after a retry's
backoff): the guard answers with a :class:`Verdict`. A guard that is not registered,
or that fails, never lets the message go: the attempt counts as failed and is retried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rightscare.notifications.models import Message


@dataclass(frozen=True)
class Verdict:
    """What to do with a message now: send it, hold it until a moment, or withdraw it for a reason."""

    hold_until: datetime | None = None
    withdraw_reason: str = ""

    @property
    def send(self) -> bool:
        return self.hold_until is None and not self.withdraw_reason


SEND = Verdict()


@dataclass(frozen=True)
class Guard:
    """A named check: ``check(message, now)`` decides; ``withdrawn(message, reason)`` records a withdrawal (in the outbox's transaction)."""

    name: str
    check: Callable[[Message, datetime], Verdict]
    withdrawn: Callable[[Message, str], None]


GUARDS: dict[str, Guard] = {}


def register_guard(guard: Guard) -> Guard:
    """Make ``guard`` answer for messages queued with its name."""
    GUARDS[guard.name] = guard
    return guard


class UnknownGuard(LookupError):
    """A message names a guard that is not registered: it is not sent."""


def get_guard(name: str) -> Guard:
    """The guard called ``name``; :class:`UnknownGuard` when none is registered."""
    try:
        return GUARDS[name]
    except KeyError as error:
        raise UnknownGuard(name) from error
