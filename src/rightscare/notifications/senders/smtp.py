"""E-mail through Django's e-mail backend (SMTP in production; settings ``RIGHTSCARE_EMAIL_*``)."""

from __future__ import annotations

import smtplib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from rightscare.notifications.senders import DeliveryError, PermanentDeliveryError, Sender

if TYPE_CHECKING:
    from rightscare.notifications.models import Message


def message_id(message: Message) -> str:
    """The ``Message-ID`` header: the message's unique key, so receiving systems can drop a duplicate."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "rightscare.invalid"
    return f"<{message.key}@{domain}>"


class EmailSender(Sender):
    channel = "email"
    label = _("E-mail")

    def deliver(self, message: Message) -> None:
        """Send one e-mail; the server's refusal of the recipient is permanent, anything else is retried."""
        address = message.to_address or (message.to_user.email if message.to_user is not None else "")
        try:
            validate_email(address)
        except ValidationError as error:
            raise PermanentDeliveryError("no valid e-mail address") from error
        mail = EmailMessage(subject=message.subject, body=message.body, to=[address], headers={"Message-ID": message_id(message)})
        try:
            with get_connection(fail_silently=False) as connection:
                sent = connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentDeliveryError("the mail server refused the recipient") from error
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            # Never the exception's text: a server may quote the address back.
            raise DeliveryError(f"mail server error: {error.__class__.__name__}") from error
        if not sent:
            raise DeliveryError("the mail backend sent nothing")


SENDER = EmailSender()
