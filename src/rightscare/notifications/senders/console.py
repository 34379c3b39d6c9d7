"""Messages written to the log instead of being sent: the demo's and a developer's channel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from rightscare.notifications.senders import Sender

if TYPE_CHECKING:
    from rightscare.notifications.models import Message

logger = logging.getLogger("rightscare.notifications.console")


def mask_address(address: str) -> str:
    """An address fit for logs and administrators' lists: ``z***@example.org``, ``*******5678``."""
    address = address.strip()
    if not address:
        return ""
    if "@" in address:
        local, _at, domain = address.rpartition("@")
        return f"{local[:1]}***@{domain}"
    return "*" * max(len(address) - 4, 3) + address[-4:]


class ConsoleSender(Sender):
    channel = "console"
    label = _("Log (console)")

    def deliver(self, message: Message) -> None:
        """Log the message; the address only masked (logs are kept longer than they should be)."""
        recipient = mask_address(message.to_address) if message.to_address else f"user {message.to_user_id}"
        logger.info("message %s (%s) to %s: %s\n%s", message.key, message.event, recipient, message.subject, message.body)


SENDER = ConsoleSender()
