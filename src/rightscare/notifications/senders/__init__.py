"""Pluggable senders: one per channel (in-app inbox, console, e-mail, SMS gateway, WeChat template message).

A sender delivers one :class:`~rightscare.notifications.models.Message` and returns when
the gateway has accepted it, or raises :class:`DeliveryError` (try again later) or
:class:`PermanentDeliveryError` (trying again cannot help: no address, a refused
recipient). It runs outside any database transaction and must not write the message
row; the outbox records the outcome. Gateways that accept an idempotency key get the
message's ``key``, so a repeated delivery (see the duplicate window in
docs/operations.md) is dropped by them.

A new channel is one class and one :func:`register_sender` call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.functional import Promise

if TYPE_CHECKING:
    from rightscare.notifications.models import Message


class DeliveryError(Exception):
    """The gateway did not take the message; it will be tried again later."""


class PermanentDeliveryError(DeliveryError):
    """The message cannot be delivered however often it is tried."""


class Sender(ABC):
    """Delivers messages of one channel."""

    #: The channel code stored on messages.
    channel: str = ""
    label: Promise | str = ""
    #: True when queueing *is* delivery (the in-app inbox): no sender task is needed.
    delivers_on_queue: bool = False
    #: Whether the channel can reach a staff user / an external address.
    reaches_users: bool = True
    reaches_addresses: bool = True

    def is_configured(self) -> bool:
        """Whether the installation has set this channel up (a gateway URL, an account)."""
        return True

    @abstractmethod
    def deliver(self, message: Message) -> None:
        """Hand ``message`` to the gateway; raise :class:`DeliveryError` when it refuses."""


_SENDERS: dict[str, Sender] = {}


def register_sender(sender: Sender) -> Sender:
    """Make ``sender`` deliver its channel's messages."""
    _SENDERS[sender.channel] = sender
    return sender


def senders() -> dict[str, Sender]:
    """Every channel that can be used now, by code (the test doubles only when configured)."""
    _load_builtin()
    available = dict(_SENDERS)
    if settings.NOTIFICATIONS_TEST_SENDER_FILE:
        from rightscare.notifications.senders.testing import test_senders

        available.update(test_senders())
    return available


def get_sender(channel: str) -> Sender:
    """The sender of ``channel``; KeyError when no such channel is available."""
    return senders()[channel]


def channel_choices() -> list[tuple[str, Any]]:
    """(code, label) of every available channel, for forms."""
    return [(code, sender.label) for code, sender in sorted(senders().items()) if not code.startswith("test_")]


def channel_label(channel: str) -> Any:
    """The label of ``channel`` (its code when no such channel is available)."""
    sender = senders().get(channel)
    return sender.label if sender is not None else channel


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    from rightscare.notifications.senders import console, inbox, sms, smtp, wechat

    for module in (inbox, console, smtp, sms, wechat):
        register_sender(module.SENDER)
    _loaded = True
