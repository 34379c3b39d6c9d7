"""One record per submission, however often it is sent.

A form carries a random key rendered with it; an API client sends an
``Idempotency-Key`` header. The key is claimed in the same transaction as the
record it creates, so a double click or a retry after a lost response finds the
claim and answers with the first result instead of creating a second record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections, router, transaction
from django.utils import timezone

from rightscare.core.models import IdempotencyRecord

T = TypeVar("T")

MAX_KEY_LENGTH = 100


def new_key() -> str:
    """A fresh key for a form about to be rendered."""
    return uuid.uuid4().hex


def run_once(*, user_id: int, scope: str, key: str, create: Callable[[], str]) -> tuple[str, bool]:
    """Run ``create`` once per (user, scope, key) and return its result and whether it ran now.

    ``create`` performs the write and returns a short result (an id or a URL) to
    replay to later submissions with the same key. When ``key`` is empty the
    submission cannot be recognised again and ``create`` simply runs.

    The key is claimed first, in ``create``'s transaction, by an insert that does nothing
    when the key is taken (no error, so no savepoint is needed): the first submission
    inserts it, runs ``create`` and writes the result into the claim; a retry finds the
    key taken and reads the first result; a concurrent duplicate's insert waits on the
    unique index until the first submission's transaction ends (then finds the key taken,
    or claims it when the first one rolled back). A process dying mid-call takes its
    uncommitted claim with it.
    """
    key = key.strip()[:MAX_KEY_LENGTH]
    if not key:
        return create(), True
    with transaction.atomic():
        if _claim(user_id=user_id, scope=scope, key=key):
            result = create()
            IdempotencyRecord.objects.filter(user_id=user_id, scope=scope, key=key).update(result=result)
            return result, True
        # Claimed by an earlier (committed) submission: answer with its result.
        existing = IdempotencyRecord.objects.filter(user_id=user_id, scope=scope, key=key).values_list("result", flat=True).first()
    if existing is None:
        # The claim was there and is gone (purged in between): never run twice on a guess.
        raise RuntimeError(f"the submission key {scope}:{key} vanished while it was claimed")
    return existing, False


def _claim(*, user_id: int, scope: str, key: str) -> bool:
    """Insert the claim of (user, scope, key) unless it exists; whether this call inserted it.

    One statement, ``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): a taken key
    is not an error that would abort the transaction.
    """
    connection = connections[router.db_for_write(IdempotencyRecord)]
    quote = connection.ops.quote_name
    table, columns, unique = quote(IdempotencyRecord._meta.db_table), ("user_id", "scope", "key", "result", "created_at"), ("user_id", "scope", "key")
    params: list[Any] = [user_id, scope, key, "", connection.ops.adapt_datetimefield_value(timezone.now())]
    names, placeholders = ", ".join(map(quote, columns)), ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders}) ON CONFLICT ({', '.join(map(quote, unique))}) DO NOTHING"  # noqa: S608 - quoted identifiers
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1
