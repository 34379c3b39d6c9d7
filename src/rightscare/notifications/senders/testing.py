"""Test doubles: real senders for crash tests, registered only with ``RIGHTSCARE_TEST_SENDER_FILE``.

Both append a line with the message's unique key to that file (with ``O_APPEND``, so
lines written by several processes never interleave): the file is the "gateway" that
a crash test reads to count deliveries. ``test_failing`` then refuses every message.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from django.conf import settings

from rightscare.notifications.senders import DeliveryError, Sender

if TYPE_CHECKING:
    from rightscare.notifications.models import Message


def _append(line: str) -> None:
    descriptor = os.open(settings.NOTIFICATIONS_TEST_SENDER_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class FileSender(Sender):
    """Accepts every message: appends ``<key>`` to the test file."""

    channel = "test_file"
    label = "test: file"

    def deliver(self, message: Message) -> None:
        _append(f"{message.key}\n")


class FailingSender(Sender):
    """Refuses every message, after appending ``<key>`` to the test file (one line per attempt)."""

    channel = "test_failing"
    label = "test: failing"

    def deliver(self, message: Message) -> None:
        _append(f"{message.key}\n")
        raise DeliveryError("the test gateway refused the message")


def test_senders() -> dict[str, Sender]:
    """The test doubles by channel."""
    return {sender.channel: sender for sender in (FileSender(), FailingSender())}
