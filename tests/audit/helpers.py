"""Helpers for the audit tests: anchors as written, entries, raw SQL as an attacker would run it."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from django.db import connection

from rightscare.audit.models import AuditEntry
from rightscare.audit.services import record


def anchors(path: Path) -> list[dict[str, Any]]:
    """The anchor lines of the file, parsed."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def expected_mac(key: bytes, chain_no: int, entry_hash: str) -> str:
    return hmac.new(key, f"{chain_no}:{entry_hash}".encode(), hashlib.sha256).hexdigest()


def write(n: int, *, event: str = "test.write") -> list[AuditEntry]:
    """``n`` entries written by nobody in particular."""
    return [record(actor=None, action="other", event=event, object_type="test.thing", object_id=i, object_label=f"thing {i}") for i in range(n)]


def execute(sql: str, params: list[Any] | None = None) -> None:
    """Raw SQL, as someone with access to the database (not the application) would run it."""
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{table}", connection.ops.quote_name(table)), params or [])


def chain() -> list[tuple[int, int | None]]:
    """(id, chain number) of every entry, by id."""
    return list(AuditEntry.objects.order_by("id").values_list("id", "chain_no"))
