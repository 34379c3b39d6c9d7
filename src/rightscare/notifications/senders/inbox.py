"""The staff's in-app inbox: the message row itself is the delivery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from rightscare.notifications.senders import Sender

if TYPE_CHECKING:
    from rightscare.notifications.models import Message


class InboxSender(Sender):
    channel = "inbox"
    label = _("In-app inbox")
    delivers_on_queue = True
    reaches_addresses = False

    def deliver(self, message: Message) -> None:
        """Nothing to hand over: the recipient reads the row in her inbox."""


SENDER = InboxSender()
