"""Text messages through an HTTP gateway (settings ``RIGHTSCARE_SMS_*``).

One JSON ``POST`` per message to ``RIGHTSCARE_SMS_GATEWAY_URL``::

    {"key": "<the message's unique key>", "to": "+8613800138000", "sender": "<signature>", "text": "…"}

with the same key in an ``Idempotency-Key`` header, so that a gateway can drop the
duplicate the outbox sends when a worker died between the gateway's answer and the
row being marked sent. Any 2xx answer means the gateway took the message. 400 and 422
say the request itself is wrong (a number the gateway does not accept): trying again
cannot help. Everything else (a timeout, a refused connection, 401, 429, 5xx) is
retried by the outbox with backoff. Adapting another gateway's format is a subclass
overriding :meth:`SmsGatewaySender.request_body`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from rightscare.notifications.senders import DeliveryError, PermanentDeliveryError, Sender

if TYPE_CHECKING:
    from rightscare.notifications.models import Message

#: Answers that mean the request can never succeed as it is.
PERMANENT_STATUSES = frozenset({400, 422})


def sender_name(message: Message) -> str:
    """The signature of the text: the recipient's neutral sender name when the message has one."""
    return message.sender_name or str(settings.SMS_SENDER_NAME)


class SmsGatewaySender(Sender):
    channel = "sms"
    label = _("Text message (SMS)")
    reaches_users = False

    def is_configured(self) -> bool:
        return bool(settings.SMS_GATEWAY_URL)

    def request_body(self, message: Message) -> dict[str, Any]:
        """The JSON the gateway receives."""
        return {"key": str(message.key), "to": message.to_address, "sender": sender_name(message), "text": message.body}

    def deliver(self, message: Message) -> None:
        """Post one text to the gateway; raise unless it answers 2xx."""
        if not self.is_configured():
            raise DeliveryError("no SMS gateway is configured (RIGHTSCARE_SMS_GATEWAY_URL)")
        if not message.to_address:
            raise PermanentDeliveryError("no phone number")
        headers = {"Idempotency-Key": str(message.key)}
        auth: tuple[str, str] | None = None
        if settings.SMS_GATEWAY_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SMS_GATEWAY_TOKEN}"
        elif settings.SMS_GATEWAY_USER:
            auth = (str(settings.SMS_GATEWAY_USER), str(settings.SMS_GATEWAY_PASSWORD))
        timeout = float(settings.SMS_GATEWAY_TIMEOUT)
        try:
            response = requests.post(
                str(settings.SMS_GATEWAY_URL), json=self.request_body(message), headers=headers, auth=auth, timeout=(timeout, timeout), allow_redirects=False
            )
        except requests.RequestException as error:
            # Only the class: the exception's text can quote the URL and its credentials.
            raise DeliveryError(f"SMS gateway unreachable: {error.__class__.__name__}") from error
        if response.status_code in PERMANENT_STATUSES:
            raise PermanentDeliveryError(f"the SMS gateway refused the message (HTTP {response.status_code})")
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"the SMS gateway answered HTTP {response.status_code}")


SENDER = SmsGatewaySender()
