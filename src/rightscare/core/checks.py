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


def run_checks() -> list[Finding]:
    """Every configuration check, in the order an operator fixes them."""
    return [check_secret_key(), *check_database()]
