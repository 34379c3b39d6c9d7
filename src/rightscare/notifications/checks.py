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
    return [*findings, *check_petitioner_channels()]


def check_petitioner_channels() -> list[Finding]:
    """Can petitioners be notified at all, and does every channel named for them exist and have what it needs?"""
    findings: list[Finding] = []
    available = senders()
    for channel in settings.PETITIONER_CHANNELS:
        if channel not in {"sms", "wechat"}:
            findings.append(Finding("error", f"RIGHTSCARE_PETITIONER_CHANNELS names {channel!r}: petitioners are reached by sms or wechat"))
    configured = [channel for channel in settings.PETITIONER_CHANNELS if channel in available and available[channel].is_configured()]
    if not configured:
        # A choice, not a fault (the demo, an installation without a gateway): said, not warned.
        findings.append(Finding("ok", "petitioners: not notified (no RIGHTSCARE_SMS_GATEWAY_URL or RIGHTSCARE_WECHAT_APP_ID)"))
        return findings
    timeouts = {"sms": ("RIGHTSCARE_SMS_GATEWAY_TIMEOUT", settings.SMS_GATEWAY_TIMEOUT), "wechat": ("RIGHTSCARE_WECHAT_TIMEOUT", settings.WECHAT_TIMEOUT)}
    for channel in configured:
        name, timeout = timeouts[channel]
        # A request may take a connect and a read timeout (and WeChat a token fetch first).
        if 3 * timeout >= settings.OUTBOX_LEASE_SECONDS:
            findings.append(
                Finding("warning", f"RIGHTSCARE_OUTBOX_LEASE_SECONDS is not above 3 × {name}: a slow gateway could make a second worker send the same message")
            )
    if "wechat" in configured:
        from rightscare.notifications.petitioner import COMPLETED, DISPATCHED, PLEASE_RATE, REGISTERED

        missing = [event.code for event in (REGISTERED, DISPATCHED, COMPLETED, PLEASE_RATE) if not settings.WECHAT_TEMPLATE_IDS.get(event.code)]
        if missing:
            findings.append(Finding("warning", f"RIGHTSCARE_WECHAT_TEMPLATES has no template for {', '.join(missing)}: those go by SMS only"))
        if len(settings.WECHAT_TEMPLATE_FIELDS) != 2:
            findings.append(Finding("warning", "RIGHTSCARE_WECHAT_TEMPLATE_FIELDS should name two fields: the subject's and the text's"))
    if "sms" in configured and not settings.SMS_SENDER_NAME:
        findings.append(Finding("warning", "RIGHTSCARE_SMS_SENDER_NAME is empty: the gateway must add its own signature"))
    if not any(finding.level != "ok" for finding in findings):
        findings.append(Finding("ok", f"petitioners: notified by {', '.join(configured)}"))
    return findings
