"""``rightscare check`` for the audit log: the audit key, the anchor sink, and a sealer that keeps up."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from rightscare.audit.chain import LOG_SINK, anchor_sink
from rightscare.audit.keys import AuditKeyError, configured_spec, parse_keys
from rightscare.audit.models import AuditEntry
from rightscare.core.checks import Finding

#: Unsealed entries older than this many seal intervals mean no sealer is running.
STALE_SEAL_INTERVALS = 10


def check_audit_key() -> Finding:
    """The audit key must be configured outside the tests and the demo, and well formed."""
    try:
        spec, source = configured_spec()
    except OSError as error:
        return Finding("error", f"RIGHTSCARE_AUDIT_KEY_FILE cannot be read: {error.strerror}")
    if not spec:
        return Finding("error", "RIGHTSCARE_AUDIT_KEY (or RIGHTSCARE_AUDIT_KEY_FILE) is not set: the audit log cannot be sealed or verified")
    try:
        ring = parse_keys(spec)
    except AuditKeyError as error:
        return Finding("error", str(error))
    if source == "settings" and not settings.TESTING:
        return Finding("error", "the audit key comes from the settings, not from RIGHTSCARE_AUDIT_KEY")
    extra = f" (and {len(ring.keys) - 1} older key(s) for verifying)" if len(ring.keys) > 1 else ""
    if source == "demo":
        extra += " (demo: generated and kept in the data directory)"
    return Finding("ok", f"audit key set, id {ring.active}{extra}")


def check_anchor_sink() -> Finding:
    """The anchor file can be appended to (its directory exists and is writable), or anchors go to the log."""
    sink = anchor_sink()
    if sink == LOG_SINK:
        return Finding("ok", "audit anchors go to the rightscare.audit.anchor logger: ship them off this machine")
    path = Path(sink)
    if path.exists():
        writable = path.is_file() and os.access(path, os.W_OK)
    else:
        writable = path.parent.is_dir() and os.access(path.parent, os.W_OK)
    if not writable:
        return Finding("error", f"the audit anchor file {path} cannot be appended to (RIGHTSCARE_AUDIT_ANCHOR)")
    data_dir = Path(settings.DATA_DIR).resolve()
    if not settings.DEMO and path.resolve().is_relative_to(data_dir):
        return Finding(
            "warning",
            f"the audit anchor file {path} is in the data directory: put it where the database administrator cannot rewrite it "
            "(another machine, WORM storage) or set RIGHTSCARE_AUDIT_ANCHOR=log: and ship the log",
        )
    return Finding("ok", f"audit anchors appended to {path}")


def check_sealing() -> Finding:
    """Entries are sealed within a few intervals: otherwise no worker runs the sealing job."""
    interval = int(getattr(settings, "AUDIT_SEAL_INTERVAL_SECONDS", 60))
    try:
        oldest = AuditEntry.objects.unsealed().order_by("id").values_list("at", flat=True).first()
    except Exception as error:
        return Finding("error", f"audit log unreadable: {error.__class__.__name__} (run `rightscare migrate`?)")
    if oldest is not None and timezone.now() - oldest > timedelta(seconds=interval * STALE_SEAL_INTERVALS):
        return Finding("warning", f"audit entries written at {oldest:%Y-%m-%d %H:%M} are not sealed yet: is `rightscare worker` running?")
    return Finding("ok", "audit log sealed up to the last interval")


def check_audit() -> list[Finding]:
    """Every audit check, for :func:`rightscare.core.checks.run_checks`."""
    return [check_audit_key(), check_anchor_sink(), check_sealing()]
