"""Configuration checks of the notifications, for ``rightscare check``."""

from __future__ import annotations

from django.conf import settings

from rightscare.core.checks import Finding
from rightscare.notifications.senders import senders


def check_notifications() -> list[Finding]:
    """Is the default channel one that exists, and is the outbox configured sensibly?"""
    findings: list[Finding] = []
    channel = str(settings.NOTIFICATIONS_DEFAULT_CHANNEL)
    if channel not in senders():
        findings.append(Finding("error", f"RIGHTSCARE_NOTIFICATIONS_CHANNEL={channel!r} is not a channel ({', '.join(sorted(senders()))})"))
    if settings.OUTBOX_LEASE_SECONDS <= settings.EMAIL_TIMEOUT:
        findings.append(
            Finding(
                "warning",
                "RIGHTSCARE_OUTBOX_LEASE_SECONDS is not above RIGHTSCARE_EMAIL_TIMEOUT: a slow mail server could make a second worker send the same e-mail",
            )
        )
    if settings.OUTBOX_MAX_ATTEMPTS < 1:
        findings.append(Finding("error", "RIGHTSCARE_OUTBOX_MAX_ATTEMPTS must be at least 1"))
    if not findings:
        findings.append(Finding("ok", f"messages: default channel {channel}, {settings.OUTBOX_MAX_ATTEMPTS} attempts"))
    return findings
