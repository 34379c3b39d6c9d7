"""Configuration checks shared by ``rightscare check`` and the administrators' pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class Finding:
    level: str  # "ok", "warning" or "error"
    message: str


UTF8_SUFFIXES = (".utf8", ".utf-8")


def check_secret_key() -> Finding:
    if not settings.SECRET_KEY_CONFIGURED:
        return Finding("error", "RIGHTSCARE_SECRET_KEY (or RIGHTSCARE_SECRET_KEY_FILE) is not set: sessions and API tokens would not survive a restart.")
    if len(settings.SECRET_KEY) < 40:
        return Finding("error", "RIGHTSCARE_SECRET_KEY is shorter than 40 characters.")
    return Finding("ok", "secret key set")


def check_database() -> list[Finding]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
            if connection.vendor != "postgresql":
                return [Finding("ok", "database reachable")]
            cursor.execute("SELECT datctype FROM pg_database WHERE datname = current_database()")
            row = cursor.fetchone()
    except Exception as error:
        return [Finding("error", f"database unreachable: {error.__class__.__name__}")]
    ctype = str(row[0]) if row else ""
    if not ctype.lower().endswith(UTF8_SUFFIXES):
        return [
            Finding("ok", "database reachable"),
            Finding(
                "error", f"the database's LC_CTYPE is {ctype!r}, not a UTF-8 locale: Chinese text search cannot be indexed; recreate it with LC_CTYPE 'C.UTF-8'"
            ),
        ]
    return [Finding("ok", "database reachable"), Finding("ok", f"database LC_CTYPE {ctype}")]


def check_worker() -> list[Finding]:
    """Is a ``rightscare worker`` alive (a heartbeat within ``RIGHTSCARE_WORKER_STALE_SECONDS``)?

    With the ``immediate`` backend tasks run inline and no worker runs the periodic
    jobs: a warning, not an error (that backend is for tests).
    """
    from rightscare.core import scheduler, workers

    findings: list[Finding] = []
    try:
        scheduler.configured_intervals()
    except ValueError as error:
        findings.append(Finding("error", str(error)))
    if not workers.needs_worker():
        return [*findings, Finding("warning", "RIGHTSCARE_TASKS_BACKEND=immediate: tasks run inline and no worker runs the periodic jobs (tests only)")]
    try:
        health = workers.worker_health()
    except Exception as error:
        return [*findings, Finding("error", f"worker heartbeats unreadable: {error.__class__.__name__} (run `rightscare migrate`?)")]
    stale = int(settings.WORKER_STALE_SECONDS)
    if health.alive:
        return [*findings, Finding("ok", f"{health.alive} worker(s) alive (heartbeat within {stale} s)")]
    return [
        *findings,
        Finding("error", f"no worker heartbeat within {stale} s: start `rightscare worker` (messages, audit sealing and other periodic jobs wait)"),
    ]


def check_field_keys() -> list[Finding]:
    """The field and index keys: configured, well-formed (``key-id:base64`` of 32 bytes) and distinct.

    Missing keys are an error: protected fields can be neither written nor read,
    and lookups by phone or ID number fail. The two rings must not share a key.
    """
    from rightscare.core import crypto

    crypto.reset_keys()
    findings: list[Finding] = []
    rings: dict[str, crypto.KeyRing] = {}
    for name, load, rotate in (
        ("RIGHTSCARE_FIELD_KEY", crypto.field_keys, "rotate-field-key"),
        ("RIGHTSCARE_INDEX_KEY", crypto.index_keys, "rotate-index-key"),
    ):
        try:
            ring = load()
        except crypto.KeyError_ as error:
            findings.append(Finding("error", f"{error}: generate one with `rightscare generate-keys` (see docs/operations.md, 'Keys')"))
            continue
        except OSError as error:
            findings.append(Finding("error", f"{name}_FILE cannot be read: {error.strerror}"))
            continue
        rings[name] = ring
        older = len(ring.keys) - 1
        rest = f"; {older} older key(s) still accepted until `rightscare {rotate}` has run and they are removed" if older else ""
        findings.append(Finding("ok", f"{name} set, active key {ring.active}{rest}"))
    if len(rings) == 2 and set(rings["RIGHTSCARE_FIELD_KEY"].keys.values()) & set(rings["RIGHTSCARE_INDEX_KEY"].keys.values()):
        findings.append(Finding("error", "RIGHTSCARE_FIELD_KEY and RIGHTSCARE_INDEX_KEY contain the same key: each must be its own random key"))
    return findings


def run_checks() -> list[Finding]:
    """Every configuration check, in the order an operator fixes them."""
    from rightscare.audit.checks import check_audit  # audit sits above core
    from rightscare.notifications.checks import check_notifications  # and notifications
    from rightscare.org.calendars import check_calendars  # so does org

    return [check_secret_key(), *check_field_keys(), *check_database(), *check_worker(), *check_notifications(), *check_audit(), *check_calendars()]
