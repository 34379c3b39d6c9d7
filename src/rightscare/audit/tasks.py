"""Background jobs of the audit log: triggered by the worker's scheduler, safe to run twice."""

from __future__ import annotations

from django_tasks import task

from rightscare.audit.services import seal


@task()
def seal_audit_log() -> int:
    """Seal the entries written since the last seal and anchor the chain head; return how many were sealed.

    Run periodically (``settings.AUDIT_SEAL_INTERVAL_SECONDS``, 60 s by default).
    Idempotent: with nothing new it seals nothing; sealers on several workers take turns.
    """
    return seal()
